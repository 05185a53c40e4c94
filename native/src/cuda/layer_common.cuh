// Device helpers shared by the layer kernels (layer_*.cu) and the feature-map
// and short-conv kernels (feature_maps.cu, short_conv.cu), and the per-file
// registration hooks that register_cuda_layer_kernels and
// register_cuda_feature_map_kernels call.
//
// Reductions here are deterministic: a warp butterfly, then the warps'
// partials added by every thread in warp order, so a sum depends only on the
// block size and the data, never on scheduling. No float atomics anywhere.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_check.h"
#include "cuda_context.h"
#include "cuda_types.cuh"
#include "linea/backend.h"

namespace linea {

// Threads per block of the row and elementwise kernels (a multiple of 32).
constexpr int kLayerThreads = 256;

// Any stored value (or an accumulator) as its accumulation type.
__device__ __forceinline__ float to_acc(bf16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_acc(float x) { return x; }
__device__ __forceinline__ double to_acc(double x) { return x; }

// sigmoid from exp of a non-positive argument only, so it never overflows.
__device__ __forceinline__ float sigmoid_acc(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  const float e = expf(x);
  return e / (1.0f + e);
}
__device__ __forceinline__ double sigmoid_acc(double x) {
  if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
  const double e = exp(x);
  return e / (1.0 + e);
}

// Sum over the 32 lanes of a warp; every lane gets the same value (the
// butterfly adds the same pairs on both sides, and + is commutative).
template <class A>
__device__ __forceinline__ A warp_sum(A v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Sum over a 1-D block (blockDim.x a multiple of 32, at most 1024); every
// thread gets the result. Every thread of the block must call it (it syncs).
template <class A>
__device__ A block_sum(A v) {
  __shared__ A warp_partials[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // an earlier call's readers are done with warp_partials
  if (lane == 0) warp_partials[warp] = v;
  __syncthreads();
  A total = 0;
  const int warps = blockDim.x >> 5;
  for (int w = 0; w < warps; ++w) total += warp_partials[w];
  return total;
}

// Blocks for a grid-stride loop over n elements (n > 0), kLayerThreads each.
inline unsigned layer_grid(int64_t n) { return grid_for(n, kLayerThreads); }

// Rows per chunk of a parameter-gradient reduction over `rows` rows: at
// least `min_rows`, and at most 1024 chunks. Depends only on the shape, so
// the chunked sums (and their fixed-order total) are the same on every run
// and every device.
inline int64_t rows_per_chunk(int64_t rows, int64_t min_rows) {
  const int64_t by_limit = (rows + 1023) / 1024;
  return by_limit > min_rows ? by_limit : min_rows;
}

// Registration hooks of the individual files (each in its own .cu).
void register_cuda_embedding_kernels(Backend& backend);      // layer_embedding.cu
void register_cuda_norm_kernels(Backend& backend);           // layer_norm.cu
void register_cuda_swiglu_rotary_kernels(Backend& backend);  // layer_pointwise.cu
void register_cuda_short_conv_kernels(Backend& backend);     // short_conv.cu

// Registers fn<float>, fn<double>, fn<bf16> for `op`.
#define LINEA_REGISTER_ALL_DTYPES(backend, op, fn)    \
  do {                                                \
    (backend).add_kernel(op, DType::f32, fn<float>);  \
    (backend).add_kernel(op, DType::f64, fn<double>); \
    (backend).add_kernel(op, DType::bf16, fn<bf16>);  \
  } while (0)

}  // namespace linea
