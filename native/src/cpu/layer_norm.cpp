// RMSNorm and LayerNorm (no bias) over the last dim, forward and backward, on the CPU.
//
// x, y, dy, dx: (N, D), N = all leading dims   weight, dweight: (D)   rstd: (N)
//
//   rms:   rstd = 1 / sqrt(mean x^2 + eps),                 xhat = x * rstd
//   layer: mu = mean x, rstd = 1 / sqrt(mean (x - mu)^2 + eps), xhat = (x - mu) * rstd
//   y = xhat * weight
//   g = dy * weight
//   dx = rstd * (g - [layer: mean g] - xhat * mean(g * xhat))
//   dweight = sum over rows of dy * xhat
//
// Threads: rows are split into at most kMaxRowChunks chunks of consecutive
// rows; a chunk writes its own rows of y / dx and, in the backward, its own
// partial dweight. The partials are then added in chunk order, so dweight
// does not depend on the thread count. Statistics, row sums and dweight
// accumulate in double; the kind and the presence of weight are template
// switches, not branches in the row loops.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "../ops/op_params.h"
#include "cpu_backend.h"
#include "parallel.h"

namespace linea {
namespace {

// Enough elements per task to amortize the pool's per-task cost, few enough
// to balance the threads.
constexpr int64_t kElementsPerTask = int64_t(1) << 14;
// Bounds the backward's partial dweight buffer to kMaxRowChunks * D doubles
// while leaving several chunks per thread.
constexpr int64_t kMaxRowChunks = 64;

struct RowChunks {
  int64_t rows_per_chunk, count;
};

RowChunks row_chunks(int64_t rows, int64_t D) {
  const int64_t by_work = std::max<int64_t>(1, kElementsPerTask / D);
  const int64_t by_limit = (rows + kMaxRowChunks - 1) / kMaxRowChunks;
  const int64_t per_chunk = std::max(by_work, by_limit);
  return {per_chunk, (rows + per_chunk - 1) / per_chunk};
}

// mu (0 for rms) and rstd of one row, in double.
template <NormKind Kind, class T>
void row_statistics(const T* x, int64_t D, double eps, double& mu, double& rstd) {
  mu = 0;
  if constexpr (Kind == NormKind::layer) {
    for (int64_t i = 0; i < D; ++i) mu += double(x[i]);
    mu /= double(D);
  }
  double sum_sq = 0;
  for (int64_t i = 0; i < D; ++i) {
    const double centered = double(x[i]) - mu;
    sum_sq += centered * centered;
  }
  rstd = 1.0 / std::sqrt(sum_sq / double(D) + eps);
}

// ---- forward -----------------------------------------------------------------

template <class T>
struct NormFwdParams {
  const T* x;       // (N, D)
  const T* weight;  // (D) or nullptr
  T* y;             // (N, D)
  T* rstd;          // (N)
  int64_t N, D;
  NormParams params;  // kind, eps (src/ops/op_params.h)
};

template <class T, NormKind Kind, bool HasWeight>
void norm_fwd_impl(const NormFwdParams<T>& p) {
  const RowChunks chunks = row_chunks(p.N, p.D);
  parallel_for(chunks.count, [&](int64_t chunk) {
    const int64_t first = chunk * chunks.rows_per_chunk;
    const int64_t end = std::min(p.N, first + chunks.rows_per_chunk);
    for (int64_t r = first; r < end; ++r) {
      const T* x = p.x + r * p.D;
      T* y = p.y + r * p.D;
      double mu, rstd;
      row_statistics<Kind>(x, p.D, p.params.eps, mu, rstd);
      for (int64_t i = 0; i < p.D; ++i) {
        const double xhat = (double(x[i]) - mu) * rstd;
        if constexpr (HasWeight) y[i] = static_cast<T>(xhat * double(p.weight[i]));
        else y[i] = static_cast<T>(xhat);
      }
      p.rstd[r] = static_cast<T>(rstd);
    }
  });
}

template <class T>
void norm_fwd(OpCall& call) {
  NormFwdParams<T> p{};
  p.x = call.input("x")->data<T>();
  p.weight = call.input("weight") ? call.input("weight")->data<T>() : nullptr;
  p.y = call.output("y")->data<T>();
  p.rstd = call.output("rstd")->data<T>();
  p.D = call.dims.at("D");
  p.N = call.input("x")->numel() / p.D;
  p.params = norm_params(call);
  const NormKind kind = p.params.kind;
  const bool has_weight = p.weight != nullptr;
  if (kind == NormKind::rms)
    return has_weight ? norm_fwd_impl<T, NormKind::rms, true>(p) : norm_fwd_impl<T, NormKind::rms, false>(p);
  return has_weight ? norm_fwd_impl<T, NormKind::layer, true>(p) : norm_fwd_impl<T, NormKind::layer, false>(p);
}

// ---- backward ----------------------------------------------------------------

template <class T>
struct NormBwdParams {
  const T* x;       // (N, D)
  const T* weight;  // (D) or nullptr
  const T* rstd;    // (N), the forward's
  const T* dy;      // (N, D)
  T* dx;            // (N, D)
  T* dweight;       // (D), non-null exactly when weight is
  int64_t N, D;
};

// One row's dx; adds dy * xhat to `dweight_partial` (D doubles) when HasWeight.
template <class T, NormKind Kind, bool HasWeight>
void norm_bwd_row(const NormBwdParams<T>& p, int64_t r, double* dweight_partial) {
  const T* x = p.x + r * p.D;
  const T* dy = p.dy + r * p.D;
  T* dx = p.dx + r * p.D;
  const double rstd = double(p.rstd[r]);
  double mu = 0;
  if constexpr (Kind == NormKind::layer) {
    for (int64_t i = 0; i < p.D; ++i) mu += double(x[i]);
    mu /= double(p.D);
  }
  auto grad_y = [&](int64_t i) {  // g_i = dy_i * weight_i
    if constexpr (HasWeight) return double(dy[i]) * double(p.weight[i]);
    else return double(dy[i]);
  };
  double sum_g = 0, sum_g_xhat = 0;
  for (int64_t i = 0; i < p.D; ++i) {
    const double g = grad_y(i);
    const double xhat = (double(x[i]) - mu) * rstd;
    sum_g += g;
    sum_g_xhat += g * xhat;
    if constexpr (HasWeight) dweight_partial[i] += double(dy[i]) * xhat;
  }
  const double mean_g = Kind == NormKind::layer ? sum_g / double(p.D) : 0.0;
  const double mean_g_xhat = sum_g_xhat / double(p.D);
  for (int64_t i = 0; i < p.D; ++i) {
    const double xhat = (double(x[i]) - mu) * rstd;
    dx[i] = static_cast<T>(rstd * (grad_y(i) - mean_g - xhat * mean_g_xhat));
  }
}

template <class T, NormKind Kind, bool HasWeight>
void norm_bwd_impl(const NormBwdParams<T>& p) {
  const RowChunks chunks = row_chunks(p.N, p.D);
  // (chunks, D): chunk c's sum of dy * xhat over its rows
  std::vector<double> partials(HasWeight ? static_cast<size_t>(chunks.count * p.D) : 0, 0.0);
  parallel_for(chunks.count, [&](int64_t chunk) {
    const int64_t first = chunk * chunks.rows_per_chunk;
    const int64_t end = std::min(p.N, first + chunks.rows_per_chunk);
    double* partial = HasWeight ? partials.data() + chunk * p.D : nullptr;
    for (int64_t r = first; r < end; ++r) norm_bwd_row<T, Kind, HasWeight>(p, r, partial);
  });
  if constexpr (HasWeight) {
    for (int64_t i = 0; i < p.D; ++i) {
      double sum = 0;
      for (int64_t c = 0; c < chunks.count; ++c) sum += partials[c * p.D + i];
      p.dweight[i] = static_cast<T>(sum);
    }
  }
}

template <class T>
void norm_bwd(OpCall& call) {
  NormBwdParams<T> p{};
  p.x = call.input("x")->data<T>();
  p.weight = call.input("weight") ? call.input("weight")->data<T>() : nullptr;
  p.rstd = call.input("rstd")->data<T>();
  p.dy = call.input("dy")->data<T>();
  p.dx = call.output("dx")->data<T>();
  p.dweight = call.output("dweight") ? call.output("dweight")->data<T>() : nullptr;
  p.D = call.dims.at("D");
  p.N = call.input("x")->numel() / p.D;
  const NormKind kind = norm_params(call).kind;
  const bool has_weight = p.weight != nullptr;
  if (kind == NormKind::rms)
    return has_weight ? norm_bwd_impl<T, NormKind::rms, true>(p) : norm_bwd_impl<T, NormKind::rms, false>(p);
  return has_weight ? norm_bwd_impl<T, NormKind::layer, true>(p) : norm_bwd_impl<T, NormKind::layer, false>(p);
}

}  // namespace

void register_cpu_norm_kernels(Backend& backend) {
  backend.add_kernel("norm_fwd", DType::f32, norm_fwd<float>);
  backend.add_kernel("norm_fwd", DType::f64, norm_fwd<double>);
  backend.add_kernel("norm_bwd", DType::f32, norm_bwd<float>);
  backend.add_kernel("norm_bwd", DType::f64, norm_bwd<double>);
}

}  // namespace linea
