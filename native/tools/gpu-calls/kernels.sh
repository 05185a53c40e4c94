#!/usr/bin/env bash
# One GPU-box call for the kernels (issues 15, 18, 19), each part under its own time limit, all
# ending by TOTAL_S:
#   1. build;
#   2. softmax attention's lab (gpu-check.sh step "attnlab": the default and ATTNLAB_VARIANTS,
#      each against the CPU, then timed);
#   3. PyTorch SDPA beside Linea's default on the quick cells (step "bench", BENCH_OPS=softmax:
#      needs .device/fla.tar.xz, which the peer script imports first);
#   4. ncu on KPROF_OPS (sections KPROF_SECTIONS, kernels matching KPROF_KERNEL);
#   5. the WebGPU benchmark on NVIDIA's Vulkan driver (step "webgpu") in the time left.
# Carry [".gl", ".device/node.xz", ".device/node_modules-webgpu.tar.xz", ".device/gpu-webgpu-bench.mjs",
# ".device/fla.tar.xz"] (`bash scripts/device-bundles.sh`; .gl as webgpu.sh says). Back in $OUT:
# one folder per part, each with summary.txt, results.tar.gz and logs.tar.gz.
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
cd "$(dirname "$0")/../../.."
root=${OUT:-/tmp/out}
t0=$(date +%s)
left() { echo $((${TOTAL_S:-570} - ($(date +%s) - t0))); }
OUT=$root/build STEPS=build bash native/tools/gpu-check.sh >/dev/null 2>&1
echo "build: $(cat $root/build/summary.txt | tail -1) ($(left) s left)"
OUT=$root/attn STEPS=attnlab ATTNLAB_TIMEOUT=${ATTNLAB_TIMEOUT:-90} bash native/tools/gpu-check.sh >/dev/null 2>&1
cat $root/attn/summary.txt
echo "attnlab done ($(left) s left)"
OUT=$root/sdpa STEPS=bench QUICK=1 BENCH_OPS=softmax PEER_OPS=softmax BENCH_TIMEOUT=90 PEER_TIMEOUT=120 \
  bash native/tools/gpu-check.sh >/dev/null 2>&1
cat $root/sdpa/summary.txt
echo "sdpa done ($(left) s left)"
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
echo "all done in $(($(date +%s) - t0)) s"
