#!/usr/bin/env bash
# The probe on the GPU box: carry [".gl", ".device/node.xz", ".device/node_modules-webgpu.tar.xz",
# ".device/sgm-probe.mjs"] (probe.ts says how to bundle it). Writes $OUT/probe.json and probe.log.
set -uo pipefail
cd "$(dirname "$0")/../../.."
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
xz -dc .device/node.xz >/tmp/node && chmod +x /tmp/node
[ -d node_modules/webgpu ] || tar xJf .device/node_modules-webgpu.tar.xz
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
timeout "${PROBE_TIMEOUT:-240}" /tmp/node .device/sgm-probe.mjs "$OUT/probe.json" 2>&1 | grep -v '^Warning: maxDynamic' | tee "$OUT/probe.log"
