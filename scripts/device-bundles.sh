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
npx esbuild electron/cli/index.ts --bundle --platform=node --format=esm --minify --banner:js="$banner" \
  --outfile=.device/linea-cli.mjs --log-level=warning
npx esbuild bench/mqar-recall.bench.ts --bundle --platform=node --format=esm --banner:js="$banner" \
  --outfile=.device/mqar-bench.mjs --log-level=warning
npx esbuild electron/engine/process.ts --bundle --platform=node --format=esm --minify --banner:js="$banner" \
  --outfile=.device/engine-process.mjs --log-level=warning
ls -l .device/*.mjs
