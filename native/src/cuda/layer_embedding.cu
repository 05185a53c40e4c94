// Embedding lookup and its backward on CUDA: the port of
// src/cpu/layer_embedding.cpp. Also the layer family's registration.
//
// ids: (N) i32, N = all of ids' dims   table, dtable: (R, D)   y, dy: (N, D)
//
//   y[n, :]      = table[ids[n], :]
//   dtable[r, :] = sum_{n : ids[n] = r} dy[n, :]   (zero rows for ids that never occur)
//
// An id outside 0..R-1 is reported through the device error record (the
// backend throws at the next host read) and its row is skipped: y's row is
// zero, and it adds nothing to dtable. As on the CPU the first bad position
// is named: the kernels keep the smallest bad position (an integer
// atomicMin), and a one-thread kernel reports it.
//
// Backward, deterministic without float atomics: the positions are sorted by
// id with CUB's stable radix sort (so within an id they stay in increasing
// order), each id's range of the sorted list is found by binary search, and
// one block per (id, tile of columns) sums its positions' dy rows: 8 lanes of
// positions (lane l takes positions l, l + 8, ...), then the 8 lane sums in
// lane order. A very frequent id (padding) is spread over 8 lanes and every
// column tile.
#include <climits>
#include <cub/device/device_radix_sort.cuh>
#include <string>

#include "cuda_backend.h"
#include "layer_common.cuh"

namespace linea {
namespace {

// ---- id checks ---------------------------------------------------------------

// The smallest bad position so far, in a (1) scratch starting at kNoBadId.
constexpr unsigned long long kNoBadId = 0x7f7f7f7f7f7f7f7full;  // cudaMemsetAsync with 0x7f

__device__ __forceinline__ void note_bad_id(unsigned long long* first_bad, int64_t n) {
  atomicMin(first_bad, static_cast<unsigned long long>(n));
}

// One thread: reports ids[first_bad], if any position was bad.
__global__ void report_first_bad_id_kernel(const unsigned long long* first_bad, const int32_t* ids, int64_t R,
                                           CudaErrorRecord* errors, int tag) {
  const unsigned long long n = *first_bad;
  if (n != kNoBadId) report_index_error(errors, tag, static_cast<long long>(n), ids[n], 0, R - 1);
}

// A (1) scratch for the smallest bad position, set to kNoBadId on the stream.
Tensor first_bad_scratch(const CudaContext& ctx) {
  Tensor t = ctx.scratch(Shape{1}, DType::f64);  // 8 bytes of u64 storage
  LINEA_CUDA_CHECK(cudaMemsetAsync(t.data<void>(), 0x7f, sizeof(unsigned long long), ctx.stream));
  return t;
}

void report_first_bad_id(const CudaContext& ctx, const Tensor& first_bad, const int32_t* ids, int64_t R,
                         const char* what) {
  report_first_bad_id_kernel<<<1, 1, 0, ctx.stream>>>(first_bad.data<unsigned long long>(), ids, R, ctx.errors,
                                                      ctx.error_tag(what));
  LINEA_CUDA_CHECK_LAUNCH("report_first_bad_id_kernel");
}

// ---- forward -----------------------------------------------------------------

// Grid-stride over the N * max(D, 1) elements of y: with D = 0 the ids are
// still checked (as on the CPU), and nothing is written.
template <class T>
__global__ void embedding_fwd_kernel(const int32_t* ids, const T* table, T* y, int64_t N, int64_t R, int64_t D,
                                     unsigned long long* first_bad) {
  const int64_t width = D > 0 ? D : 1;
  const int64_t total = N * width;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = e / width, c = e - n * width;
    const int32_t id = ids[n];
    if (id < 0 || id >= R) {
      if (c == 0) note_bad_id(first_bad, n);
      if (D > 0) y[e] = T(0.0f);
      continue;
    }
    if (D > 0) y[e] = table[int64_t(id) * D + c];
  }
}

template <class T>
void embedding_fwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const int64_t N = call.input("ids")->numel();
  const int64_t R = call.dims.at("R");
  const int64_t D = call.dims.at("D");
  if (N == 0) return;
  const int32_t* ids = call.input("ids")->data<int32_t>();
  Tensor first_bad = first_bad_scratch(ctx);
  embedding_fwd_kernel<T><<<layer_grid(N * (D > 0 ? D : 1)), kLayerThreads, 0, ctx.stream>>>(
      ids, call.input("table")->data<T>(), call.output("y")->data<T>(), N, R, D, first_bad.data<unsigned long long>());
  LINEA_CUDA_CHECK_LAUNCH("embedding_fwd_kernel");
  report_first_bad_id(ctx, first_bad, ids, R, "embedding_fwd: ids");
}

// ---- backward ----------------------------------------------------------------

// Sort keys and values: key = the id, or R for a bad id (reported, then
// sorted past every valid id and never summed); value = the position.
__global__ void embedding_keys_kernel(const int32_t* ids, uint32_t* keys, int32_t* positions, int64_t N, int64_t R,
                                      unsigned long long* first_bad) {
  for (int64_t n = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; n < N; n += int64_t(gridDim.x) * blockDim.x) {
    const int32_t id = ids[n];
    const bool ok = id >= 0 && id < R;
    if (!ok) note_bad_id(first_bad, n);
    keys[n] = static_cast<uint32_t>(ok ? id : R);
    positions[n] = static_cast<int32_t>(n);
  }
}

// first[r] = the first index i of the sorted keys with keys[i] >= r, r in 0..R.
__global__ void embedding_first_kernel(const uint32_t* sorted_keys, int64_t N, int64_t R, int64_t* first) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r <= R; r += int64_t(gridDim.x) * blockDim.x) {
    int64_t lo = 0, hi = N;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (int64_t(sorted_keys[mid]) < r) lo = mid + 1;
      else hi = mid;
    }
    first[r] = lo;
  }
}

// Columns per block of the backward sum (kEmbCols / 32 per thread) and position lanes.
constexpr int kEmbCols = 128;
constexpr int kEmbLanes = 8;

// Grid (R, ceil(D / kEmbCols)), block (32, kEmbLanes). Block (r, tile) writes
// dtable[r, tile's columns]: lane y sums positions first[r] + y, + 2y, ... of
// the sorted list; then thread y = 0 adds the lanes in order.
template <class T>
__global__ void embedding_bwd_kernel(const int32_t* sorted_positions, const int64_t* first, const T* dy, T* dtable,
                                     int64_t D) {
  using A = acc_t<T>;
  constexpr int kPerThread = kEmbCols / 32;
  __shared__ A lanes[kEmbLanes][kEmbCols];
  const int64_t r = blockIdx.x;
  const int64_t c0 = int64_t(blockIdx.y) * kEmbCols;
  const int64_t begin = first[r], end = first[r + 1];
  A acc[kPerThread];
  for (int k = 0; k < kPerThread; ++k) acc[k] = A(0);
  for (int64_t i = begin + threadIdx.y; i < end; i += kEmbLanes) {
    const T* row = dy + int64_t(sorted_positions[i]) * D;
    for (int k = 0; k < kPerThread; ++k) {
      const int64_t c = c0 + threadIdx.x + 32 * k;
      if (c < D) acc[k] += to_acc(row[c]);
    }
  }
  for (int k = 0; k < kPerThread; ++k) lanes[threadIdx.y][threadIdx.x + 32 * k] = acc[k];
  __syncthreads();
  if (threadIdx.y != 0) return;
  for (int k = 0; k < kPerThread; ++k) {
    const int64_t c = c0 + threadIdx.x + 32 * k;
    if (c >= D) continue;
    A sum = 0;
    for (int l = 0; l < kEmbLanes; ++l) sum += lanes[l][threadIdx.x + 32 * k];
    store(dtable, r * D + c, sum);
  }
}

template <class T>
void embedding_bwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const int64_t N = call.input("ids")->numel();
  const int64_t R = call.dims.at("R");
  const int64_t D = call.dims.at("D");
  if (N > INT32_MAX || R >= INT32_MAX)
    throw OpError("embedding_bwd on CUDA: " + std::to_string(N) + " positions and " + std::to_string(R) +
                  " table rows; at most 2^31 - 1 positions and 2^31 - 2 rows (the sort runs on i32)");
  const int32_t* ids = call.input("ids")->data<int32_t>();
  // (N) keys (u32 in i32 storage) and positions, before and after the sort; (R + 1) range starts.
  Tensor keys = ctx.scratch(Shape{N}, DType::i32), positions = ctx.scratch(Shape{N}, DType::i32);
  Tensor sorted_keys = ctx.scratch(Shape{N}, DType::i32), sorted_positions = ctx.scratch(Shape{N}, DType::i32);
  Tensor first = ctx.scratch(Shape{R + 1}, DType::f64);  // int64 storage: 8 bytes per entry
  int64_t* first_ptr = first.data<int64_t>();
  if (N > 0) {
    Tensor first_bad = first_bad_scratch(ctx);
    embedding_keys_kernel<<<layer_grid(N), kLayerThreads, 0, ctx.stream>>>(
        ids, keys.data<uint32_t>(), positions.data<int32_t>(), N, R, first_bad.data<unsigned long long>());
    LINEA_CUDA_CHECK_LAUNCH("embedding_keys_kernel");
    report_first_bad_id(ctx, first_bad, ids, R, "embedding_bwd: ids");
    // Keys lie in 0..R: sort only the bits that can be set.
    int end_bit = 1;
    while (end_bit < 31 && (int64_t(1) << end_bit) <= R) ++end_bit;
    size_t temp_bytes = 0;
    LINEA_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        nullptr, temp_bytes, keys.data<uint32_t>(), sorted_keys.data<uint32_t>(), positions.data<int32_t>(),
        sorted_positions.data<int32_t>(), static_cast<int>(N), 0, end_bit, ctx.stream));
    Tensor temp = ctx.scratch(Shape{static_cast<int64_t>(temp_bytes / 4 + 1)}, DType::i32);
    LINEA_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
        temp.data<void>(), temp_bytes, keys.data<uint32_t>(), sorted_keys.data<uint32_t>(), positions.data<int32_t>(),
        sorted_positions.data<int32_t>(), static_cast<int>(N), 0, end_bit, ctx.stream));
  }
  embedding_first_kernel<<<layer_grid(R + 1), kLayerThreads, 0, ctx.stream>>>(sorted_keys.data<uint32_t>(), N, R,
                                                                              first_ptr);
  LINEA_CUDA_CHECK_LAUNCH("embedding_first_kernel");
  if (R * D == 0) return;
  const int64_t tiles = (D + kEmbCols - 1) / kEmbCols;
  if (tiles > 65535)
    throw OpError("embedding_bwd on CUDA: D=" + std::to_string(D) + " is above the supported " +
                  std::to_string(int64_t(65535) * kEmbCols) + " columns");
  const dim3 grid(static_cast<unsigned>(R), static_cast<unsigned>(tiles));
  embedding_bwd_kernel<T><<<grid, dim3(32, kEmbLanes), 0, ctx.stream>>>(
      sorted_positions.data<int32_t>(), first_ptr, call.input("dy")->data<T>(), call.output("dtable")->data<T>(), D);
  LINEA_CUDA_CHECK_LAUNCH("embedding_bwd_kernel");
}

}  // namespace

void register_cuda_embedding_kernels(Backend& backend) {
  LINEA_REGISTER_ALL_DTYPES(backend, "embedding_fwd", embedding_fwd);
  LINEA_REGISTER_ALL_DTYPES(backend, "embedding_bwd", embedding_bwd);
}

// The layer family: embedding, norms, SwiGLU and rotary (cuda_backend.h).
void register_cuda_layer_kernels(Backend& backend) {
  register_cuda_embedding_kernels(backend);
  register_cuda_norm_kernels(backend);
  register_cuda_swiglu_rotary_kernels(backend);
}

}  // namespace linea
