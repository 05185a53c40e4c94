// pad_dims.h: zero-padded copies and back, one thread per destination element.
#include "cuda_check.h"
#include "cuda_context.h"
#include "pad_dims.h"

namespace linea {
namespace {

__global__ void pad_kernel(const bf16* src, int64_t n, int64_t r, int64_t c, int64_t rp, int64_t cp, bf16* dst) {
  const int64_t total = n * rp * cp;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = idx % cp, i = (idx / cp) % rp, m = idx / (cp * rp);
    dst[idx] = i < r && j < c ? src[(m * r + i) * c + j] : __float2bfloat16(0.f);
  }
}

__global__ void unpad_kernel(const bf16* src, int64_t n, int64_t rp, int64_t cp, int64_t r, int64_t c, bf16* dst) {
  const int64_t total = n * r * c;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = idx % c, i = (idx / c) % r, m = idx / (c * r);
    dst[idx] = src[(m * rp + i) * cp + j];
  }
}

}  // namespace

void pad_bf16(const bf16* src, int64_t n, int64_t r, int64_t c, int64_t rp, int64_t cp, bf16* dst,
              cudaStream_t stream) {
  const int64_t total = n * rp * cp;
  if (total == 0) return;
  pad_kernel<<<grid_for(total), 256, 0, stream>>>(src, n, r, c, rp, cp, dst);
  LINEA_CUDA_CHECK_LAUNCH("pad_kernel");
}

void unpad_bf16(const bf16* src, int64_t n, int64_t rp, int64_t cp, int64_t r, int64_t c, bf16* dst,
                cudaStream_t stream) {
  const int64_t total = n * r * c;
  if (total == 0) return;
  unpad_kernel<<<grid_for(total), 256, 0, stream>>>(src, n, rp, cp, r, c, dst);
  LINEA_CUDA_CHECK_LAUNCH("unpad_kernel");
}

}  // namespace linea
