#!/usr/bin/env bash
# One GPU-box call for issue 19's checks on NVIDIA's Vulkan driver, then a kernel profile, all ending
# by TOTAL_S:
#   1. build;
#   2. step "webgpu": the WebGPU vitest suites CI runs on lavapipe, then the benchmark's kernel
#      breakdown (WEBGPU_BENCH_KERNELS) and training rows of WEBGPU_BENCH_MODELS with
#      WEBGPU_BENCH_PAIRS rounds of webgpu then cuda bf16 back to back (the ratio's median);
#      WEBGPU_BENCH_OPS=1 adds the mixer grid on WEBGPU_BENCH_CELLS, WEBGPU_BENCH_PROFILE=1 the per-op profile;
#   3. ncu on KPROF_OPS (kernels matching KPROF_KERNEL, metrics KPROF_METRICS) in the time left.
# Carry [".gl", ".device/node.xz", ".device/node_modules-test.tar.xz", ".device/gpu-webgpu-bench.mjs"]
# (`bash scripts/device-bundles.sh --test-modules`; .gl as gpu-check.sh's step "webgpu" says). Back in
# $OUT: summary.txt and all.tar.gz, one folder per part.
source "$(dirname "$0")/common.sh" 570
build_part
export WEBGPU_BENCH_OPS=${WEBGPU_BENCH_OPS:-0} WEBGPU_BENCH_PROFILE=${WEBGPU_BENCH_PROFILE:-0} WEBGPU_BENCH_MATMUL128=0 WEBGPU_BENCH_SPLIT_K_CONTROL=0 \
  WEBGPU_BENCH_STAGING_CONTROL=0 WEBGPU_BENCH_POOL_CONTROL=0 WEBGPU_BENCH_PLAN_CONTROL=0 \
  WEBGPU_BENCH_BACKENDS=${WEBGPU_BENCH_BACKENDS:-webgpu,cuda} WEBGPU_BENCH_PAIRS=${WEBGPU_BENCH_PAIRS:-3}
budget=$(($(left) - ${KPROF_S:-80} - 30))
OUT=$root/webgpu STEPS=webgpu WEBGPU_TEST_TIMEOUT=${WEBGPU_TEST_TIMEOUT:-150} WEBGPU_BENCH_TIMEOUT=$((budget - ${WEBGPU_TEST_TIMEOUT:-150})) \
  bash native/tools/gpu-check.sh >/dev/null 2>&1
cat $root/webgpu/summary.txt
echo "webgpu done ($(left) s left)"
if [ -n "${KPROF_OPS:-}" ] && [ "$(left)" -gt 40 ]; then
  OUT=$root/kprof STEPS=kprof KPROF_TIMEOUT=$(($(left) - 25)) bash native/tools/gpu-check.sh >/dev/null 2>&1
  cat $root/kprof/summary.txt
fi
pack_parts build webgpu kprof
