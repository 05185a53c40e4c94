#!/usr/bin/env bash
# One GPU-box call: where a small model's training step goes (the recall templates' models,
# 2 layers, no MLP, bf16 on cuda:0): tokens/s alone on the GPU, the step's device time op by op
# (the profiler's CUDA events) against its wall time, and a CPU profile of the host
# (node --cpu-prof) for one model. Carry [".device/node.xz", ".device/gpu-train-bench.mjs",
# ".device/node_modules-webgpu.tar.xz"]. SMALL_* as in scripts/gpu-train-bench.ts.
source "$(dirname "$0")/common.sh" 560
build_part
export PATH=/tmp/node:$PATH
mkdir -p "$root/small"
export BENCH_BIG=0 SMALL_RUNS=${SMALL_RUNS:-gpu_bf16} SMALL_PROFILE=1 BENCH_WARMUP=5 BENCH_MEASURE=${BENCH_MEASURE:-30}
OUT=$root/small timeout $(($(left) - 90)) node .device/gpu-train-bench.mjs 2>&1 | tee "$root/small/summary.txt"
if [ -n "${CPU_PROF_PRESET:-}" ]; then
  mkdir -p "$root/prof"
  OUT=$root/prof SMALL_PRESETS=$CPU_PROF_PRESET SMALL_D=${CPU_PROF_D:-64} SMALL_PROFILE=0 BENCH_MEASURE=60 \
    timeout $(($(left) - 20)) node --cpu-prof --cpu-prof-dir="$root/prof" .device/gpu-train-bench.mjs 2>&1 | tail -3
fi
pack_parts build small
