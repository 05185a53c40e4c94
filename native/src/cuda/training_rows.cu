// Row gather and scatter-add (embedding lookup and its gradient) on CUDA: the
// port of the CPU reference (src/cpu/training_rows.cpp).
//
// x, dx: (N, D)   idx: (M) i32 in 0..N-1   y, dy: (M, D)
//
//   gather_rows:      y[m] = x[idx[m]]
//   scatter_add_rows: dx[n] = sum over m with idx[m] = n of dy[m]   (0 when no m names n)
//
// The scatter is turned around into a gather, as on the CPU, without float
// atomics (the result must not depend on scheduling): a stable radix sort of
// the (idx[m], m) pairs (cub::DeviceRadixSort, deterministic) lists, for every
// destination row n, its sources m in increasing m as one run of the sorted
// keys; a binary search per row finds where each run starts, and the blocks
// of row n sum its run in that order, in double. An index outside 0..N-1 is recorded for the backend to
// raise at the next host read (no host read here): gather writes NaN for that
// row, and the scatter sorts it past every real row (key N), so it adds to none.
#include <climits>
#include <cstdint>
#include <cub/device/device_radix_sort.cuh>
#include <string>

#include "cuda_backend.h"
#include "training_common.cuh"

namespace linea {
namespace {

using namespace cuda_training;

// ---- gather ------------------------------------------------------------------

template <class T>
struct GatherRowsArgs {
  const T* x;          // (N, D)
  const int32_t* idx;  // (M)
  T* y;                // (M, D)
  int64_t N, M, D;
  CudaErrorRecord* errors;
  int tag;  // "gather_rows: idx"
};

// Grid-stride over the M rows of y, one block per row at a time; threads over D.
template <class T>
__global__ void gather_rows_kernel(GatherRowsArgs<T> p) {
  for (int64_t m = blockIdx.x; m < p.M; m += gridDim.x) {
    const int32_t row = p.idx[m];
    T* y = p.y + m * p.D;
    if (row < 0 || row >= p.N) {
      if (threadIdx.x == 0) report_index_error(p.errors, p.tag, m, row, 0, p.N - 1);
      for (int64_t d = threadIdx.x; d < p.D; d += blockDim.x) store(y, d, dev_nan<acc_t<T>>());
      continue;
    }
    const T* x = p.x + int64_t(row) * p.D;
    for (int64_t d = threadIdx.x; d < p.D; d += blockDim.x) y[d] = x[d];
  }
}

template <class T>
void gather_rows(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  GatherRowsArgs<T> p{};
  p.x = call.input("x")->data<T>();
  p.idx = call.input("idx")->data<int32_t>();
  p.y = call.output("y")->data<T>();
  p.N = call.dims.at("N");
  p.M = call.dims.at("M");
  p.D = call.dims.at("D");
  p.errors = ctx.errors;
  p.tag = ctx.error_tag(call.op->name + ": idx");
  if (p.M == 0) return;  // with D = 0 the kernel still checks idx, as the CPU does
  gather_rows_kernel<T><<<row_blocks(p.M), row_threads(p.D), 0, ctx.stream>>>(p);
  LINEA_CUDA_CHECK_LAUNCH("gather_rows_kernel");
}

// ---- scatter-add -------------------------------------------------------------

// keys[m] = idx[m] (N where it is out of range, after recording it), sources[m] = m.
__global__ void scatter_keys_kernel(const int32_t* idx, int64_t M, int64_t N, uint32_t* keys, int32_t* sources,
                                    CudaErrorRecord* errors, int tag) {
  for (int64_t m = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; m < M; m += int64_t(gridDim.x) * blockDim.x) {
    const int32_t row = idx[m];
    if (row < 0 || row >= N) {
      report_index_error(errors, tag, m, row, 0, N - 1);
      keys[m] = static_cast<uint32_t>(N);
    } else {
      keys[m] = static_cast<uint32_t>(row);
    }
    sources[m] = static_cast<int32_t>(m);
  }
}

// starts[n] = the first position in keys[0, M) (sorted ascending) whose key
// is >= n, for n in 0..N: row n's sources are sources[starts[n] .. starts[n + 1]).
// One binary search per thread (a search per block of the sum kernel would
// put ~log2(M) dependent loads in front of every row).
__global__ void row_starts_kernel(const uint32_t* keys, int64_t M, int64_t N, int32_t* starts) {
  for (int64_t n = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; n <= N; n += int64_t(gridDim.x) * blockDim.x) {
    int64_t lo = 0, hi = M;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (int64_t(keys[mid]) < n) lo = mid + 1;
      else hi = mid;
    }
    starts[n] = static_cast<int32_t>(lo);
  }
}

template <class T>
struct ScatterSumArgs {
  const int32_t* starts;   // (N + 1) row n's run in sources; nullptr when M = 0 (every run empty)
  const int32_t* sources;  // (M) source rows sorted by destination, increasing within a destination
  const T* dy;             // (M, D)
  T* dx;                   // (N, D)
  int64_t N, M, D;
};

// Grid (rows, column blocks), grid-stride over both. Every thread sums its
// column of row n over the row's run of sources, in increasing m.
template <class T>
__global__ void scatter_sum_kernel(ScatterSumArgs<T> p) {
  for (int64_t n = blockIdx.x; n < p.N; n += gridDim.x) {
    const int64_t first = p.starts ? p.starts[n] : 0;
    const int64_t end = p.starts ? p.starts[n + 1] : 0;
    T* dx = p.dx + n * p.D;
    for (int64_t d = blockIdx.y * int64_t(blockDim.x) + threadIdx.x; d < p.D; d += int64_t(gridDim.y) * blockDim.x) {
      double acc = 0;
      int64_t k = first;
      // Eight loads in flight before their adds (a hot row's run can be long);
      // the adds stay in increasing k, so the sum is that of the plain loop.
      for (; k + 8 <= end; k += 8) {
        acc_t<T> v[8];
#pragma unroll
        for (int j = 0; j < 8; ++j) v[j] = load(p.dy, int64_t(p.sources[k + j]) * p.D + d);
#pragma unroll
        for (int j = 0; j < 8; ++j) acc += double(v[j]);
      }
      for (; k < end; ++k) acc += double(load(p.dy, int64_t(p.sources[k]) * p.D + d));
      store(dx, d, acc);
    }
  }
}

// Bits that hold every key 0..N (N itself is the bad-index key).
int key_bits(int64_t N) {
  int bits = 1;
  while (bits < 32 && (int64_t(1) << bits) <= N) ++bits;
  return bits;
}

template <class T>
void scatter_add_rows(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const int32_t* idx = call.input("idx")->data<int32_t>();
  ScatterSumArgs<T> p{};
  p.dy = call.input("dy")->data<T>();
  p.dx = call.output("dx")->data<T>();
  p.N = call.dims.at("N");
  p.M = call.dims.at("M");
  p.D = call.dims.at("D");
  // Sources are i32 and keys u32 (N as the bad-index key): beyond any real embedding table.
  if (p.M > INT32_MAX || p.N >= int64_t(UINT32_MAX))
    throw OpError(call.op->name + ": M = " + std::to_string(p.M) + ", N = " + std::to_string(p.N) +
                  " is too large for the CUDA kernel (M < 2^31, N < 2^32 - 1)");
  // Stream-ordered scratch: safe to drop once the kernels that use it are enqueued.
  Tensor keys_in, keys_out, sources_in, sources_out, sort_space, starts;
  if (p.M > 0) {
    const int M = static_cast<int>(p.M);
    keys_in = ctx.scratch(Shape{p.M}, DType::i32);
    keys_out = ctx.scratch(Shape{p.M}, DType::i32);
    sources_in = ctx.scratch(Shape{p.M}, DType::i32);
    sources_out = ctx.scratch(Shape{p.M}, DType::i32);
    scatter_keys_kernel<<<grid_for(p.M), 256, 0, ctx.stream>>>(idx, p.M, p.N, keys_in.data<uint32_t>(),
                                                               sources_in.data<int32_t>(), ctx.errors,
                                                               ctx.error_tag(call.op->name + ": idx"));
    LINEA_CUDA_CHECK_LAUNCH("scatter_keys_kernel");
    if (p.N == 0 || p.D == 0) return;  // dx is empty: the check above is all there is to do
    // LSD radix sort: stable, so equal keys keep their sources in increasing m.
    const int bits = key_bits(p.N);
    size_t space_bytes = 0;
    LINEA_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, space_bytes, keys_in.data<uint32_t>(),
                                                     keys_out.data<uint32_t>(), sources_in.data<int32_t>(),
                                                     sources_out.data<int32_t>(), M, 0, bits, ctx.stream));
    sort_space = ctx.scratch(Shape{static_cast<int64_t>(space_bytes / 4 + 1)}, DType::i32);
    LINEA_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(sort_space.data<void>(), space_bytes, keys_in.data<uint32_t>(),
                                                     keys_out.data<uint32_t>(), sources_in.data<int32_t>(),
                                                     sources_out.data<int32_t>(), M, 0, bits, ctx.stream));
    LINEA_CUDA_CHECK_LAUNCH("cub::DeviceRadixSort::SortPairs");
    starts = ctx.scratch(Shape{p.N + 1}, DType::i32);
    row_starts_kernel<<<grid_for(p.N + 1), 256, 0, ctx.stream>>>(keys_out.data<uint32_t>(), p.M, p.N,
                                                                 starts.data<int32_t>());
    LINEA_CUDA_CHECK_LAUNCH("row_starts_kernel");
    p.starts = starts.data<int32_t>();
    p.sources = sources_out.data<int32_t>();
  }
  if (p.N == 0 || p.D == 0) return;
  // With M = 0 every run is empty (starts is nullptr): dx is all zeros.
  const int threads = row_threads(p.D);
  const int64_t column_blocks = (p.D + threads - 1) / threads;
  const dim3 grid(row_blocks(p.N), static_cast<unsigned>(column_blocks > 65535 ? 65535 : column_blocks));
  scatter_sum_kernel<T><<<grid, threads, 0, ctx.stream>>>(p);
  LINEA_CUDA_CHECK_LAUNCH("scatter_sum_kernel");
}

}  // namespace

void register_cuda_training_rows_kernels(Backend& backend) {
  backend.add_kernel("gather_rows", DType::f32, gather_rows<float>);
  backend.add_kernel("gather_rows", DType::f64, gather_rows<double>);
  backend.add_kernel("gather_rows", DType::bf16, gather_rows<bf16>);
  backend.add_kernel("scatter_add_rows", DType::f32, scatter_add_rows<float>);
  backend.add_kernel("scatter_add_rows", DType::f64, scatter_add_rows<double>);
  backend.add_kernel("scatter_add_rows", DType::bf16, scatter_add_rows<bf16>);
}

}  // namespace linea
