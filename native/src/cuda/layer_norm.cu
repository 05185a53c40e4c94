// RMSNorm and LayerNorm (no bias) over the last dim, forward and backward, on
// CUDA: the port of src/cpu/layer_norm.cpp.
//
// x, y, dy, dx: (N, D), N = all leading dims   weight, dweight: (D)   rstd: (N)
// rstd is a statistic: f32 in a bf16 call (TensorSig::stats), so it is typed acc_t<T>.
//
//   rms:   rstd = 1 / sqrt(mean x^2 + eps),                 xhat = x * rstd
//   layer: mu = mean x, rstd = 1 / sqrt(mean (x - mu)^2 + eps), xhat = (x - mu) * rstd
//   y = xhat * weight
//   g = dy * weight
//   dx = rstd * (g - [layer: mean g] - xhat * mean(g * xhat))
//   dweight = sum over rows of dy * xhat
//
// Statistics in acc_t (f32 for f32 / bf16, f64 for f64), two passes for the
// variance as on the CPU; every output rounded once. Two forms, the same math:
//
// Warp per row (bf16 and f32 with D % 16 bytes == 0, D up to 4096 bf16 / 2048
// f32 forward and 2048 / 1024 backward, 16-byte aligned tensors): a row lives
// in one warp's registers as 16-byte vectors, read once and written once, its
// sums by warp shuffles. The backward adds each lane's dy * xhat over a block's
// chunk of rows in registers and leaves the block's sum in (chunks, D)
// partials, so x and dy are read once in all. On an H200 at N = 32768,
// D = 1024 bf16 (a loop of calls): forward 37 us against 105 block per row,
// backward (with dweight) 71 us against 224.
//
// Block per row (everything else, f64, and LINEA_NORM_KERNELS=rows): strided
// over D, so any D works. Its backward leaves mu per row in scratch; a second
// kernel sums dy * xhat over chunks of rows into the (chunks, D) partials
// (columns across a warp, 8 row lanes per block added in lane order).
//
// dweight, deterministic without atomics in both forms: the chunks depend only
// on the shape, each chunk's sum has a fixed order, and a last kernel adds the
// chunks in order.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "../ops/op_params.h"
#include "cuda_backend.h"
#include "layer_common.cuh"

namespace linea {
namespace {

// mu (0 for rms) and rstd of one row; every thread of the block gets them.
template <NormKind Kind, class T>
__device__ void row_statistics(const T* x, int64_t D, double eps, acc_t<T>& mu, acc_t<T>& rstd) {
  using A = acc_t<T>;
  mu = 0;
  if constexpr (Kind == NormKind::layer) {
    A sum = 0;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) sum += to_acc(x[i]);
    mu = block_sum(sum) / A(D);
  }
  A sum_sq = 0;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    const A centered = to_acc(x[i]) - mu;
    sum_sq += centered * centered;
  }
  rstd = A(1) / sqrt(block_sum(sum_sq) / A(D) + A(eps));
}

// ---- warp per row: vectors, the path's limits --------------------------------

// Rows (warps) in flight per block of the warp-per-row kernels.
constexpr int kNormWarps = kLayerThreads / 32;
// Vectors per lane at most: the forward keeps a row's x (4 * VPL registers);
// the backward x, dy and the lane's dweight sums (16 * VPL with bf16, 12 * VPL
// with f32), so it stops at half the width (bf16 at VPL 8: 166 registers, no
// spills, one block per SM; wider rows take the block-per-row kernels).
constexpr int kNormFwdMaxVpl = 16;  // D up to 4096 bf16, 2048 f32
constexpr int kNormBwdMaxVpl = 8;   // D up to 2048 bf16, 1024 f32

// 16 bytes of T (8 bf16 or 4 f32) as f32 values and back. bf16 to f32 is
// exact (the bf16 is the top half of the f32's bits: value 2i is the low half
// of word i); f32 to bf16 rounds to nearest even, as store() does.
template <class T>
struct Vec16;
template <>
struct Vec16<float> {
  static constexpr int n = 4;
  static __device__ __forceinline__ void unpack(const uint4& raw, float (&v)[4]) {
    v[0] = __uint_as_float(raw.x);
    v[1] = __uint_as_float(raw.y);
    v[2] = __uint_as_float(raw.z);
    v[3] = __uint_as_float(raw.w);
  }
  static __device__ __forceinline__ uint4 pack(const float (&v)[4]) {
    return make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3]));
  }
};
template <>
struct Vec16<bf16> {
  static constexpr int n = 8;
  static __device__ __forceinline__ void unpack(const uint4& raw, float (&v)[8]) {
    const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      v[2 * i] = __uint_as_float(words[i] << 16);
      v[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
    }
  }
  static __device__ __forceinline__ uint4 pack(const float (&v)[8]) {
    uint32_t words[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
      words[i] = uint32_t(__bfloat16_as_ushort(__float2bfloat16_rn(v[2 * i]))) |
                 (uint32_t(__bfloat16_as_ushort(__float2bfloat16_rn(v[2 * i + 1]))) << 16);
    return make_uint4(words[0], words[1], words[2], words[3]);
  }
};

// LINEA_NORM_KERNELS=rows: every call takes the block-per-row kernels (to
// compare the two forms on the GPU box).
bool norm_rows_forced() {
  static const bool forced = [] {
    const char* set = std::getenv("LINEA_NORM_KERNELS");
    return set && std::strcmp(set, "rows") == 0;
  }();
  return forced;
}

// Vectors per lane of the warp-per-row form for rows of D values of T, or 0
// when the call takes the block-per-row kernels: f64, D = 0, D not a whole
// number of 16-byte vectors, D over max_vpl rounds of the warp's 32 vectors,
// or a tensor (null: absent) not 16-byte aligned.
template <class T>
int warp_row_vpl(int64_t D, int max_vpl, std::initializer_list<const void*> tensors) {
  if constexpr (std::is_same_v<T, double>) {
    return 0;
  } else {
    constexpr int64_t E = Vec16<T>::n;
    if (norm_rows_forced() || D <= 0 || D % E != 0) return 0;
    const int64_t vpl = (D / E + 31) / 32;
    if (vpl > max_vpl) return 0;
    for (const void* p : tensors)
      if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return 0;
    return static_cast<int>(vpl);
  }
}

// f(std::integral_constant<int, vpl>) for vpl in [VPL, MaxVpl]: the kernels'
// register arrays are sized at compile time.
template <int VPL, int MaxVpl, class F>
void with_vpl(int vpl, F&& f) {
  if (vpl == VPL) f(std::integral_constant<int, VPL>{});
  else if constexpr (VPL < MaxVpl) with_vpl<VPL + 1, MaxVpl>(vpl, f);
}

// ---- forward -----------------------------------------------------------------

// Grid: N blocks (one row each).
template <class T, NormKind Kind, bool HasWeight>
__global__ void norm_fwd_kernel(const T* x_all, const T* weight, T* y_all, acc_t<T>* rstd_all, int64_t D, double eps) {
  using A = acc_t<T>;
  const int64_t r = blockIdx.x;
  const T* x = x_all + r * D;
  T* y = y_all + r * D;
  A mu, rstd;
  row_statistics<Kind>(x, D, eps, mu, rstd);
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    const A xhat = (to_acc(x[i]) - mu) * rstd;
    if constexpr (HasWeight) store(y, i, xhat * to_acc(weight[i]));
    else store(y, i, xhat);
  }
  if (threadIdx.x == 0) rstd_all[r] = rstd;
}

template <class T, NormKind Kind, bool HasWeight>
void launch_norm_fwd(OpCall& call, int64_t N, int64_t D, double eps) {
  norm_fwd_kernel<T, Kind, HasWeight><<<static_cast<unsigned>(N), kLayerThreads, 0, cuda_context().stream>>>(
      call.input("x")->data<T>(), HasWeight ? call.input("weight")->data<T>() : nullptr, call.output("y")->data<T>(),
      call.output("rstd")->data<acc_t<T>>(), D, eps);
  LINEA_CUDA_CHECK_LAUNCH("norm_fwd_kernel");
}

// Grid: ceil(N / kNormWarps) blocks of kNormWarps warps, warp w of block b
// taking row b * kNormWarps + w. Lane l owns the row's 16-byte vectors
// l, l + 32, ..., l + 32 * (VPL - 1) (values E * v .. E * v + E - 1 of vector
// v), those below D / E: it reads them once into registers, and the row's mu
// and sum of squares are warp sums over them (two passes over registers, no
// second read), then writes y's same vectors and lane 0 the row's rstd.
template <class T, NormKind Kind, bool HasWeight, int VPL>
__global__ void __launch_bounds__(kLayerThreads)
    norm_fwd_warp_kernel(const T* x_all, const T* weight, T* y_all, float* rstd_all, int64_t N, int64_t D, double eps) {
  using V = Vec16<T>;
  constexpr int E = V::n;
  const int lane = threadIdx.x & 31;
  const int64_t r = int64_t(blockIdx.x) * kNormWarps + (threadIdx.x >> 5);
  if (r >= N) return;                      // the last block's spare warps (nothing here syncs the block)
  const int nv = static_cast<int>(D / E);  // vectors per row
  const uint4* x = reinterpret_cast<const uint4*>(x_all + r * D);
  uint4 xv[VPL];
#pragma unroll
  for (int k = 0; k < VPL; ++k) xv[k] = lane + 32 * k < nv ? x[lane + 32 * k] : make_uint4(0, 0, 0, 0);
  float mu = 0;
  if constexpr (Kind == NormKind::layer) {
    float sum = 0;
#pragma unroll
    for (int k = 0; k < VPL; ++k) {
      if (lane + 32 * k >= nv) continue;
      float e[E];
      V::unpack(xv[k], e);
#pragma unroll
      for (int j = 0; j < E; ++j) sum += e[j];
    }
    mu = warp_sum(sum) / float(D);
  }
  float sum_sq = 0;
#pragma unroll
  for (int k = 0; k < VPL; ++k) {
    if (lane + 32 * k >= nv) continue;
    float e[E];
    V::unpack(xv[k], e);
#pragma unroll
    for (int j = 0; j < E; ++j) {
      const float centered = e[j] - mu;
      sum_sq += centered * centered;
    }
  }
  const float rstd = 1.0f / sqrtf(warp_sum(sum_sq) / float(D) + float(eps));
  uint4* y = reinterpret_cast<uint4*>(y_all + r * D);
  const uint4* w = reinterpret_cast<const uint4*>(weight);
#pragma unroll
  for (int k = 0; k < VPL; ++k) {
    const int v = lane + 32 * k;
    if (v >= nv) continue;
    float e[E];
    V::unpack(xv[k], e);
#pragma unroll
    for (int j = 0; j < E; ++j) e[j] = (e[j] - mu) * rstd;  // xhat
    if constexpr (HasWeight) {
      float wt[E];
      V::unpack(__ldg(w + v), wt);
#pragma unroll
      for (int j = 0; j < E; ++j) e[j] *= wt[j];
    }
    y[v] = V::pack(e);
  }
  if (lane == 0) rstd_all[r] = rstd;
}

template <class T, NormKind Kind, bool HasWeight>
void launch_norm_fwd_warp(OpCall& call, int64_t N, int64_t D, double eps, int vpl) {
  const unsigned blocks = static_cast<unsigned>((N + kNormWarps - 1) / kNormWarps);
  const T* x = call.input("x")->data<T>();
  const T* weight = HasWeight ? call.input("weight")->data<T>() : nullptr;
  T* y = call.output("y")->data<T>();
  float* rstd = call.output("rstd")->data<float>();
  with_vpl<1, kNormFwdMaxVpl>(vpl, [&](auto v) {
    norm_fwd_warp_kernel<T, Kind, HasWeight, decltype(v)::value>
        <<<blocks, kLayerThreads, 0, cuda_context().stream>>>(x, weight, y, rstd, N, D, eps);
  });
  LINEA_CUDA_CHECK_LAUNCH("norm_fwd_warp_kernel");
}

// The warp-per-row form when the call fits it (warp_row_vpl), else one block per row.
template <class T, NormKind Kind, bool HasWeight>
void run_norm_fwd(OpCall& call, int64_t N, int64_t D, double eps) {
  if constexpr (!std::is_same_v<T, double>) {
    const int vpl = warp_row_vpl<T>(D, kNormFwdMaxVpl,
                                    {call.input("x")->data<T>(), HasWeight ? call.input("weight")->data<T>() : nullptr,
                                     call.output("y")->data<T>()});
    if (vpl > 0) return launch_norm_fwd_warp<T, Kind, HasWeight>(call, N, D, eps, vpl);
  }
  launch_norm_fwd<T, Kind, HasWeight>(call, N, D, eps);
}

// Rows are blocks of the grid: at most 2^31 - 1 of them.
void check_rows(const char* op, int64_t N) {
  if (N > 2147483647)
    throw OpError(std::string(op) + " on CUDA: " + std::to_string(N) + " rows; at most 2^31 - 1 (one block per row)");
}

template <class T>
void norm_fwd(OpCall& call) {
  const int64_t D = call.dims.at("D");
  const int64_t N = call.output("rstd")->numel();  // rows; with D = 0 each gets rstd = NaN, as on the CPU
  const NormParams p = norm_params(call);
  check_rows("norm_fwd", N);
  if (N == 0) return;
  const bool w = call.input("weight") != nullptr;
  if (p.kind == NormKind::rms) {
    if (w) run_norm_fwd<T, NormKind::rms, true>(call, N, D, p.eps);
    else run_norm_fwd<T, NormKind::rms, false>(call, N, D, p.eps);
  } else {
    if (w) run_norm_fwd<T, NormKind::layer, true>(call, N, D, p.eps);
    else run_norm_fwd<T, NormKind::layer, false>(call, N, D, p.eps);
  }
}

// ---- backward ----------------------------------------------------------------

// Grid: N blocks (one row each). Writes dx, and mu per row into `mu_all`
// (acc_t, N) when the layer norm's dweight needs it.
template <class T, NormKind Kind, bool HasWeight>
__global__ void norm_bwd_kernel(const T* x_all, const T* weight, const acc_t<T>* rstd_all, const T* dy_all, T* dx_all,
                                acc_t<T>* mu_all, int64_t D) {
  using A = acc_t<T>;
  const int64_t r = blockIdx.x;
  const T* x = x_all + r * D;
  const T* dy = dy_all + r * D;
  T* dx = dx_all + r * D;
  const A rstd = rstd_all[r];
  A mu = 0;
  if constexpr (Kind == NormKind::layer) {
    A sum = 0;
    for (int64_t i = threadIdx.x; i < D; i += blockDim.x) sum += to_acc(x[i]);
    mu = block_sum(sum) / A(D);
    if (mu_all && threadIdx.x == 0) mu_all[r] = mu;
  }
  A sum_g = 0, sum_g_xhat = 0;
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    const A g = HasWeight ? to_acc(dy[i]) * to_acc(weight[i]) : to_acc(dy[i]);
    sum_g += g;
    sum_g_xhat += g * (to_acc(x[i]) - mu) * rstd;
  }
  const A mean_g = Kind == NormKind::layer ? block_sum(sum_g) / A(D) : A(0);
  const A mean_g_xhat = block_sum(sum_g_xhat) / A(D);
  for (int64_t i = threadIdx.x; i < D; i += blockDim.x) {
    const A g = HasWeight ? to_acc(dy[i]) * to_acc(weight[i]) : to_acc(dy[i]);
    const A xhat = (to_acc(x[i]) - mu) * rstd;
    store(dx, i, rstd * (g - mean_g - xhat * mean_g_xhat));
  }
}

constexpr int kColLanes = 8;  // row lanes per block of the dweight partial sums

// Grid (ceil(D / 32), chunks), block (32, kColLanes): block (tile, chunk)
// writes partials[chunk, tile's 32 columns] = sum over the chunk's rows of
// dy * xhat; lane y takes rows first + y, + 2y, ..., then lanes add in order.
template <class T, NormKind Kind>
__global__ void norm_dweight_partial_kernel(const T* x, const acc_t<T>* rstd, const T* dy, const acc_t<T>* mu,
                                            int64_t N, int64_t D, int64_t rows_per_chunk, acc_t<T>* partials) {
  using A = acc_t<T>;
  __shared__ A lanes[kColLanes][32];
  const int64_t c = int64_t(blockIdx.x) * 32 + threadIdx.x;
  const int64_t first = int64_t(blockIdx.y) * rows_per_chunk;
  const int64_t end = first + rows_per_chunk < N ? first + rows_per_chunk : N;
  A acc = 0;
  if (c < D) {
    for (int64_t r = first + threadIdx.y; r < end; r += kColLanes) {
      const A m = Kind == NormKind::layer ? mu[r] : A(0);
      acc += to_acc(dy[r * D + c]) * ((to_acc(x[r * D + c]) - m) * rstd[r]);
    }
  }
  lanes[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || c >= D) return;
  A sum = 0;
  for (int l = 0; l < kColLanes; ++l) sum += lanes[l][threadIdx.x];
  partials[int64_t(blockIdx.y) * D + c] = sum;
}

// dweight[c] = sum over chunks, in order, of partials[chunk, c].
template <class T>
__global__ void norm_dweight_total_kernel(const acc_t<T>* partials, int64_t chunks, int64_t D, T* dweight) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < D; c += int64_t(gridDim.x) * blockDim.x) {
    acc_t<T> sum = 0;
    // Unrolled so that eight loads are in flight; the adds keep chunk order.
#pragma unroll 8
    for (int64_t k = 0; k < chunks; ++k) sum += partials[k * D + c];
    store(dweight, c, sum);
  }
}

template <class T, NormKind Kind, bool HasWeight>
void launch_norm_bwd(OpCall& call, int64_t N, int64_t D) {
  using A = acc_t<T>;
  const CudaContext& ctx = cuda_context();
  const DType acc_dtype = sizeof(A) == 8 ? DType::f64 : DType::f32;
  const T* x = call.input("x")->data<T>();
  const A* rstd = call.input("rstd")->data<A>();
  const T* dy = call.input("dy")->data<T>();
  Tensor mu;  // (N) acc_t, layer norm with a weight only
  if (HasWeight && Kind == NormKind::layer) mu = ctx.scratch(Shape{N}, acc_dtype);
  A* mu_ptr = mu.defined() ? mu.data<A>() : nullptr;
  if (N > 0) {
    norm_bwd_kernel<T, Kind, HasWeight><<<static_cast<unsigned>(N), kLayerThreads, 0, ctx.stream>>>(
        x, HasWeight ? call.input("weight")->data<T>() : nullptr, rstd, dy, call.output("dx")->data<T>(), mu_ptr, D);
    LINEA_CUDA_CHECK_LAUNCH("norm_bwd_kernel");
  }
  if constexpr (HasWeight) {
    T* dweight = call.output("dweight")->data<T>();
    const int64_t per_chunk = rows_per_chunk(N, 64);
    const int64_t chunks = (N + per_chunk - 1) / per_chunk;  // 0 when N = 0: dweight is all zeros
    Tensor partials = ctx.scratch(Shape{chunks > 0 ? chunks * D : 1}, acc_dtype);
    if (chunks > 0) {
      const dim3 grid(static_cast<unsigned>((D + 31) / 32), static_cast<unsigned>(chunks));
      norm_dweight_partial_kernel<T, Kind>
          <<<grid, dim3(32, kColLanes), 0, ctx.stream>>>(x, rstd, dy, mu_ptr, N, D, per_chunk, partials.data<A>());
      LINEA_CUDA_CHECK_LAUNCH("norm_dweight_partial_kernel");
    }
    norm_dweight_total_kernel<T>
        <<<layer_grid(D), kLayerThreads, 0, ctx.stream>>>(partials.data<A>(), chunks, D, dweight);
    LINEA_CUDA_CHECK_LAUNCH("norm_dweight_total_kernel");
  }
}

// Chunks (blocks) of the warp-per-row backward with a weight, at most: a chunk
// is ceil(N / kNormWarpChunks) rows (the last may be shorter), so the chunks,
// and with them dweight's order of additions, depend on N alone (not on the
// device). 256 is about two blocks per SM of
// an H200 (132 SMs): on it, at N = 32768, D = 1024 bf16, the backward took 71 us
// with 256 chunks, 79 with 128 and 93 with 512; at N = 8192 32 us with 256
// chunks of 32 rows against 39 with 64 of 128.
constexpr int64_t kNormWarpChunks = 256;

// Grid: one block of kNormWarps warps per chunk of rows_per_block rows (the
// last chunk may be short); warp w takes the chunk's rows w, w + kNormWarps,
// ... in turn. Per row, as in the forward, lane l owns vectors l + 32 k (below
// D / E) of x and dy in registers, read once: mu, mean g and mean g * xhat are
// warp sums, then it writes dx's same vectors. With a weight the lane also adds
// dy * xhat of its values over its rows in registers (dw); at the end the
// block's warps add theirs in warp order into shared memory, one warp after
// the other, and the block writes partials[chunk, 0 .. D) (f32), for
// norm_dweight_total_kernel to add in chunk order. Every warp reaches the
// __syncthreads, rows or not (a warp without rows adds zeros).
template <class T, NormKind Kind, bool HasWeight, int VPL>
__global__ void __launch_bounds__(kLayerThreads)
    norm_bwd_warp_kernel(const T* x_all, const T* weight, const float* rstd_all, const T* dy_all, T* dx_all,
                         float* partials, int64_t N, int64_t D, int64_t rows_per_block) {
  using V = Vec16<T>;
  constexpr int E = V::n;
  __shared__ float colsum[HasWeight ? 32 * VPL * E : 1];  // D <= 32 * VPL * E
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int nv = static_cast<int>(D / E);  // vectors per row
  const int64_t first = int64_t(blockIdx.x) * rows_per_block;
  const int64_t end = first + rows_per_block < N ? first + rows_per_block : N;
  const uint4* w = reinterpret_cast<const uint4*>(weight);
  float dw[HasWeight ? VPL : 1][E] = {};  // this lane's sums of dy * xhat, by (k, j)
  for (int64_t r = first + warp; r < end; r += kNormWarps) {
    const uint4* x = reinterpret_cast<const uint4*>(x_all + r * D);
    const uint4* dy = reinterpret_cast<const uint4*>(dy_all + r * D);
    uint4 xv[VPL], dyv[VPL];
#pragma unroll
    for (int k = 0; k < VPL; ++k) {
      const bool in = lane + 32 * k < nv;
      xv[k] = in ? x[lane + 32 * k] : make_uint4(0, 0, 0, 0);
      dyv[k] = in ? dy[lane + 32 * k] : make_uint4(0, 0, 0, 0);
    }
    const float rstd = rstd_all[r];
    float mu = 0;
    if constexpr (Kind == NormKind::layer) {
      float sum = 0;
#pragma unroll
      for (int k = 0; k < VPL; ++k) {
        if (lane + 32 * k >= nv) continue;
        float e[E];
        V::unpack(xv[k], e);
#pragma unroll
        for (int j = 0; j < E; ++j) sum += e[j];
      }
      mu = warp_sum(sum) / float(D);
    }
    float sum_g = 0, sum_g_xhat = 0;
#pragma unroll
    for (int k = 0; k < VPL; ++k) {
      const int v = lane + 32 * k;
      if (v >= nv) continue;
      float e[E], d[E];
      V::unpack(xv[k], e);
      V::unpack(dyv[k], d);
      float wt[E];
      if constexpr (HasWeight) V::unpack(__ldg(w + v), wt);
#pragma unroll
      for (int j = 0; j < E; ++j) {
        const float g = HasWeight ? d[j] * wt[j] : d[j];
        const float xhat = (e[j] - mu) * rstd;
        sum_g += g;
        sum_g_xhat += g * xhat;
        if constexpr (HasWeight) dw[k][j] += d[j] * xhat;
      }
    }
    const float mean_g = Kind == NormKind::layer ? warp_sum(sum_g) / float(D) : 0.0f;
    const float mean_g_xhat = warp_sum(sum_g_xhat) / float(D);
    uint4* dx = reinterpret_cast<uint4*>(dx_all + r * D);
#pragma unroll
    for (int k = 0; k < VPL; ++k) {
      const int v = lane + 32 * k;
      if (v >= nv) continue;
      float e[E], d[E];
      V::unpack(xv[k], e);
      V::unpack(dyv[k], d);
      float wt[E];
      if constexpr (HasWeight) V::unpack(__ldg(w + v), wt);
#pragma unroll
      for (int j = 0; j < E; ++j) {
        const float g = HasWeight ? d[j] * wt[j] : d[j];
        const float xhat = (e[j] - mu) * rstd;
        e[j] = rstd * (g - mean_g - xhat * mean_g_xhat);
      }
      dx[v] = V::pack(e);
    }
  }
  if constexpr (HasWeight) {
    // colsum = dw of warp 0, then + warp 1's, ..., + warp kNormWarps - 1's.
    for (int turn = 0; turn < kNormWarps; ++turn) {
      if (warp == turn) {
#pragma unroll
        for (int k = 0; k < VPL; ++k) {
          const int v = lane + 32 * k;
          if (v >= nv) continue;
#pragma unroll
          for (int j = 0; j < E; ++j) colsum[v * E + j] = turn == 0 ? dw[k][j] : colsum[v * E + j] + dw[k][j];
        }
      }
      __syncthreads();
    }
    float* out = partials + int64_t(blockIdx.x) * D;
    for (int c = threadIdx.x; c < D; c += blockDim.x) out[c] = colsum[c];
  }
}

template <class T, NormKind Kind, bool HasWeight>
void launch_norm_bwd_warp(OpCall& call, int64_t N, int64_t D, int vpl) {
  const CudaContext& ctx = cuda_context();
  // Without a weight there is nothing to carry across rows: a warp per row.
  // N > 0, so blocks >= 1; at most kNormWarpChunks with a weight.
  const int64_t per_block = HasWeight ? (N + kNormWarpChunks - 1) / kNormWarpChunks : kNormWarps;
  const int64_t blocks = (N + per_block - 1) / per_block;
  Tensor partials;  // (blocks, D) f32, with a weight only
  if (HasWeight) partials = ctx.scratch(Shape{blocks * D}, DType::f32);
  float* partials_ptr = HasWeight ? partials.data<float>() : nullptr;
  const T* x = call.input("x")->data<T>();
  const T* weight = HasWeight ? call.input("weight")->data<T>() : nullptr;
  const float* rstd = call.input("rstd")->data<float>();
  const T* dy = call.input("dy")->data<T>();
  T* dx = call.output("dx")->data<T>();
  with_vpl<1, kNormBwdMaxVpl>(vpl, [&](auto v) {
    norm_bwd_warp_kernel<T, Kind, HasWeight, decltype(v)::value>
        <<<static_cast<unsigned>(blocks), kLayerThreads, 0, ctx.stream>>>(x, weight, rstd, dy, dx, partials_ptr, N, D,
                                                                          per_block);
  });
  LINEA_CUDA_CHECK_LAUNCH("norm_bwd_warp_kernel");
  if constexpr (HasWeight) {
    norm_dweight_total_kernel<T>
        <<<layer_grid(D), kLayerThreads, 0, ctx.stream>>>(partials_ptr, blocks, D, call.output("dweight")->data<T>());
    LINEA_CUDA_CHECK_LAUNCH("norm_dweight_total_kernel");
  }
}

// The warp-per-row form when the call fits it (warp_row_vpl; rows, so not
// N = 0, where dweight is zeros), else one block per row.
template <class T, NormKind Kind, bool HasWeight>
void run_norm_bwd(OpCall& call, int64_t N, int64_t D) {
  if constexpr (!std::is_same_v<T, double>) {
    if (N > 0) {
      const int vpl =
          warp_row_vpl<T>(D, kNormBwdMaxVpl,
                          {call.input("x")->data<T>(), HasWeight ? call.input("weight")->data<T>() : nullptr,
                           call.input("dy")->data<T>(), call.output("dx")->data<T>()});
      if (vpl > 0) return launch_norm_bwd_warp<T, Kind, HasWeight>(call, N, D, vpl);
    }
  }
  launch_norm_bwd<T, Kind, HasWeight>(call, N, D);
}

template <class T>
void norm_bwd(OpCall& call) {
  const int64_t D = call.dims.at("D");
  const int64_t N = call.input("rstd")->numel();  // rows
  check_rows("norm_bwd", N);
  if (D == 0) return;  // dx and dweight are empty
  const bool w = call.input("weight") != nullptr;
  if (norm_params(call).kind == NormKind::rms) {
    if (w) run_norm_bwd<T, NormKind::rms, true>(call, N, D);
    else run_norm_bwd<T, NormKind::rms, false>(call, N, D);
  } else {
    if (w) run_norm_bwd<T, NormKind::layer, true>(call, N, D);
    else run_norm_bwd<T, NormKind::layer, false>(call, N, D);
  }
}

}  // namespace

void register_cuda_norm_kernels(Backend& backend) {
  LINEA_REGISTER_ALL_DTYPES(backend, "norm_fwd", norm_fwd);
  LINEA_REGISTER_ALL_DTYPES(backend, "norm_bwd", norm_bwd);
}

}  // namespace linea
