#!/usr/bin/env bash
# One GPU-box call for the kernels (issues 15, 18, 19), each part under its own time limit, all
# ending by TOTAL_S:
#   1. build;
#   2. softmax attention's lab (gpu-check.sh step "attnlab": the default and ATTNLAB_VARIANTS,
#      each against the CPU, then timed);
#   3. PyTorch SDPA beside Linea's default on the quick cells (step "bench", BENCH_OPS=softmax:
#      needs .device/fla.tar.xz, which the peer script imports first);
#   4. compute-sanitizer (memcheck, racecheck) on SANITIZE_OPS, when set;
#   5. ncu on KPROF_OPS (sections KPROF_SECTIONS, kernels matching KPROF_KERNEL), when set;
#   6. the WebGPU benchmark on NVIDIA's Vulkan driver (step "webgpu") in the time left.
# Carry [".gl", ".device/node.xz", ".device/node_modules-webgpu.tar.xz", ".device/gpu-webgpu-bench.mjs",
# ".device/fla.tar.xz"] (`bash scripts/device-bundles.sh`; .gl as webgpu.sh says). Back in $OUT
# (the device tool returns at most 8 files): summary.txt, every part's summary in order, and
# all.tar.gz, one folder per part with its results.tar.gz and logs.tar.gz.
source "$(dirname "$0")/common.sh" 570
build_part
OUT=$root/attn STEPS=attnlab ATTNLAB_TIMEOUT=${ATTNLAB_TIMEOUT:-90} bash native/tools/gpu-check.sh >/dev/null 2>&1
cat $root/attn/summary.txt
echo "attnlab done ($(left) s left)"
OUT=$root/sdpa STEPS=bench QUICK=1 BENCH_OPS=softmax PEER_OPS=softmax BENCH_VARIANTS=0 BENCH_TIMEOUT=90 PEER_TIMEOUT=120 \
  bash native/tools/gpu-check.sh >/dev/null 2>&1
cat $root/sdpa/summary.txt
echo "sdpa done ($(left) s left)"
if [ -n "${SANITIZE_OPS:-}" ]; then
  OUT=$root/sanitize STEPS=sanitize SANITIZE_TIMEOUT=${SANITIZE_TIMEOUT:-90} RACECHECK_TIMEOUT=${RACECHECK_TIMEOUT:-90} \
    bash native/tools/gpu-check.sh >/dev/null 2>&1
  cat $root/sanitize/summary.txt
  echo "sanitize done ($(left) s left)"
fi
if [ -n "${KPROF_OPS:-}" ]; then
  # KPROF_ATTN_BWD: the attention backward variant ncu sees (e.g. fused).
  env ${KPROF_ATTN_BWD:+LINEA_ATTN_BWD=$KPROF_ATTN_BWD} OUT=$root/kprof STEPS=kprof KPROF_TIMEOUT=${KPROF_TIMEOUT:-60} \
    bash native/tools/gpu-check.sh >/dev/null 2>&1
  cat $root/kprof/summary.txt
  echo "kprof done ($(left) s left)"
fi
budget=$(($(left) - 25))
if [ "$budget" -gt 60 ]; then
  OUT=$root/webgpu STEPS=webgpu WEBGPU_BENCH_TIMEOUT=$budget bash native/tools/gpu-check.sh >/dev/null 2>&1
  cat $root/webgpu/summary.txt
fi
pack_parts build attn sdpa sanitize kprof webgpu
