// Feature maps on queries and keys (identity, elu+1, relu, silu, l2norm,
// silu+l2norm, taylor2), forward and backward, on the CPU.
//
// x, dx: (B, T, H, D)   y, dy: (B, T, H, E)   E = D, except taylor2: E = 1 + D + D²
//
// Every (b, t, h) row is independent, so blocks of rows are spread over the
// thread pool and no two tasks write the same element. The kind is a template
// parameter: the inner loops carry no branch on it. Pointwise math runs in the
// tensor's type; sums over a row (norms, dot products) and everything computed
// from them accumulate in double and are rounded once.
#include <algorithm>
#include <cmath>
#include <functional>
#include <type_traits>
#include <vector>

#include "../ops/op_params.h"
#include "cpu_backend.h"
#include "parallel.h"

namespace linea {
namespace {

// Calls fn(std::integral_constant<FeatureMapKind, kind>) so the kind becomes a
// compile-time constant inside fn.
template <class Fn>
void with_kind(FeatureMapKind kind, Fn&& fn) {
  using K = FeatureMapKind;
  switch (kind) {
    case K::identity: return fn(std::integral_constant<K, K::identity>{});
    case K::elu1: return fn(std::integral_constant<K, K::elu1>{});
    case K::relu: return fn(std::integral_constant<K, K::relu>{});
    case K::silu: return fn(std::integral_constant<K, K::silu>{});
    case K::l2norm: return fn(std::integral_constant<K, K::l2norm>{});
    case K::silu_l2norm: return fn(std::integral_constant<K, K::silu_l2norm>{});
    case K::taylor2: return fn(std::integral_constant<K, K::taylor2>{});
  }
}

// Enough elements per task to amortize the pool's per-task cost (an atomic
// increment and a std::function call), few enough to balance the threads.
constexpr int64_t kElementsPerTask = int64_t(1) << 14;

// Calls fn(first_row, end_row) on blocks of rows covering [0, rows).
void parallel_rows(int64_t rows, int64_t elements_per_row, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t rows_per_task = std::max<int64_t>(1, kElementsPerTask / std::max<int64_t>(1, elements_per_row));
  const int64_t tasks = (rows + rows_per_task - 1) / rows_per_task;
  parallel_for(tasks, [&](int64_t task) {
    const int64_t first = task * rows_per_task;
    fn(first, std::min(rows, first + rows_per_task));
  });
}

// ---- pointwise pieces --------------------------------------------------------

// sigmoid without overflow: exp of a non-positive argument only.
template <class T>
T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <class T>
T silu(T x) {
  return x * sigmoid(x);
}

// d silu / dx = s + x s (1 - s), s = sigmoid(x).
template <class T>
T silu_grad(T x) {
  const T s = sigmoid(x);
  return s * (T(1) + x * sigmoid(-x));  // 1 - s as sigmoid(-x): no cancellation for large x
}

template <FeatureMapKind Kind>
constexpr bool is_pointwise = Kind == FeatureMapKind::identity || Kind == FeatureMapKind::elu1 ||
                              Kind == FeatureMapKind::relu || Kind == FeatureMapKind::silu;

// The pointwise maps, and the pre-map of the l2 norms (identity or silu).
template <FeatureMapKind Kind, class T>
T pointwise_value(T x) {
  if constexpr (Kind == FeatureMapKind::elu1) return x > T(0) ? x + T(1) : std::exp(x);
  else if constexpr (Kind == FeatureMapKind::relu) return x > T(0) ? x : T(0);
  else if constexpr (Kind == FeatureMapKind::silu || Kind == FeatureMapKind::silu_l2norm) return silu(x);
  else return x;  // identity, l2norm
}

template <FeatureMapKind Kind, class T>
T pointwise_grad(T x) {
  if constexpr (Kind == FeatureMapKind::elu1) return x > T(0) ? T(1) : std::exp(x);
  else if constexpr (Kind == FeatureMapKind::relu) return x > T(0) ? T(1) : T(0);
  else if constexpr (Kind == FeatureMapKind::silu || Kind == FeatureMapKind::silu_l2norm) return silu_grad(x);
  else return T(1);  // identity, l2norm
}

// taylor2's scales: the linear block is x / D^(1/4), the quadratic block
// x_i x_j / sqrt(2 D), so that phi(q).phi(k) = 1 + q.k / sqrt(D) + (q.k)^2 / (2 D).
struct Taylor2Scales {
  double linear, quadratic;
  explicit Taylor2Scales(int64_t D)
      : linear(1.0 / std::pow(double(D), 0.25)), quadratic(1.0 / std::sqrt(2.0 * double(D))) {}
};

// ---- forward -----------------------------------------------------------------

template <class T>
struct FeatureMapFwdParams {
  const T* x;               // (rows, D)
  T* y;                     // (rows, E)
  int64_t rows, D, E;       // rows = B * T * H
  FeatureMapParams params;  // kind, eps (src/ops/op_params.h)
};

// One row. `u` is scratch for D values (the pre-map of the l2 norms).
template <class T, FeatureMapKind Kind>
void feature_map_fwd_row(const FeatureMapFwdParams<T>& p, const T* x, T* y, std::vector<double>& u) {
  const int64_t D = p.D;
  if constexpr (is_pointwise<Kind>) {
    for (int64_t i = 0; i < D; ++i) y[i] = pointwise_value<Kind>(x[i]);
  } else if constexpr (Kind == FeatureMapKind::taylor2) {
    const Taylor2Scales scale(D);
    y[0] = T(1);
    T* linear = y + 1;
    T* quadratic = y + 1 + D;  // (D, D), row-major
    for (int64_t i = 0; i < D; ++i) linear[i] = static_cast<T>(double(x[i]) * scale.linear);
    for (int64_t i = 0; i < D; ++i) {
      const double xi = double(x[i]) * scale.quadratic;
      for (int64_t j = 0; j < D; ++j) quadratic[i * D + j] = static_cast<T>(xi * double(x[j]));
    }
  } else {  // l2norm, silu_l2norm
    double sum_sq = 0;
    for (int64_t i = 0; i < D; ++i) {
      u[i] = double(pointwise_value<Kind>(x[i]));
      sum_sq += u[i] * u[i];
    }
    const double inv_norm = 1.0 / std::sqrt(sum_sq + p.params.eps);
    for (int64_t i = 0; i < D; ++i) y[i] = static_cast<T>(u[i] * inv_norm);
  }
}

template <class T>
void feature_map_fwd(OpCall& call) {
  FeatureMapFwdParams<T> p{};
  p.x = call.input("x")->data<T>();
  p.y = call.output("y")->data<T>();
  p.D = call.dims.at("D");
  p.E = call.dims.at("E");
  p.rows = call.dims.at("B") * call.dims.at("T") * call.dims.at("H");
  p.params = feature_map_params(call);
  with_kind(p.params.kind, [&](auto kind) {
    constexpr FeatureMapKind Kind = decltype(kind)::value;
    parallel_rows(p.rows, p.E, [&](int64_t first, int64_t end) {
      std::vector<double> scratch(static_cast<size_t>(p.D));
      for (int64_t r = first; r < end; ++r) feature_map_fwd_row<T, Kind>(p, p.x + r * p.D, p.y + r * p.E, scratch);
    });
  });
}

// ---- backward ----------------------------------------------------------------

template <class T>
struct FeatureMapBwdParams {
  const T* x;               // (rows, D)
  const T* dy;              // (rows, E)
  T* dx;                    // (rows, D)
  int64_t rows, D, E;       // rows = B * T * H
  FeatureMapParams params;  // kind, eps (src/ops/op_params.h)
};

// One row. `acc` is scratch for D values.
template <class T, FeatureMapKind Kind>
void feature_map_bwd_row(const FeatureMapBwdParams<T>& p, const T* x, const T* dy, T* dx, std::vector<double>& acc) {
  const int64_t D = p.D;
  if constexpr (is_pointwise<Kind>) {
    for (int64_t i = 0; i < D; ++i) dx[i] = dy[i] * pointwise_grad<Kind>(x[i]);
  } else if constexpr (Kind == FeatureMapKind::taylor2) {
    // y[1 + D + i D + j] = s x_i x_j, so dx_a gets s (dY[a, j] x_j + dY[j, a] x_j) from the
    // quadratic block; one pass over dY adds both terms.
    const Taylor2Scales scale(D);
    const T* d_linear = dy + 1;
    const T* d_quadratic = dy + 1 + D;  // (D, D)
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t i = 0; i < D; ++i) {
      const double xi = double(x[i]);
      double row_dot = 0;  // sum_j dY[i, j] x_j
      for (int64_t j = 0; j < D; ++j) {
        const double g = double(d_quadratic[i * D + j]);
        row_dot += g * double(x[j]);
        acc[j] += g * xi;  // dY[i, j] x_i, the transpose term for dx_j
      }
      acc[i] += row_dot;
    }
    for (int64_t a = 0; a < D; ++a)
      dx[a] = static_cast<T>(double(d_linear[a]) * scale.linear + acc[a] * scale.quadratic);
  } else {  // l2norm, silu_l2norm: y = u / r, r = sqrt(|u|^2 + eps); du = (dy - y (y . dy)) / r
    std::vector<double>& u = acc;
    double sum_sq = 0;
    for (int64_t i = 0; i < D; ++i) {
      u[i] = double(pointwise_value<Kind>(x[i]));
      sum_sq += u[i] * u[i];
    }
    const double inv_norm = 1.0 / std::sqrt(sum_sq + p.params.eps);
    double y_dot_dy = 0;
    for (int64_t i = 0; i < D; ++i) y_dot_dy += u[i] * inv_norm * double(dy[i]);
    for (int64_t i = 0; i < D; ++i) {
      const double du = (double(dy[i]) - u[i] * inv_norm * y_dot_dy) * inv_norm;
      dx[i] = static_cast<T>(du * double(pointwise_grad<Kind>(x[i])));
    }
  }
}

template <class T>
void feature_map_bwd(OpCall& call) {
  FeatureMapBwdParams<T> p{};
  p.x = call.input("x")->data<T>();
  p.dy = call.input("dy")->data<T>();
  p.dx = call.output("dx")->data<T>();
  p.D = call.dims.at("D");
  p.E = call.dims.at("E");
  p.rows = call.dims.at("B") * call.dims.at("T") * call.dims.at("H");
  p.params = feature_map_params(call);
  with_kind(p.params.kind, [&](auto kind) {
    constexpr FeatureMapKind Kind = decltype(kind)::value;
    parallel_rows(p.rows, p.E, [&](int64_t first, int64_t end) {
      std::vector<double> scratch(static_cast<size_t>(p.D));
      for (int64_t r = first; r < end; ++r)
        feature_map_bwd_row<T, Kind>(p, p.x + r * p.D, p.dy + r * p.E, p.dx + r * p.D, scratch);
    });
  });
}

}  // namespace

void register_cpu_feature_map_kernels(Backend& backend) {
  backend.add_kernel("feature_map_fwd", DType::f32, feature_map_fwd<float>);
  backend.add_kernel("feature_map_fwd", DType::f64, feature_map_fwd<double>);
  backend.add_kernel("feature_map_bwd", DType::f32, feature_map_bwd<float>);
  backend.add_kernel("feature_map_bwd", DType::f64, feature_map_bwd<double>);
}

}  // namespace linea
