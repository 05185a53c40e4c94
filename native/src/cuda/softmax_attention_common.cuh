// Shared pieces of the CUDA softmax attention kernels (softmax_attention.cu):
// the launch environment, the call's shapes, the causal / sliding-window mask,
// per-dtype math and warp reductions, and the delta = rowsum(do * o) pass of
// the backward.
//
// Layouts (as the op table declares them, src/ops/attention_ops.cpp):
//   q, k, dq, dk: (B, T, H, D)   v, o, do, dv: (B, T, H, V)   lse: (B, H, T)
// Row t of head (b, h) of a (B, T, H, X) tensor starts at ((b*T + t)*H + h)*X.
//
// Mask: query t sees keys first_key(t) .. t, first_key(t) = max(0, t - w + 1)
// for window w > 0, else 0 (the CPU reference, src/cpu/softmax_attention.cpp).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>

#include "cuda_check.h"
#include "cuda_context.h"
#include "cuda_types.cuh"

namespace linea {
namespace attn {

// What a launcher needs from the backend; built from cuda_context() by
// softmax_attention.cu (and by hand in a standalone test).
struct AttnEnv {
  cudaStream_t stream = nullptr;
  int sm_count = 1;
  int max_smem = 48 * 1024;  // opt-in dynamic shared memory per block, bytes
  int cc = 80;               // compute capability, 90 for sm_90
  // Device memory of `bytes` bytes, valid for every kernel enqueued by the op
  // (stream-ordered, so it may be released once the kernels are enqueued).
  std::function<void*(size_t bytes)> scratch;
};

// One call's shapes; T is S for the decode.
struct AttnShape {
  int64_t B = 0, T = 0, H = 0, D = 0, V = 0;
  int64_t window = 0;  // 0: full causal; w > 0: the last w positions
  double scale = 0;    // scores are scale * (q . k)
};

__host__ __device__ inline int64_t first_key(int64_t t, int64_t window) {
  return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
}
// The last query (clipped to the sequence) that sees key s.
__host__ __device__ inline int64_t last_query(int64_t s, int64_t window, int64_t T) {
  return window > 0 && s + window - 1 < T - 1 ? s + window - 1 : T - 1;
}
// Whether query t (< T) sees key s.
__device__ __forceinline__ bool visible(int64_t t, int64_t s, int64_t window) {
  return s <= t && (window <= 0 || s > t - window);
}

__host__ __device__ inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Columns per lane (lane + 32 j, j < NC) for D, V <= 256: NC = 1, 2, 4 or 8.
inline int fma_columns(int64_t D, int64_t V) {
  const int64_t n = ceil_div(D > V ? D : V, 32);
  return n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
}

__device__ __forceinline__ float dexp(float x) { return expf(x); }
__device__ __forceinline__ double dexp(double x) { return exp(x); }
__device__ __forceinline__ float dlog(float x) { return logf(x); }
__device__ __forceinline__ double dlog(double x) { return log(x); }

template <class A>
__device__ __forceinline__ A warp_max(A x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x = fmax(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
template <class A>
__device__ __forceinline__ A warp_sum(A x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// Opts a kernel into `bytes` of dynamic shared memory when above the default 48 KB.
template <class Kernel>
void set_smem(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024)
    LINEA_CUDA_CHECK(
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

// delta (B, H, T) in the accumulation type: delta_t = do_t . o_t, one warp per
// (b, t, h) row, 8 rows per 256-thread block.
template <class T>
__global__ void attn_delta_kernel(const T* __restrict__ o, const T* __restrict__ d_o, acc_t<T>* __restrict__ delta,
                                  AttnShape s) {
  const int64_t row = blockIdx.x * int64_t(8) + threadIdx.x / 32;  // (b*T + t)*H + h
  const int lane = threadIdx.x % 32;
  if (row >= s.B * s.T * s.H) return;
  acc_t<T> sum = 0;
  for (int64_t c = lane; c < s.V; c += 32) sum += load(o, row * s.V + c) * load(d_o, row * s.V + c);
  sum = warp_sum(sum);
  if (lane == 0) {
    const int64_t h = row % s.H, bt = row / s.H, t = bt % s.T, b = bt / s.T;
    delta[(b * s.H + h) * s.T + t] = sum;
  }
}

template <class T>
acc_t<T>* launch_attn_delta(const AttnEnv& env, const AttnShape& s, const T* o, const T* d_o) {
  auto* delta = static_cast<acc_t<T>*>(env.scratch(sizeof(acc_t<T>) * size_t(s.B * s.H * s.T)));
  const int64_t rows = s.B * s.T * s.H;
  attn_delta_kernel<T><<<static_cast<unsigned>(ceil_div(rows, 8)), 256, 0, env.stream>>>(o, d_o, delta, s);
  LINEA_CUDA_CHECK_LAUNCH("attn_delta_kernel");
  return delta;
}

}  // namespace attn
}  // namespace linea
