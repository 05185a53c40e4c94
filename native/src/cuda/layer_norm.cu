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
// One block per row (strided over D, so any D works); statistics in acc_t
// (f32 for f32 / bf16, f64 for f64), two passes for the variance as on the
// CPU. dweight, deterministic without atomics: the backward's row kernel
// leaves mu per row in scratch; a second kernel sums dy * xhat over chunks of
// rows into (chunks, D) partials (columns across a warp, 8 row lanes per
// block added in lane order); a third adds the chunks in order.
#include <string>

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
    if (w) launch_norm_fwd<T, NormKind::rms, true>(call, N, D, p.eps);
    else launch_norm_fwd<T, NormKind::rms, false>(call, N, D, p.eps);
  } else {
    if (w) launch_norm_fwd<T, NormKind::layer, true>(call, N, D, p.eps);
    else launch_norm_fwd<T, NormKind::layer, false>(call, N, D, p.eps);
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

template <class T>
void norm_bwd(OpCall& call) {
  const int64_t D = call.dims.at("D");
  const int64_t N = call.input("rstd")->numel();  // rows
  check_rows("norm_bwd", N);
  if (D == 0) return;  // dx and dweight are empty
  const bool w = call.input("weight") != nullptr;
  if (norm_params(call).kind == NormKind::rms) {
    if (w) launch_norm_bwd<T, NormKind::rms, true>(call, N, D);
    else launch_norm_bwd<T, NormKind::rms, false>(call, N, D);
  } else {
    if (w) launch_norm_bwd<T, NormKind::layer, true>(call, N, D);
    else launch_norm_bwd<T, NormKind::layer, false>(call, N, D);
  }
}

}  // namespace

void register_cuda_norm_kernels(Backend& backend) {
  LINEA_REGISTER_ALL_DTYPES(backend, "norm_fwd", norm_fwd);
  LINEA_REGISTER_ALL_DTYPES(backend, "norm_bwd", norm_bwd);
}

}  // namespace linea
