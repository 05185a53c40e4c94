#!/usr/bin/env bash
# One GPU-box call: where a WebGPU training step's wall time goes beyond its kernels (issue 19),
# then softmax attention against SDPA over the whole tokens32k grid (issue 18), then the Node
# cross-backend check of every preset's training step in the time left (issue 16), all ending by
# TOTAL_S:
#   1. build;
#   2. WebGPU training rows (WEBGPU_BENCH_MODELS) with the submitted-batch controls
#      (WEBGPU_BENCH_SUBMIT_BATCHES; WEBGPU_TRAIN_S=0 skips them), then runs of the first model on
#      each of CPU_PROFILE_BACKENDS alone under `node --cpu-prof` (the host's JavaScript per
#      function: cpu-<backend>/*.cpuprofile);
#   3. step "bench" with BENCH_OPS=softmax on the full grid, PyTorch SDPA beside it;
#   4. step "node" (every preset's training step on cuda:0 against the CPU).
# Carry [".gl", ".device/node.xz", ".device/node_modules-webgpu.tar.xz", ".device/gpu-webgpu-bench.mjs",
# ".device/fla.tar.xz", ".device/gpu-node-check.mjs"]. Back in $OUT: summary.txt and all.tar.gz.
source "$(dirname "$0")/common.sh" 480
build_part
export WEBGPU_BENCH_KERNELS=0 WEBGPU_BENCH_OPS=0 WEBGPU_BENCH_PROFILE=0 WEBGPU_BENCH_MATMUL128=0 \
  WEBGPU_BENCH_SPLIT_K_CONTROL=0 WEBGPU_BENCH_STAGING_CONTROL=0
# WEBGPU_TRAIN_S=0: the step only unpacks the Vulkan loader and opens the adapter.
train_s=${WEBGPU_TRAIN_S:-150}
[ "$train_s" -gt 0 ] || export WEBGPU_BENCH_TRAIN=0
OUT=$root/webgpu STEPS=webgpu WEBGPU_BENCH_TIMEOUT=$((train_s > 0 ? train_s : 30)) bash native/tools/gpu-check.sh >/dev/null 2>&1
cat $root/webgpu/summary.txt
unset WEBGPU_BENCH_TRAIN
first=${WEBGPU_BENCH_MODELS%%,*}
export PATH=/tmp/node:$PATH  # gpu-check.sh unpacked Node there
for b in ${CPU_PROFILE_BACKENDS:-webgpu cuda}; do
  mkdir -p $root/cpu-$b
  OUT=$root/cpu-$b WEBGPU_BENCH_MODELS=$first WEBGPU_BENCH_BACKENDS=$b WEBGPU_BENCH_SUBMIT_BATCHES= \
    LINEA_ADDON="$PWD/native/build/Release/linea.node" timeout 90 \
    node --cpu-prof --cpu-prof-dir=$root/cpu-$b .device/gpu-webgpu-bench.mjs >$root/cpu-$b/bench.log 2>&1
  echo "cpu profile of $first on $b: exit $? ($(grep '^train' $root/cpu-$b/bench.log))"
done
echo "webgpu done ($(left) s left)"
[ "${SDPA:-1}" = 0 ] || OUT=$root/sdpa STEPS=bench BENCH_OPS=softmax PEER_OPS=softmax BENCH_VARIANTS=0 BENCH_TIMEOUT=120 PEER_TIMEOUT=150 \
  bash native/tools/gpu-check.sh >/dev/null 2>&1
[ -f $root/sdpa/summary.txt ] && cat $root/sdpa/summary.txt
echo "sdpa done ($(left) s left)"
budget=$(($(left) - 20))
if [ "$budget" -gt 60 ] && [ "${NODE_CHECK:-1}" = 1 ]; then
  OUT=$root/node STEPS=node NODE_TIMEOUT=$budget bash native/tools/gpu-check.sh >/dev/null 2>&1
  grep -v "^ " $root/node/summary.txt | head -40
fi
pack_parts build webgpu sdpa node
