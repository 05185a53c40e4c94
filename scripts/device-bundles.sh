#!/usr/bin/env bash
# Bundles what native/tools/gpu-check.sh runs on the GPU box into .device/ (git-ignored):
# the box has Node but none of node_modules, so each script goes as one self-contained file.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .device
# ESM bundles that load the native addon with require: give them one.
banner="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
for s in gpu-node-check gpu-train-check gpu-train-bench gpu-dp-check; do
  npx esbuild "scripts/$s.ts" --bundle --platform=node --format=esm --outfile=".device/$s.mjs" --log-level=warning
done
# Dawn's binding finds dawn.node beside its own index.js: load it from node_modules/webgpu at run time.
npx esbuild scripts/gpu-webgpu-bench.ts --bundle --platform=node --format=esm --external:webgpu --banner:js="$banner" \
  --outfile=.device/gpu-webgpu-bench.mjs --log-level=warning
npx esbuild electron/cli/index.ts --bundle --platform=node --format=esm --minify --external:webgpu --banner:js="$banner" \
  --outfile=.device/linea-cli.mjs --log-level=warning
npx esbuild bench/mqar-recall.bench.ts --bundle --platform=node --format=esm --banner:js="$banner" \
  --outfile=.device/mqar-bench.mjs --log-level=warning
# The training batches' worker thread, found beside the bundles that train (engine/tasks/batch-prefetch.ts).
npx esbuild electron/engine/tasks/batch-worker.ts --bundle --platform=node --format=esm \
  --outfile=.device/batch-worker.mjs --log-level=warning
npx esbuild electron/engine/process.ts --bundle --platform=node --format=esm --minify --external:webgpu --banner:js="$banner" \
  --outfile=.device/engine-process.mjs --log-level=warning
# --test-modules: node_modules for running the vitest suites there (step "webgpu"), without the app's
# packaging and lint tools, lightningcss (the node tests never load it), and with Dawn's binding for
# linux-x64 only: ~23 MB at xz -9e, which leaves room under the device's 64 MiB carry beside node.xz
# (24 MB) and the tracked tree (~15 MB).
if [ "${1:-}" = --test-modules ]; then
  tar cf - --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/linux-arm64' \
    --exclude='node_modules/webgpu/dist/win32-*' --exclude=node_modules/webgpu/build --exclude=node_modules/echarts \
    --exclude=node_modules/zrender --exclude='node_modules/electron*' --exclude=node_modules/app-builder-lib \
    --exclude=node_modules/typescript --exclude=node_modules/playwright-core --exclude=node_modules/prettier \
    --exclude='node_modules/@electron' --exclude='node_modules/eslint*' --exclude='node_modules/@eslint' \
    --exclude='node_modules/@typescript-eslint' --exclude=node_modules/postject --exclude=node_modules/caniuse-lite \
    --exclude=node_modules/dmg-builder --exclude=node_modules/7zip-bin --exclude=node_modules/app-builder-bin \
    --exclude='node_modules/lightningcss*' --exclude='node_modules/.cache' node_modules | xz -T2 -9e >.device/node_modules-test.tar.xz
fi
ls -l .device/*.mjs .device/*.tar.xz
