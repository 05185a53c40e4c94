#!/usr/bin/env bash
# One GPU-box call for the zero-padded head dims (pad_dims.h): the C++ cross-backend test on the
# mixer and softmax attention ops (the padded paths against the CPU in f64), memcheck on their
# backward at short T, the ops timed alone (scripts/gpu-op-bench.ts) and the small recall models'
# training step (scripts/gpu-train-bench.ts, SMALL_*). Carry [".device/node.xz",
# ".device/gpu-op-bench.mjs", ".device/gpu-train-bench.mjs", ".device/node_modules-webgpu.tar.xz"].
source "$(dirname "$0")/common.sh" 570
build_part
export PATH=/tmp/node:$PATH
b=/tmp/linea-gpu-build
mkdir -p "$root/check"
s=$root/check/summary.txt
LINEA_CROSS_OPS=mixer_fwd,mixer_bwd,softmax_attn_fwd,softmax_attn_bwd timeout 240 "$b/linea_tests" \
  -tc="every backend matches*" >"$root/check/cross.log" 2>&1
echo "cross-backend (mixers, attention): $(grep -E 'test cases' "$root/check/cross.log" | tail -1)" | tee -a "$s"
grep -E "ERROR|FAILED|above the" "$root/check/cross.log" | sort | uniq -c | sort -rn | head -12 | tee -a "$s"
grep -E "^cuda" "$root/check/cross.log" | grep -E "softmax_attn|mixer" | head -20 | tee -a "$s"
LINEA_CROSS_OPS=mixer_bwd,softmax_attn_bwd LINEA_CROSS_MAX_T=80 timeout $(( $(left) > 300 ? 120 : 30 )) \
  compute-sanitizer --tool memcheck --print-limit 5 "$b/linea_tests" -tc="every backend matches*" >"$root/check/memcheck.log" 2>&1
echo "memcheck: $(grep -E 'ERROR SUMMARY|test cases' "$root/check/memcheck.log" | tr '\n' ' ')" | tee -a "$s"
mkdir -p "$root/ops" "$root/small"
OUT=$root/ops timeout 90 node .device/gpu-op-bench.mjs 2>&1 | tee "$root/ops/summary.txt"
export BENCH_BIG=0 SMALL_RUNS=gpu_bf16 SMALL_PROFILE=1 BENCH_WARMUP=5 BENCH_MEASURE=30
OUT=$root/small timeout $(($(left) - 15)) node .device/gpu-train-bench.mjs 2>&1 | grep -E "^small" | tee "$root/small/summary.txt"
pack_parts build check ops small
