#!/usr/bin/env bash
# One GPU-box call: the WebGPU benchmark on NVIDIA's Vulkan driver (gpu-check.sh steps "build webgpu"),
# then softmax attention's lab (step "attnlab") in the time left. Run from the repo root with carry
#   [".gl", ".device/node.xz", ".device/node_modules-webgpu.tar.xz", ".device/gpu-webgpu-bench.mjs"]
# (`bash scripts/device-bundles.sh`; node_modules-webgpu.tar.xz: node_modules/webgpu (linux-x64 only),
# node-addon-api and node-api-headers; .gl: the device README's loader packages). Add
# .device/node_modules-test.tar.xz to the carry to run the WebGPU vitest suites too (it fills most
# of the 64 MiB). Back in $OUT: w/ and a/, each summary.txt, results.tar.gz, logs.tar.gz.
# NVIDIA's EGL/GLX vendor file, for the ICD that glvnd loads.
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
export WEBGPU_BENCH_MODELS=${WEBGPU_BENCH_MODELS:-gla,retnet,gated-deltanet,hybrid-gla}
export WEBGPU_BENCH_PROFILE=${WEBGPU_BENCH_PROFILE:-0}
export WEBGPU_BENCH_CELLS=${WEBGPU_BENCH_CELLS:-16x2048}
export WEBGPU_BENCH_TIMEOUT=${WEBGPU_BENCH_TIMEOUT:-300}
cd "$(dirname "$0")/../../.."
root=${OUT:-/tmp/out}
t0=$(date +%s)
OUT=$root/w STEPS="build webgpu" bash native/tools/gpu-check.sh
left=$((${TOTAL_S:-560} - ($(date +%s) - t0)))
echo "attnlab with $left s left"
[ "$left" -gt 120 ] && OUT=$root/a STEPS=attnlab ATTNLAB_TIMEOUT=$(((left - 80) / 2)) bash native/tools/gpu-check.sh
