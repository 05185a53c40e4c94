// Elementwise ops on the CPU: unary (silu, sigmoid, softplus, ...), binary
// (add, mul, optionally broadcasting one [D] row), and in-place accumulate.
//
// unary:      x, y, dy, dx: any shape (n elements)           y = alpha f(x), dx = dy alpha f'(x)
// binary:     a, y, dy, da: (R, D), R = product of *S       b, db: (R, D), or (D) with broadcast
// accumulate: dst, src: any shape (n elements)               dst += alpha src, in place
//
// Elementwise work is split into blocks of elements (or rows) over the
// thread pool, each task writing its own block. The unary and binary kinds
// are template parameters: the inner loops carry no branch on them.
// Pointwise math runs in the tensor's type; the broadcast db is a column sum
// accumulated in double (training::column_sums, deterministic).
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../ops/op_params.h"
#include "cpu_backend.h"
#include "training_common.h"

namespace linea {
namespace {

using training::kElementsPerTask;
using training::parallel_blocks;

// ---- unary -------------------------------------------------------------------

// log(1 + exp(-|x|)), in (0, log 2]: the part of softplus and logsigmoid that
// exponentiates only a non-positive argument, so it never overflows.
template <class T>
T log1p_exp_neg_abs(T x) {
  return std::log1p(std::exp(-std::abs(x)));
}

// sigmoid without overflow: exp of a non-positive argument only.
template <class T>
T sigmoid(T x) {
  const T e = std::exp(-std::abs(x));
  return x >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

template <UnaryKind Kind, class T>
T unary_value(T x) {
  if constexpr (Kind == UnaryKind::identity) return x;
  else if constexpr (Kind == UnaryKind::silu) return x * sigmoid(x);
  else if constexpr (Kind == UnaryKind::sigmoid) return sigmoid(x);
  else if constexpr (Kind == UnaryKind::softplus) return std::max(x, T(0)) + log1p_exp_neg_abs(x);
  else if constexpr (Kind == UnaryKind::logsigmoid) return std::min(x, T(0)) - log1p_exp_neg_abs(x);
  else if constexpr (Kind == UnaryKind::exp) return std::exp(x);
  else if constexpr (Kind == UnaryKind::neg_exp) return -std::exp(x);
  else static_assert(Kind != Kind, "unary_value: a UnaryKind without a formula");
}

template <UnaryKind Kind, class T>
T unary_grad(T x) {
  if constexpr (Kind == UnaryKind::identity) {
    return T(1);
  } else if constexpr (Kind == UnaryKind::silu) {
    const T s = sigmoid(x);
    return s * (T(1) + x * sigmoid(-x));  // 1 - s as sigmoid(-x): no cancellation for large x
  } else if constexpr (Kind == UnaryKind::sigmoid) {
    return sigmoid(x) * sigmoid(-x);  // s (1 - s) without cancellation for large |x|
  } else if constexpr (Kind == UnaryKind::softplus) {
    return sigmoid(x);
  } else if constexpr (Kind == UnaryKind::logsigmoid) {
    return sigmoid(-x);  // 1 - sigmoid(x) without cancellation for large x
  } else if constexpr (Kind == UnaryKind::exp) {
    return std::exp(x);
  } else if constexpr (Kind == UnaryKind::neg_exp) {
    return -std::exp(x);
  } else {
    static_assert(Kind != Kind, "unary_grad: a UnaryKind without a derivative");
  }
}

template <class T>
struct UnaryFwdParams {
  const T* x;  // (n)
  T* y;        // (n)
  int64_t n;
  double alpha;
};

template <class T>
void unary_fwd(OpCall& call) {
  UnaryFwdParams<T> p{};
  const Tensor& x = *call.input("x");
  p.x = x.data<T>();
  p.y = call.output("y")->data<T>();
  p.n = x.numel();
  const UnaryParams u = unary_params(call);
  p.alpha = u.alpha;
  const T alpha = static_cast<T>(p.alpha);
  with_unary_kind(u.kind, [&](auto kind) {
    constexpr UnaryKind Kind = decltype(kind)::value;
    parallel_blocks(p.n, kElementsPerTask, [&](int64_t first, int64_t end) {
      for (int64_t i = first; i < end; ++i) p.y[i] = alpha * unary_value<Kind>(p.x[i]);
    });
  });
}

template <class T>
struct UnaryBwdParams {
  const T* x;   // (n)
  const T* dy;  // (n)
  T* dx;        // (n)
  int64_t n;
  double alpha;
};

template <class T>
void unary_bwd(OpCall& call) {
  UnaryBwdParams<T> p{};
  const Tensor& x = *call.input("x");
  p.x = x.data<T>();
  p.dy = call.input("dy")->data<T>();
  p.dx = call.output("dx")->data<T>();
  p.n = x.numel();
  const UnaryParams u = unary_params(call);
  p.alpha = u.alpha;
  const T alpha = static_cast<T>(p.alpha);
  with_unary_kind(u.kind, [&](auto kind) {
    constexpr UnaryKind Kind = decltype(kind)::value;
    parallel_blocks(p.n, kElementsPerTask, [&](int64_t first, int64_t end) {
      for (int64_t i = first; i < end; ++i) p.dx[i] = p.dy[i] * (alpha * unary_grad<Kind>(p.x[i]));
    });
  });
}

// ---- binary ------------------------------------------------------------------

template <BinaryKind Kind, class T>
T binary_value(T a, T b) {
  if constexpr (Kind == BinaryKind::add) return a + b;
  else return a * b;
}

template <class T>
struct BinaryFwdParams {
  const T* a;  // (R, D)
  const T* b;  // (R, D), or (D) with broadcast
  T* y;        // (R, D)
  int64_t R, D;
};

// Rows of a and y; b's row r is b itself when broadcasting.
template <class T, BinaryKind Kind, bool Broadcast>
void binary_fwd_impl(const BinaryFwdParams<T>& p) {
  training::parallel_rows(p.R, p.D, [&](int64_t first, int64_t end) {
    for (int64_t r = first; r < end; ++r) {
      const T* a = p.a + r * p.D;
      const T* b = Broadcast ? p.b : p.b + r * p.D;
      T* y = p.y + r * p.D;
      for (int64_t d = 0; d < p.D; ++d) y[d] = binary_value<Kind>(a[d], b[d]);
    }
  });
}

template <class T>
void binary_fwd(OpCall& call) {
  BinaryFwdParams<T> p{};
  const Tensor& a = *call.input("a");
  p.a = a.data<T>();
  p.b = call.input("b")->data<T>();
  p.y = call.output("y")->data<T>();
  p.D = call.dims.at("D");
  p.R = a.numel() / p.D;
  const BinaryParams s = binary_params(call);
  with_binary_switches(s.kind, s.broadcast, [&](auto kind, auto broadcast) {
    binary_fwd_impl<T, decltype(kind)::value, decltype(broadcast)::value>(p);
  });
}

template <class T>
struct BinaryBwdParams {
  const T* a;   // (R, D)
  const T* b;   // (R, D), or (D) with broadcast
  const T* dy;  // (R, D)
  T* da;        // (R, D)
  T* db;        // shaped like b
  int64_t R, D;
};

template <class T, BinaryKind Kind, bool Broadcast>
void binary_bwd_impl(const BinaryBwdParams<T>& p) {
  // da, and db where it is elementwise: row by row.
  training::parallel_rows(p.R, p.D, [&](int64_t first, int64_t end) {
    for (int64_t r = first; r < end; ++r) {
      const T* a = p.a + r * p.D;
      const T* b = Broadcast ? p.b : p.b + r * p.D;
      const T* dy = p.dy + r * p.D;
      T* da = p.da + r * p.D;
      for (int64_t d = 0; d < p.D; ++d) da[d] = Kind == BinaryKind::add ? dy[d] : dy[d] * b[d];
      if constexpr (!Broadcast) {
        T* db = p.db + r * p.D;
        for (int64_t d = 0; d < p.D; ++d) db[d] = Kind == BinaryKind::add ? dy[d] : dy[d] * a[d];
      }
    }
  });
  if constexpr (Broadcast) {
    // db[d] = sum_r (dy[r, d] or dy[r, d] a[r, d]): a deterministic column sum in double.
    std::vector<double> db(static_cast<size_t>(p.D));
    training::column_sums(
        p.R, p.D,
        [&](int64_t r_first, int64_t r_end, int64_t d_first, int64_t d_end, double* acc) {
          for (int64_t r = r_first; r < r_end; ++r) {
            const T* a = p.a + r * p.D;
            const T* dy = p.dy + r * p.D;
            for (int64_t d = d_first; d < d_end; ++d)
              acc[d - d_first] += Kind == BinaryKind::add ? double(dy[d]) : double(dy[d]) * double(a[d]);
          }
        },
        db.data());
    for (int64_t d = 0; d < p.D; ++d) p.db[d] = static_cast<T>(db[d]);
  }
}

template <class T>
void binary_bwd(OpCall& call) {
  BinaryBwdParams<T> p{};
  const Tensor& a = *call.input("a");
  p.a = a.data<T>();
  p.b = call.input("b")->data<T>();
  p.dy = call.input("dy")->data<T>();
  p.da = call.output("da")->data<T>();
  p.db = call.output("db")->data<T>();
  p.D = call.dims.at("D");
  p.R = a.numel() / p.D;
  const BinaryParams s = binary_params(call);
  with_binary_switches(s.kind, s.broadcast, [&](auto kind, auto broadcast) {
    binary_bwd_impl<T, decltype(kind)::value, decltype(broadcast)::value>(p);
  });
}

// ---- accumulate (in place) -----------------------------------------------------

template <class T>
struct AccumulateArgs {
  T* dst;        // (n), updated in place
  const T* src;  // (n); may be dst itself
  int64_t n;
  double alpha;
};

template <class T>
void accumulate(OpCall& call) {
  AccumulateArgs<T> p{};
  const Tensor& dst = *call.input("dst");
  p.dst = dst.data<T>();
  p.src = call.input("src")->data<T>();
  p.n = dst.numel();
  p.alpha = accumulate_params(call).alpha;
  // In double and rounded once: alpha need not be representable in T.
  parallel_blocks(p.n, kElementsPerTask, [&](int64_t first, int64_t end) {
    for (int64_t i = first; i < end; ++i) p.dst[i] = static_cast<T>(double(p.dst[i]) + p.alpha * double(p.src[i]));
  });
}

}  // namespace

void register_cpu_elementwise_kernels(Backend& backend) {
  backend.add_kernel("unary_fwd", DType::f32, unary_fwd<float>);
  backend.add_kernel("unary_fwd", DType::f64, unary_fwd<double>);
  backend.add_kernel("unary_bwd", DType::f32, unary_bwd<float>);
  backend.add_kernel("unary_bwd", DType::f64, unary_bwd<double>);
  backend.add_kernel("binary_fwd", DType::f32, binary_fwd<float>);
  backend.add_kernel("binary_fwd", DType::f64, binary_fwd<double>);
  backend.add_kernel("binary_bwd", DType::f32, binary_bwd<float>);
  backend.add_kernel("binary_bwd", DType::f64, binary_bwd<double>);
  backend.add_kernel("accumulate", DType::f32, accumulate<float>);
  backend.add_kernel("accumulate", DType::f64, accumulate<double>);
}

}  // namespace linea
