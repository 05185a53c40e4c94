// Feature maps on queries and keys (identity, elu+1, relu, silu, l2norm,
// silu+l2norm, taylor2), forward and backward, on CUDA: the port of
// src/cpu/feature_maps.cpp. Also the feature-map family's registration
// (feature maps here, the short convolution in short_conv.cu).
//
// x, dx: (rows, D)   y, dy: (rows, E)   rows = B * T * H, E = D except taylor2: E = 1 + D + D²
//
// Layout of the work: the pointwise kinds and taylor2's forward are
// elementwise grid-stride loops over the output; the l2 norms take one warp
// per row (D is a head dim; the warp strides over it, so any D works), with
// the row sums in acc_t (f32 for f32 / bf16, f64 for f64); taylor2's
// backward takes one thread per (row, a), summing its 2 D terms in acc_t.
// The kind is a template parameter.
#include <cmath>
#include <type_traits>

#include "../ops/op_params.h"
#include "cuda_backend.h"
#include "layer_common.cuh"

namespace linea {
namespace {

using FM = FeatureMapKind;

// Calls fn(std::integral_constant<FeatureMapKind, kind>{}).
template <class Fn>
void with_kind(FM kind, Fn&& fn) {
  switch (kind) {
    case FM::identity: return fn(std::integral_constant<FM, FM::identity>{});
    case FM::elu1: return fn(std::integral_constant<FM, FM::elu1>{});
    case FM::relu: return fn(std::integral_constant<FM, FM::relu>{});
    case FM::silu: return fn(std::integral_constant<FM, FM::silu>{});
    case FM::l2norm: return fn(std::integral_constant<FM, FM::l2norm>{});
    case FM::silu_l2norm: return fn(std::integral_constant<FM, FM::silu_l2norm>{});
    case FM::taylor2: return fn(std::integral_constant<FM, FM::taylor2>{});
  }
}

template <FM Kind>
constexpr bool is_pointwise = Kind == FM::identity || Kind == FM::elu1 || Kind == FM::relu || Kind == FM::silu;
template <FM Kind>
constexpr bool is_l2 = Kind == FM::l2norm || Kind == FM::silu_l2norm;

// The pointwise maps, and the pre-map of the l2 norms (identity or silu).
template <FM Kind, class A>
__device__ __forceinline__ A pointwise_value(A x) {
  if constexpr (Kind == FM::elu1) return x > A(0) ? x + A(1) : exp(x);
  else if constexpr (Kind == FM::relu) return x > A(0) ? x : A(0);
  else if constexpr (Kind == FM::silu || Kind == FM::silu_l2norm) return x * sigmoid_acc(x);
  else return x;  // identity, l2norm
}

template <FM Kind, class A>
__device__ __forceinline__ A pointwise_grad(A x) {
  if constexpr (Kind == FM::elu1) {
    return x > A(0) ? A(1) : exp(x);
  } else if constexpr (Kind == FM::relu) {
    return x > A(0) ? A(1) : A(0);
  } else if constexpr (Kind == FM::silu || Kind == FM::silu_l2norm) {
    const A s = sigmoid_acc(x);
    return s * (A(1) + x * sigmoid_acc(-x));  // 1 - s as sigmoid(-x): no cancellation for large x
  } else {
    return A(1);  // identity, l2norm
  }
}

// Warps per block of the one-warp-per-row kernels.
constexpr int kWarpsPerBlock = kLayerThreads / 32;

// Blocks for one warp per row over `rows` rows (rows > 0), grid-strided.
unsigned row_warps_grid(int64_t rows) { return grid_for(rows, kWarpsPerBlock); }

// ---- forward -----------------------------------------------------------------

template <class T, FM Kind>
__global__ void fm_pointwise_fwd_kernel(const T* x, T* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store(y, i, pointwise_value<Kind>(to_acc(x[i])));
}

// One warp per row: y = u / sqrt(sum u² + eps), u = pre-map(x).
template <class T, FM Kind>
__global__ void fm_l2_fwd_kernel(const T* x_all, T* y_all, int64_t rows, int64_t D, double eps) {
  using A = acc_t<T>;
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * kWarpsPerBlock;
  for (int64_t r = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5); r < rows; r += warps) {
    const T* x = x_all + r * D;
    T* y = y_all + r * D;
    A sum_sq = 0;
    for (int64_t i = lane; i < D; i += 32) {
      const A u = pointwise_value<Kind>(to_acc(x[i]));
      sum_sq += u * u;
    }
    const A inv_norm = A(1) / sqrt(warp_sum(sum_sq) + A(eps));
    for (int64_t i = lane; i < D; i += 32) store(y, i, pointwise_value<Kind>(to_acc(x[i])) * inv_norm);
  }
}

// Elementwise over (rows, E): y[0] = 1, y[1 + i] = x_i * linear, y[1 + D + i D + j] = x_i * quadratic * x_j.
template <class T>
__global__ void fm_taylor2_fwd_kernel(const T* x, T* y, int64_t rows, int64_t D, double linear, double quadratic) {
  using A = acc_t<T>;
  const int64_t E = 1 + D + D * D;
  const int64_t n = rows * E;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = e / E, k = e - r * E;
    const T* xr = x + r * D;
    if (k == 0) {
      store(y, e, A(1));
    } else if (k <= D) {
      store(y, e, to_acc(xr[k - 1]) * A(linear));
    } else {
      const int64_t q = k - 1 - D, i = q / D, j = q - i * D;
      store(y, e, to_acc(xr[i]) * A(quadratic) * to_acc(xr[j]));
    }
  }
}

// taylor2's scales: 1 / D^(1/4) and 1 / sqrt(2 D), in double as on the CPU.
double taylor2_linear(int64_t D) { return 1.0 / std::pow(double(D), 0.25); }
double taylor2_quadratic(int64_t D) { return 1.0 / std::sqrt(2.0 * double(D)); }

template <class T>
void feature_map_fwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const int64_t D = call.dims.at("D");
  const int64_t rows = call.dims.at("B") * call.dims.at("T") * call.dims.at("H");
  const FeatureMapParams p = feature_map_params(call);
  const T* x = call.input("x")->data<T>();
  T* y = call.output("y")->data<T>();
  with_kind(p.kind, [&](auto kind) {
    constexpr FM Kind = decltype(kind)::value;
    if constexpr (is_pointwise<Kind>) {
      if (rows * D == 0) return;
      fm_pointwise_fwd_kernel<T, Kind><<<layer_grid(rows * D), kLayerThreads, 0, ctx.stream>>>(x, y, rows * D);
      LINEA_CUDA_CHECK_LAUNCH("fm_pointwise_fwd_kernel");
    } else if constexpr (is_l2<Kind>) {
      if (rows * D == 0) return;
      fm_l2_fwd_kernel<T, Kind><<<row_warps_grid(rows), kLayerThreads, 0, ctx.stream>>>(x, y, rows, D, p.eps);
      LINEA_CUDA_CHECK_LAUNCH("fm_l2_fwd_kernel");
    } else {  // taylor2: E >= 1 even for D = 0 (y = [1])
      if (rows == 0) return;
      const int64_t n = rows * (1 + D + D * D);
      fm_taylor2_fwd_kernel<T><<<layer_grid(n), kLayerThreads, 0, ctx.stream>>>(
          x, y, rows, D, D > 0 ? taylor2_linear(D) : 0.0, D > 0 ? taylor2_quadratic(D) : 0.0);
      LINEA_CUDA_CHECK_LAUNCH("fm_taylor2_fwd_kernel");
    }
  });
}

// ---- backward ----------------------------------------------------------------

template <class T, FM Kind>
__global__ void fm_pointwise_bwd_kernel(const T* x, const T* dy, T* dx, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store(dx, i, to_acc(dy[i]) * pointwise_grad<Kind>(to_acc(x[i])));
}

// One warp per row. With r = sqrt(|u|² + eps), y = u / r:
// du = (dy - y (y . dy)) / r, dx = du * pre-map'(x).
template <class T, FM Kind>
__global__ void fm_l2_bwd_kernel(const T* x_all, const T* dy_all, T* dx_all, int64_t rows, int64_t D, double eps) {
  using A = acc_t<T>;
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * kWarpsPerBlock;
  for (int64_t r = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5); r < rows; r += warps) {
    const T* x = x_all + r * D;
    const T* dy = dy_all + r * D;
    T* dx = dx_all + r * D;
    A sum_sq = 0;
    for (int64_t i = lane; i < D; i += 32) {
      const A u = pointwise_value<Kind>(to_acc(x[i]));
      sum_sq += u * u;
    }
    const A inv_norm = A(1) / sqrt(warp_sum(sum_sq) + A(eps));
    A y_dot_dy = 0;
    for (int64_t i = lane; i < D; i += 32) y_dot_dy += pointwise_value<Kind>(to_acc(x[i])) * inv_norm * to_acc(dy[i]);
    y_dot_dy = warp_sum(y_dot_dy);
    for (int64_t i = lane; i < D; i += 32) {
      const A xi = to_acc(x[i]);
      const A du = (to_acc(dy[i]) - pointwise_value<Kind>(xi) * inv_norm * y_dot_dy) * inv_norm;
      store(dx, i, du * pointwise_grad<Kind>(xi));
    }
  }
}

// One thread per (row, a):
// dx_a = dy[1 + a] * linear + quadratic * sum_j (dY[a, j] + dY[j, a]) x_j, dY = dy's (D, D) block.
template <class T>
__global__ void fm_taylor2_bwd_kernel(const T* x, const T* dy, T* dx, int64_t rows, int64_t D, double linear,
                                      double quadratic) {
  using A = acc_t<T>;
  const int64_t E = 1 + D + D * D;
  const int64_t n = rows * D;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = e / D, a = e - r * D;
    const T* xr = x + r * D;
    const T* d_quadratic = dy + r * E + 1 + D;  // (D, D), row-major
    A sum = 0;
    for (int64_t j = 0; j < D; ++j)
      sum += (to_acc(d_quadratic[a * D + j]) + to_acc(d_quadratic[j * D + a])) * to_acc(xr[j]);
    store(dx, e, to_acc(dy[r * E + 1 + a]) * A(linear) + sum * A(quadratic));
  }
}

template <class T>
void feature_map_bwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const int64_t D = call.dims.at("D");
  const int64_t rows = call.dims.at("B") * call.dims.at("T") * call.dims.at("H");
  if (rows * D == 0) return;  // dx is empty
  const FeatureMapParams p = feature_map_params(call);
  const T* x = call.input("x")->data<T>();
  const T* dy = call.input("dy")->data<T>();
  T* dx = call.output("dx")->data<T>();
  with_kind(p.kind, [&](auto kind) {
    constexpr FM Kind = decltype(kind)::value;
    if constexpr (is_pointwise<Kind>) {
      fm_pointwise_bwd_kernel<T, Kind><<<layer_grid(rows * D), kLayerThreads, 0, ctx.stream>>>(x, dy, dx, rows * D);
      LINEA_CUDA_CHECK_LAUNCH("fm_pointwise_bwd_kernel");
    } else if constexpr (is_l2<Kind>) {
      fm_l2_bwd_kernel<T, Kind><<<row_warps_grid(rows), kLayerThreads, 0, ctx.stream>>>(x, dy, dx, rows, D, p.eps);
      LINEA_CUDA_CHECK_LAUNCH("fm_l2_bwd_kernel");
    } else {
      fm_taylor2_bwd_kernel<T><<<layer_grid(rows * D), kLayerThreads, 0, ctx.stream>>>(
          x, dy, dx, rows, D, taylor2_linear(D), taylor2_quadratic(D));
      LINEA_CUDA_CHECK_LAUNCH("fm_taylor2_bwd_kernel");
    }
  });
}

}  // namespace

void register_cuda_feature_map_kernels(Backend& backend) {
  LINEA_REGISTER_ALL_DTYPES(backend, "feature_map_fwd", feature_map_fwd);
  LINEA_REGISTER_ALL_DTYPES(backend, "feature_map_bwd", feature_map_bwd);
  register_cuda_short_conv_kernels(backend);
}

}  // namespace linea
