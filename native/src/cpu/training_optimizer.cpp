// The optimizer's ops on the CPU: sum_squares (for the global gradient norm)
// and one in-place AdamW step.
//
// sum_squares: x any shape (n elements) -> y (1) = sum_i x_i^2
// adamw_step:  param, grad, m, v any shape, all alike (n elements); param, m, v updated in place;
//               grad_sq_sum (1), optional: the global-norm clip (adamw_clip_factor)
//
// sum_squares is a deterministic two-pass reduction in double
// (training::column_sums on x viewed as n rows of 1). adamw_step is
// elementwise: blocks of elements over the thread pool, each element's
// update computed in double and rounded once to the tensor's type.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../ops/op_params.h"
#include "cpu_backend.h"
#include "training_common.h"

namespace linea {
namespace {

using training::kElementsPerTask;

// ---- sum of squares ------------------------------------------------------------

template <class T>
struct SumSquaresParams {
  const T* x;  // (n)
  T* y;        // (1)
  int64_t n;
};

template <class T>
void sum_squares(OpCall& call) {
  SumSquaresParams<T> p{};
  const Tensor& x = *call.input("x");
  p.x = x.data<T>();
  p.y = call.output("y")->data<T>();
  p.n = x.numel();
  double total = 0;
  training::column_sums(
      p.n, 1,
      [&](int64_t first, int64_t end, int64_t, int64_t, double* acc) {
        double sum = 0;
        for (int64_t i = first; i < end; ++i) sum += double(p.x[i]) * double(p.x[i]);
        acc[0] += sum;
      },
      &total);
  p.y[0] = static_cast<T>(total);
}

// ---- AdamW -----------------------------------------------------------------------

template <class T>
struct AdamWArgs {
  T* param;       // (n), updated in place
  const T* grad;  // (n)
  T* m;           // (n), updated in place
  T* v;           // (n), updated in place
  int64_t n;
  AdamWParams params;                         // lr, betas, eps, weight decay, grad scale, step (src/ops/op_params.h)
  double bias_correction1, bias_correction2;  // 1 - beta1^step, 1 - beta2^step
};

// An update through aliased buffers would read values it has just written
// (m as param, say) and silently train garbage; grad aliasing param, m or v
// would change grad, which the op promises not to do.
void check_distinct(const OpCall& call) {
  const char* const names[] = {"param", "grad", "m", "v"};
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j)
      if (call.input(names[i])->buffer->data == call.input(names[j])->buffer->data)
        throw OpError(call.op->name + ": " + names[i] + " and " + names[j] +
                      " are the same memory; param, grad, m and v must be four different tensors");
}

template <class T>
void adamw_step(OpCall& call) {
  check_distinct(call);
  AdamWArgs<T> p{};
  const Tensor& param = *call.input("param");
  p.param = param.data<T>();
  p.grad = call.input("grad")->data<T>();
  p.m = call.input("m")->data<T>();
  p.v = call.input("v")->data<T>();
  p.n = param.numel();
  p.params = adamw_params(call);
  const AdamWParams& a = p.params;
  const double step = static_cast<double>(a.step);
  p.bias_correction1 = 1.0 - std::pow(a.beta1, step);
  p.bias_correction2 = 1.0 - std::pow(a.beta2, step);
  const double decay = 1.0 - a.lr * a.weight_decay;
  const Tensor* sq = call.input("grad_sq_sum");
  const double clip = sq ? adamw_clip_factor(a.max_norm, double(sq->data<T>()[0])) : 1.0;
  if (clip == 0) return;  // the norm is not finite: the step is skipped
  const double scale = a.grad_scale * clip;
  training::parallel_blocks(p.n, kElementsPerTask, [&](int64_t first, int64_t end) {
    for (int64_t i = first; i < end; ++i) {
      const double g = double(p.grad[i]) * scale;
      const double m = a.beta1 * double(p.m[i]) + (1.0 - a.beta1) * g;
      const double v = a.beta2 * double(p.v[i]) + (1.0 - a.beta2) * g * g;
      const double m_hat = m / p.bias_correction1;
      const double v_hat = v / p.bias_correction2;
      p.param[i] = static_cast<T>(double(p.param[i]) * decay - a.lr * m_hat / (std::sqrt(v_hat) + a.eps));
      p.m[i] = static_cast<T>(m);
      p.v[i] = static_cast<T>(v);
    }
  });
}

}  // namespace

void register_cpu_optimizer_kernels(Backend& backend) {
  backend.add_kernel("sum_squares", DType::f32, sum_squares<float>);
  backend.add_kernel("sum_squares", DType::f64, sum_squares<double>);
  backend.add_kernel("adamw_step", DType::f32, adamw_step<float>);
  backend.add_kernel("adamw_step", DType::f64, adamw_step<double>);
}

}  // namespace linea
