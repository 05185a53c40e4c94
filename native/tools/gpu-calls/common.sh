# Sourced by the call scripts of this folder (`source "$(dirname "$0")/common.sh" DEFAULT_TOTAL_S`):
# NVIDIA's EGL vendor file (for the Vulkan ICD that glvnd loads), the repo root as the working folder,
# $root (where each part's folder goes: $OUT on the box), $t0, and
#   left          seconds left until TOTAL_S (DEFAULT_TOTAL_S when unset) from the start;
#   build_part    gpu-check.sh's step "build" into $root/build, and a line saying how it went;
#   pack_parts P… summary.txt (each part's summary in the order given) and all.tar.gz of every part's
#                 folder, which it then removes: the device tool brings back at most 8 files.
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
root=${OUT:-/tmp/out}
t0=$(date +%s)
default_total_s=${1:-570}
left() { echo $((${TOTAL_S:-$default_total_s} - ($(date +%s) - t0))); }
build_part() {
  OUT=$root/build STEPS=build bash native/tools/gpu-check.sh >/dev/null 2>&1
  echo "build: $(tail -1 "$root/build/summary.txt") ($(left) s left)"
}
pack_parts() {
  echo "all done in $(($(date +%s) - t0)) s"
  cd "$root" || return 1
  for d in "$@"; do
    [ -f "$d/summary.txt" ] && { echo "== $d"; cat "$d/summary.txt"; }
  done >summary.txt
  tar czf /tmp/all.tar.gz --exclude=summary.txt . && mv /tmp/all.tar.gz . && find . -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
  ls
}
