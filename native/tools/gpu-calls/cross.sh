#!/usr/bin/env bash
# One GPU-box call: the C++ cross-backend test on every op (CUDA f32, f64 and bf16 against the CPU
# in f64; LINEA_CROSS_OPS narrows it), its table, and then the small recall models' training step
# (scripts/gpu-train-bench.ts with SMALL_*, when SMALL_PRESETS is set) and ops alone
# (scripts/gpu-op-bench.ts, when OP_CASES is set). Carry [".device/node.xz",
# ".device/gpu-train-bench.mjs", ".device/gpu-op-bench.mjs", ".device/node_modules-webgpu.tar.xz"].
source "$(dirname "$0")/common.sh" 570
build_part
export PATH=/tmp/node:$PATH
b=/tmp/linea-gpu-build
mkdir -p "$root/check"
s=$root/check/summary.txt
timeout 360 "$b/linea_tests" -tc="every backend matches*" >"$root/check/cross.log" 2>&1
echo "cross-backend: $(grep -E 'test cases' "$root/check/cross.log" | tail -1)" | tee -a "$s"
grep -E "ERROR|FAILED|above the|CAPTURE|:=" "$root/check/cross.log" | head -30 | tee -a "$s"
grep -E "^cuda" "$root/check/cross.log" >>"$s"
grep -E "^cuda" "$root/check/cross.log" | grep bf16 | tee /dev/null | head -60
if [ -n "${OP_CASES:-}" ]; then
  mkdir -p "$root/ops"
  OUT=$root/ops timeout 90 node .device/gpu-op-bench.mjs 2>&1 | tee "$root/ops/summary.txt"
fi
if [ -n "${SMALL_PRESETS:-}" ]; then
  mkdir -p "$root/small"
  export BENCH_BIG=0 SMALL_RUNS=gpu_bf16 BENCH_WARMUP=5 BENCH_MEASURE=30
  OUT=$root/small timeout $(($(left) - 15)) node .device/gpu-train-bench.mjs 2>&1 | grep -E "^small" | tee "$root/small/summary.txt"
fi
pack_parts build check ops small
