#!/usr/bin/env bash
# One GPU-box call: the small recall models' ops timed alone (scripts/gpu-op-bench.ts), then ncu's
# summary of the kernels named in NCU_KERNELS (a regex; e.g. "cross_entropy") for the cases in
# NCU_CASES. Carry [".device/node.xz", ".device/gpu-op-bench.mjs", ".device/node_modules-webgpu.tar.xz"].
source "$(dirname "$0")/common.sh" 560
build_part
export PATH=/tmp/node:$PATH
mkdir -p "$root/ops"
OUT=$root/ops timeout $(($(left) - 60)) node .device/gpu-op-bench.mjs 2>&1 | tee "$root/ops/summary.txt"
if [ -n "${NCU_KERNELS:-}" ]; then
  OP_CASES=$NCU_CASES OP_REPEATS=1 timeout $(($(left) - 20)) ncu --clock-control none -k "regex:$NCU_KERNELS" \
    --launch-skip 3 --launch-count ${NCU_COUNT:-2} --section SpeedOfLight --section Occupancy --section LaunchStats \
    --section MemoryWorkloadAnalysis node .device/gpu-op-bench.mjs >"$root/ops/ncu.txt" 2>&1
  grep -E "cross_entropy|attn|mixer|Duration|Throughput|Registers|Achieved Occupancy|Block Size|Grid Size|Theoretical Occ" "$root/ops/ncu.txt" | head -60
fi
pack_parts build ops
