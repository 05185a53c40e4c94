#!/usr/bin/env bash
# Issue 14's benchmark (the mqar-zoology template, untouched, on the CPU backend) on the GPU box's
# 16 CPU cores: one process per run, all at once, the GPU hidden so the template's backend 'auto'
# picks the CPU as on a workstation without one. Builds a CPU-only addon first (no CUDA, no tests:
# about a minute), then writes each run's JSON into $OUT as bench/mqar-recall.md's loop does;
# merge them with the committed file there.
#   RUNS="transformer:0:2 mamba2:0:2 ..." (preset:seed:engine threads) LIMIT_S=540 bash bench/mqar-recall-box-cpu.sh
# At most 7 or 8 runs of 2 threads per call: 14 single-thread runs at once (2026-12-02) slowed the
# box's cores so much that Gated DeltaNet reached only step 1200 of 1500 in 526 s, where 7 runs of
# 2 threads finished it in 363 s. A run still training at LIMIT_S is killed and writes no JSON.
# Carry [".device/node.xz", ".device/mqar-bench.mjs", ".device/node_modules-webgpu.tar.xz"] (the last
# for the addon's headers; scripts/device-bundles.sh makes all three).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/mqar-cpu-out}"
work=/tmp/mqar-cpu
mkdir -p "$out" "$work"
t0=$(date +%s)
deadline=$((t0 + ${LIMIT_S:-540}))
[ -x /tmp/node/node ] || { mkdir -p /tmp/node && xz -dc .device/node.xz >/tmp/node/node && chmod +x /tmp/node/node; }
export PATH=/tmp/node:$PATH
[ -d node_modules/node-addon-api ] || tar xJf .device/node_modules-webgpu.tar.xz
cmake -S native -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_JS_VERSION=gpu-box-cpu \
  -DCMAKE_JS_INC="$PWD/node_modules/node-api-headers/include" -DLINEA_CUDA=OFF -DLINEA_TESTS=OFF \
  >"$work/configure.log" 2>&1 && cmake --build "$work/build" -j"$(nproc)" --target linea >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log" "$work/configure.log"; exit 1; }
echo "addon built in $(($(date +%s) - t0)) s"
export LINEA_ADDON="$work/build/linea.node" CUDA_VISIBLE_DEVICES=""
for run in ${RUNS:?RUNS=\"preset:seed:threads ...\"}; do
  IFS=: read -r preset seed threads <<<"$run"
  LINEA_NUM_THREADS="$threads" timeout $((deadline - $(date +%s))) node .device/mqar-bench.mjs --presets "$preset" \
    --seed "$seed" --out "$out/$preset-seed$seed.json" >"$work/$preset-seed$seed.log" 2>&1 &
done
wait
for run in $RUNS; do
  IFS=: read -r preset seed _ <<<"$run"
  echo "$preset seed $seed: $(grep -E 'step [0-9]+:' "$work/$preset-seed$seed.log" | tail -1)"
done
(cd "$work" && tar czf "$out/logs.tar.gz" ./*.log)
echo "done in $(($(date +%s) - t0)) s"
