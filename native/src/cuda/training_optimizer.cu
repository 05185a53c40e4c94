// The optimizer's ops on CUDA: sum_squares (for the global gradient norm) and
// one in-place AdamW step; the port of the CPU reference
// (src/cpu/training_optimizer.cpp).
//
// sum_squares: x any shape (n elements) -> y (1) = sum_i x_i^2
// adamw_step:  param, grad, m, v any shape, all alike (n elements); param, m, v updated in place
//
// sum_squares is a two-pass reduction in double: a number of blocks fixed by
// n alone each write the sum of their grid-strided elements (reduced in a
// fixed order, training_common.cuh), then one block adds those partials, so
// the result is the same on every run. adamw_step is elementwise, each
// element's update computed in double and rounded once to the tensor's type
// (f32 and f64 only: master weights).
#include <cmath>
#include <cstdint>
#include <string>

#include "../ops/op_params.h"
#include "cuda_backend.h"
#include "training_common.cuh"

namespace linea {
namespace {

using namespace cuda_training;

// ---- sum of squares ------------------------------------------------------------

constexpr int kSumThreads = 256;
constexpr int64_t kMaxSumBlocks = 1024;

// partial[block] = sum of x_i^2 over the block's elements (grid-strided, training_common.cuh).
template <class T>
__global__ void sum_squares_partial_kernel(const T* x, int64_t n, double* partial) {
  __shared__ double shared[kMaxWarps];
  double acc = 0;
  elementwise(
      n, [&](int64_t i) { return double(load(x, i)); }, [&](int64_t, double v) { acc += v * v; });
  const double total = block_sum(acc, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// y[0] = sum of the partials, one block, rounded once.
template <class T>
__global__ void sum_squares_total_kernel(const double* partial, int64_t blocks, acc_t<T>* y) {
  __shared__ double shared[kMaxWarps];
  double acc = 0;
  for (int64_t b = threadIdx.x; b < blocks; b += blockDim.x) acc += partial[b];
  const double total = block_sum(acc, shared);
  if (threadIdx.x == 0) store(y, 0, total);
}

template <class T>
void sum_squares(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const Tensor& x = *call.input("x");
  acc_t<T>* y = call.output("y")->data<acc_t<T>>();  // stats: f32 in bf16 calls
  const int64_t n = x.numel();
  // Blocks from n alone (8 elements per thread at least): the same order on
  // every run and device. n = 0 is one block that writes 0.
  int64_t blocks = (n + kSumThreads * 8 - 1) / (kSumThreads * 8);
  if (blocks > kMaxSumBlocks) blocks = kMaxSumBlocks;
  if (blocks < 1) blocks = 1;
  Tensor partial = ctx.scratch(Shape{blocks}, DType::f64);
  sum_squares_partial_kernel<T>
      <<<static_cast<unsigned>(blocks), kSumThreads, 0, ctx.stream>>>(x.data<T>(), n, partial.data<double>());
  LINEA_CUDA_CHECK_LAUNCH("sum_squares_partial_kernel");
  sum_squares_total_kernel<T><<<1, kSumThreads, 0, ctx.stream>>>(partial.data<double>(), blocks, y);
  LINEA_CUDA_CHECK_LAUNCH("sum_squares_total_kernel");
}

// ---- AdamW -----------------------------------------------------------------------

template <class T>
struct AdamWArgs {
  T* param;       // (n), updated in place
  const T* grad;  // (n)
  T* m;           // (n), updated in place
  T* v;           // (n), updated in place
  int64_t n;
  double lr, beta1, beta2, eps, grad_scale;
  const T* grad_sq_sum;  // (1) or nullptr: the global-norm clip, read on the device
  double max_norm;
  double decay;                               // 1 - lr * weight_decay
  double bias_correction1, bias_correction2;  // 1 - beta1^step, 1 - beta2^step
};

// Exactly the CPU's arithmetic, in double (only the compiler's FMA
// contractions differ, well below f64's tolerance).
struct AdamWElement {
  double param, grad, m, v;
};

template <class T>
__global__ void adamw_kernel(AdamWArgs<T> p) {
  // Every thread reads the one clip value; 0 (a norm that is not finite) skips the step.
  const double clip = p.grad_sq_sum ? adamw_clip_factor(p.max_norm, double(load(p.grad_sq_sum, 0))) : 1.0;
  if (clip == 0) return;
  p.grad_scale *= clip;
  elementwise(
      p.n,
      [&](int64_t i) {
        return AdamWElement{double(p.param[i]), double(p.grad[i]), double(p.m[i]), double(p.v[i])};
      },
      [&](int64_t i, AdamWElement e) {
        const double g = e.grad * p.grad_scale;
        const double m = p.beta1 * e.m + (1.0 - p.beta1) * g;
        const double v = p.beta2 * e.v + (1.0 - p.beta2) * g * g;
        const double m_hat = m / p.bias_correction1;
        const double v_hat = v / p.bias_correction2;
        p.param[i] = static_cast<T>(e.param * p.decay - p.lr * m_hat / (sqrt(v_hat) + p.eps));
        p.m[i] = static_cast<T>(m);
        p.v[i] = static_cast<T>(v);
      });
}

// An update through aliased buffers would read values it has just written
// (m as param, say) and silently train garbage; grad aliasing param, m or v
// would change grad, which the op promises not to do. Pointers only: no device read.
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
  const CudaContext& ctx = cuda_context();
  AdamWArgs<T> p{};
  const Tensor& param = *call.input("param");
  p.param = param.data<T>();
  p.grad = call.input("grad")->data<T>();
  p.m = call.input("m")->data<T>();
  p.v = call.input("v")->data<T>();
  p.n = param.numel();
  const AdamWParams a = adamw_params(call);
  p.lr = a.lr;
  p.beta1 = a.beta1;
  p.beta2 = a.beta2;
  p.eps = a.eps;
  p.grad_scale = a.grad_scale;
  const Tensor* sq = call.input("grad_sq_sum");
  p.grad_sq_sum = sq ? sq->data<T>() : nullptr;
  p.max_norm = a.max_norm;
  p.decay = 1.0 - a.lr * a.weight_decay;
  const double step = static_cast<double>(a.step);
  p.bias_correction1 = 1.0 - std::pow(a.beta1, step);
  p.bias_correction2 = 1.0 - std::pow(a.beta2, step);
  if (p.n == 0) return;
  adamw_kernel<T><<<elementwise_blocks(p.n), 256, 0, ctx.stream>>>(p);
  LINEA_CUDA_CHECK_LAUNCH("adamw_kernel");
}

}  // namespace

void register_cuda_training_optimizer_kernels(Backend& backend) {
  backend.add_kernel("sum_squares", DType::f32, sum_squares<float>);
  backend.add_kernel("sum_squares", DType::f64, sum_squares<double>);
  backend.add_kernel("sum_squares", DType::bf16, sum_squares<bf16>);
  backend.add_kernel("adamw_step", DType::f32, adamw_step<float>);
  backend.add_kernel("adamw_step", DType::f64, adamw_step<double>);
}

}  // namespace linea
