#!/usr/bin/env bash
# Compiles every CUDA source to an object file (no linking: the build
# machines have nvcc but no cuBLAS and no GPU), so CUDA code that does not
# compile fails CI. The thin cuBLASLt wrapper (a file including cublasLt.h)
# compiles only where that header is, and says so where it is not. Warnings are errors, as in the CMake build (linea_warnings
# in native/CMakeLists.txt). Skips with one line where nvcc is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
NVCC="${NVCC:-$(command -v nvcc || true)}"
if [ -z "$NVCC" ]; then
  echo "nvcc not found: CUDA compile check skipped"
  exit 0
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cuda_include="$(dirname "$(dirname "$(readlink -f "$NVCC")")")/include"
export NVCC out cuda_include

# One file: prints "ok", "skipped" or "FAILED" with nvcc's log; fails on FAILED.
compile_one() {
  local f="$1" name
  name="$(basename "$f")"
  if grep -q '<cublasLt.h>' "$f" && ! [ -f "$cuda_include/cublasLt.h" ]; then
    echo "skipped  $f (no cublasLt.h here; it compiles on the GPU box)"
    return 0
  fi
  if grep -q '<nccl.h>' "$f" && ! [ -f "$cuda_include/nccl.h" ]; then
    echo "skipped  $f (no nccl.h here; it compiles on the GPU box)"
    return 0
  fi
  # The oldest and the newest architecture of the build (native/CMakeLists.txt),
  # so code paths behind __CUDA_ARCH__ checks compile on both sides; to PTX
  # only (ptxas, half the time, runs in the GPU box's build). -Xcicc -O0: the
  # device code unoptimized, since only the compiler's verdict matters here;
  # it cuts cicc's time about 3x (mixer_chunked.cu: 36 s to 11 s per
  # architecture). (-G does as much but warns that large kernels' debug
  # information may be inaccurate, which -Werror turns into failures.)
  if "$NVCC" -std=c++17 -O1 -Xcicc -O0 -gencode=arch=compute_80,code=compute_80 -gencode=arch=compute_90a,code=compute_90a -Inative/include \
      -DLINEA_WITH_CUDA -Werror=all-warnings -Xcompiler=-Wall,-Wextra,-Wno-missing-field-initializers,-Werror \
      -c "$f" -o "$out/$name.o" 2>"$out/$name.log"; then
    echo "ok       $f"
  else
    echo "FAILED   $f"; cat "$out/$name.log"; return 1
  fi
}
export -f compile_one

# One nvcc per core: the kernels are many and CI has few cores.
ls native/src/cuda/*.cu native/src/cuda/nccl/*.cu | xargs -P "$(nproc)" -I{} bash -c 'compile_one "$1"' _ {}

# No linking here, so catch what the GPU box's link would refuse: a strong
# symbol defined in two objects (e.g. a non-template kernel in a header that
# two .cu files include).
dups="$(for o in "$out"/*.o; do nm --defined-only -g "$o" | awk -v f="$(basename "$o")" '$2 ~ /^[TDB]$/ {print $3, f}'; done |
  sort | awk '{n[$1]++; f[$1] = f[$1] " " $2} END {for (s in n) if (n[s] > 1) print s ":" f[s]}')"
if [ -n "$dups" ]; then
  echo "FAILED   symbols defined in more than one object (the link would fail):"
  echo "$dups"
  exit 1
fi
echo "ok       no symbol defined twice across the objects"
