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
status=0
cuda_include="$(dirname "$(dirname "$(readlink -f "$NVCC")")")/include"
for f in native/src/cuda/*.cu; do
  if grep -q '<cublasLt.h>' "$f" && ! [ -f "$cuda_include/cublasLt.h" ]; then
    echo "skipped  $f (no cublasLt.h here; it compiles on the GPU box)"
    continue
  fi
  if "$NVCC" -std=c++17 -O1 -gencode=arch=compute_90a,code=sm_90a -Inative/include \
      -DLINEA_WITH_CUDA -Werror=all-warnings -Xcompiler=-Wall,-Wextra,-Wno-missing-field-initializers,-Werror \
      -c "$f" -o "$out/$(basename "$f").o" 2>"$out/log"; then
    echo "ok       $f"
  else
    echo "FAILED   $f"; cat "$out/log"; status=1
  fi
done
exit $status
