// SwiGLU, y = silu(gate) * up, elementwise, forward and backward, on the CPU.
//
// gate, up, y, dy, dgate, dup: (N), N = all dims flattened
//
//   s = sigmoid(gate)
//   y     = gate * s * up
//   dgate = dy * up * s * (1 + gate * (1 - s))
//   dup   = dy * gate * s
//
// Threads: blocks of elements. Math runs in the tensor's type with the
// branch-free exp of vector_exp.h, so the loops vectorize.
#include <algorithm>
#include <cstdint>

#include "cpu_backend.h"
#include "parallel.h"
#include "vector_exp.h"

namespace linea {
namespace {

// Enough elements per task to amortize the pool's per-task cost, few enough
// to balance the threads.
constexpr int64_t kElementsPerTask = int64_t(1) << 14;

// Calls fn(first, end) on blocks of elements covering [0, n).
template <class Fn>
void parallel_elements(int64_t n, Fn&& fn) {
  parallel_for((n + kElementsPerTask - 1) / kElementsPerTask, [&](int64_t task) {
    const int64_t first = task * kElementsPerTask;
    fn(first, std::min(n, first + kElementsPerTask));
  });
}

// sigmoid from exp(-|x|) only, so it never overflows; a select, not a branch.
// Below x = -87 (float) / -708 (double) exp_vectorizable floors at the
// smallest normal number, so sigmoid stays at about 1e-38 / 2e-308 there
// instead of going to 0: silu and its gradient are still ~0.
template <class T>
inline T sigmoid(T x) {
  const T e = exp_vectorizable(x >= T(0) ? -x : x);
  const T inv = T(1) / (T(1) + e);
  return x >= T(0) ? inv : e * inv;
}

template <class T>
struct SwigluFwdParams {
  const T* gate;  // (N)
  const T* up;    // (N)
  T* y;           // (N)
  int64_t N;
};

template <class T>
void swiglu_fwd_impl(const SwigluFwdParams<T>& p) {
  parallel_elements(p.N, [&](int64_t first, int64_t end) {
    for (int64_t i = first; i < end; ++i) p.y[i] = p.gate[i] * sigmoid(p.gate[i]) * p.up[i];
  });
}

template <class T>
void swiglu_fwd(OpCall& call) {
  SwigluFwdParams<T> p{};
  p.gate = call.input("gate")->data<T>();
  p.up = call.input("up")->data<T>();
  p.y = call.output("y")->data<T>();
  p.N = call.input("gate")->numel();
  swiglu_fwd_impl(p);
}

template <class T>
struct SwigluBwdParams {
  const T* gate;  // (N)
  const T* up;    // (N)
  const T* dy;    // (N)
  T* dgate;       // (N)
  T* dup;         // (N)
  int64_t N;
};

template <class T>
void swiglu_bwd_impl(const SwigluBwdParams<T>& p) {
  parallel_elements(p.N, [&](int64_t first, int64_t end) {
    for (int64_t i = first; i < end; ++i) {
      const T g = p.gate[i];
      const T s = sigmoid(g);
      p.dup[i] = p.dy[i] * g * s;
      p.dgate[i] = p.dy[i] * p.up[i] * s * (T(1) + g * sigmoid(-g));
    }
  });
}

template <class T>
void swiglu_bwd(OpCall& call) {
  SwigluBwdParams<T> p{};
  p.gate = call.input("gate")->data<T>();
  p.up = call.input("up")->data<T>();
  p.dy = call.input("dy")->data<T>();
  p.dgate = call.output("dgate")->data<T>();
  p.dup = call.output("dup")->data<T>();
  p.N = call.input("gate")->numel();
  swiglu_bwd_impl(p);
}

}  // namespace

void register_cpu_swiglu_kernels(Backend& backend) {
  backend.add_kernel("swiglu_fwd", DType::f32, swiglu_fwd<float>);
  backend.add_kernel("swiglu_fwd", DType::f64, swiglu_fwd<double>);
  backend.add_kernel("swiglu_bwd", DType::f32, swiglu_bwd<float>);
  backend.add_kernel("swiglu_bwd", DType::f64, swiglu_bwd<double>);
}

}  // namespace linea
