// Pieces shared by the CUDA training kernels (training_*.cu): the per-file
// registration functions (called from register_cuda_training_kernels in
// training_loss.cu), device math overloaded on the accumulation type (float or
// double, cuda_types.cuh), NaN constants, and deterministic block reductions.
//
// Block reductions assume blockDim.x is a multiple of 32 and at most 1024:
// warp shuffles, then the warp totals combined by every thread in warp order,
// so the result depends only on the block size (which the host picks from the
// shape alone), never on scheduling. Every helper ends with __syncthreads(), so
// its shared scratch may be reused by the next call at once.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda_check.h"
#include "cuda_context.h"
#include "cuda_types.cuh"
#include "linea/backend.h"

namespace linea {

void register_cuda_training_loss_kernels(Backend& backend);  // training_loss.cu: cross-entropy
void register_cuda_training_rows_kernels(Backend& backend);  // training_rows.cu: gather / scatter-add
void register_cuda_training_elementwise_kernels(
    Backend& backend);                                            // training_elementwise.cu: unary, binary, accumulate
void register_cuda_training_optimizer_kernels(Backend& backend);  // training_optimizer.cu: sum_squares, adamw
void register_cuda_training_cast_kernels(Backend& backend);       // training_cast.cu: cast

namespace cuda_training {

constexpr int kMaxWarps = 32;  // 1024 threads

// Threads for a block that strides over one row of `length` elements: whole
// warps, at least one, at most `most`.
inline int row_threads(int64_t length, int most = 256) {
  const int64_t warps = (length + 31) / 32;
  const int64_t threads = (warps < 1 ? 1 : warps) * 32;
  return static_cast<int>(threads > most ? most : threads);
}

// Elements each thread loads before it uses any (strided_unrolled).
constexpr int kUnroll = 4;

// Blocks of 256 threads for an elementwise strided_unrolled loop over n
// elements: about one group of kUnroll per thread, up to grid_for's cap.
inline unsigned elementwise_blocks(int64_t n) { return grid_for((n + kUnroll - 1) / kUnroll, 256); }

// Blocks for a grid-stride loop over `rows` rows, one block per row up to a cap.
inline unsigned row_blocks(int64_t rows, int64_t cap = int64_t(1) << 20) {
  return static_cast<unsigned>(rows < 1 ? 1 : (rows > cap ? cap : rows));
}

#ifdef __CUDACC__

// ---- math on the accumulation type ------------------------------------------

__device__ __forceinline__ float dev_exp(float x) { return expf(x); }
__device__ __forceinline__ double dev_exp(double x) { return exp(x); }
__device__ __forceinline__ float dev_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double dev_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float dev_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double dev_abs(double x) { return fabs(x); }

template <class A>
__device__ __forceinline__ A dev_nan();
template <>
__device__ __forceinline__ float dev_nan<float>() {
  return __int_as_float(0x7fc00000);
}
template <>
__device__ __forceinline__ double dev_nan<double>() {
  return __longlong_as_double(0x7ff8000000000000LL);
}

template <class A>
__device__ __forceinline__ A dev_inf();
template <>
__device__ __forceinline__ float dev_inf<float>() {
  return __int_as_float(0x7f800000);
}
template <>
__device__ __forceinline__ double dev_inf<double>() {
  return __longlong_as_double(0x7ff0000000000000LL);
}

// ---- loops ---------------------------------------------------------------------

// Visits i = first, first + stride, ... below n in increasing order, kUnroll
// at a time: load_fn(i) for the group, then use_fn(i, loaded) in order. A
// thread thus keeps kUnroll loads in flight where a plain loop (whose store
// may alias the next load) keeps one, and memory latency, not bandwidth,
// bounds a plain loop. Each element's use sees only its own loads, so an
// in-place update (accumulate's dst = src) stays correct.
//   elementwise: first = blockIdx.x * blockDim.x + threadIdx.x, stride = gridDim.x * blockDim.x
//   one row per block: first = threadIdx.x, stride = blockDim.x
template <class Load, class Use>
__device__ __forceinline__ void strided_unrolled(int64_t first, int64_t n, int64_t stride, Load load_fn, Use use_fn) {
  using V = decltype(load_fn(int64_t(0)));
  for (int64_t base = first; base < n; base += stride * kUnroll) {
    V v[kUnroll];
#pragma unroll
    for (int j = 0; j < kUnroll; ++j) {
      const int64_t i = base + j * stride;
      if (i < n) v[j] = load_fn(i);
    }
#pragma unroll
    for (int j = 0; j < kUnroll; ++j) {
      const int64_t i = base + j * stride;
      if (i < n) use_fn(i, v[j]);
    }
  }
}

// strided_unrolled over the elements of a 1-D grid.
template <class Load, class Use>
__device__ __forceinline__ void elementwise(int64_t n, Load load_fn, Use use_fn) {
  strided_unrolled(blockIdx.x * int64_t(blockDim.x) + threadIdx.x, n, int64_t(gridDim.x) * blockDim.x, load_fn, use_fn);
}

// ---- deterministic block reductions -------------------------------------------

// Sum of v over the block; every thread gets the total. shared: kMaxWarps values.
template <class A>
__device__ A block_sum(A v, A* shared) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  A total = shared[0];
  const int warps = blockDim.x >> 5;
  for (int w = 1; w < warps; ++w) total += shared[w];
  __syncthreads();
  return total;
}

// (value, index) with the larger value, the lower index on ties. NaN never
// wins a comparison; callers track NaN separately.
template <class A>
__device__ __forceinline__ bool argmax_better(A v, long long i, A best, long long best_i) {
  return v > best || (v == best && i < best_i);
}

// The block's largest value and its lowest index; every thread gets both.
// shared_v, shared_i: kMaxWarps entries each.
template <class A>
__device__ void block_argmax(A& v, long long& i, A* shared_v, long long* shared_i) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const A other_v = __shfl_down_sync(0xffffffffu, v, offset);
    const long long other_i = __shfl_down_sync(0xffffffffu, i, offset);
    if (argmax_better(other_v, other_i, v, i)) {
      v = other_v;
      i = other_i;
    }
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    shared_v[warp] = v;
    shared_i[warp] = i;
  }
  __syncthreads();
  v = shared_v[0];
  i = shared_i[0];
  const int warps = blockDim.x >> 5;
  for (int w = 1; w < warps; ++w) {
    if (argmax_better(shared_v[w], shared_i[w], v, i)) {
      v = shared_v[w];
      i = shared_i[w];
    }
  }
  __syncthreads();
}

#endif  // __CUDACC__

}  // namespace cuda_training
}  // namespace linea
