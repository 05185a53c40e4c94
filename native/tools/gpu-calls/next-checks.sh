#!/usr/bin/env bash
# One GPU-box call for what the nineteenth session wrote after its last call: the additive mixer
# zero-padded (LINEA_MIXER_PADDED=1; native/lab/mixer_chunked/README.md v9) through the C++
# cross-backend test and timed alone against the lowered path; then the small recall models'
# training step alone, inline batches (LINEA_BATCH_WORKER=0) then the batch worker (scripts/gpu-train-bench.ts
# finds .device/batch-worker.mjs), in the same call.
# Carry [".device/node.xz", ".device/gpu-op-bench.mjs", ".device/gpu-train-bench.mjs",
# ".device/batch-worker.mjs", ".device/node_modules-webgpu.tar.xz"].
source "$(dirname "$0")/common.sh" 570
build_part
export PATH=/tmp/node:$PATH
b=/tmp/linea-gpu-build
mkdir -p "$root/check" "$root/ops" "$root/small"
s=$root/check/summary.txt
LINEA_MIXER_PADDED=1 LINEA_CROSS_OPS=mixer_fwd,mixer_bwd timeout 180 "$b/linea_tests" -tc="every backend matches*" \
  >"$root/check/cross-padded.log" 2>&1
echo "cross-backend, mixers, LINEA_MIXER_PADDED=1: $(grep -E 'test cases' "$root/check/cross-padded.log" | tail -1)" | tee -a "$s"
grep -E "error [0-9.e-]+ above|:=" "$root/check/cross-padded.log" | head -12 | tee -a "$s"
grep -E "^cuda.*mixer" "$root/check/cross-padded.log" | tee -a "$s"
cases="vector_fwd H2 K32,vector_bwd H2 K32,vector_fwd H2 K64,vector_bwd H2 K64"
OUT=$root/ops OP_CASES=$cases timeout 60 node .device/gpu-op-bench.mjs 2>&1 | sed 's/^/lowered /' | tee "$root/ops/summary.txt"
mv "$root/ops/gpu-op-bench.json" "$root/ops/gpu-op-bench-lowered.json" 2>/dev/null
OUT=$root/ops OP_CASES=$cases LINEA_MIXER_PADDED=1 timeout 60 node .device/gpu-op-bench.mjs 2>&1 | sed 's/^/padded /' | tee -a "$root/ops/summary.txt"
mv "$root/ops/gpu-op-bench.json" "$root/ops/gpu-op-bench-padded.json" 2>/dev/null
export BENCH_BIG=0 SMALL_RUNS=gpu_bf16 BENCH_WARMUP=5 BENCH_MEASURE=30 SMALL_SEQ=512 SMALL_BATCH=128 SMALL_PAIRS=64
export SMALL_PRESETS=${SMALL_PRESETS:-transformer,gla,gated-deltanet,mamba2} SMALL_D=${SMALL_D:-64}
OUT=$root/small LINEA_BATCH_WORKER=0 timeout $((($(left) - 15) / 2)) node .device/gpu-train-bench.mjs 2>&1 | grep -E "^small" |
  sed 's/^/inline batches: /' | tee "$root/small/summary.txt"
mv "$root/small/gpu-train-bench.json" "$root/small/gpu-train-bench-inline.json" 2>/dev/null
OUT=$root/small timeout $(($(left) - 15)) node .device/gpu-train-bench.mjs 2>&1 | grep -E "^small" |
  sed 's/^/batch worker: /' | tee -a "$root/small/summary.txt"
pack_parts build check ops small
