// Softmax cross-entropy, forward and backward, on CUDA: the port of the CPU
// reference (src/cpu/training_loss.cpp). Also registers every CUDA training
// kernel (register_cuda_training_kernels).
//
// logits, dlogits: (N, C)   labels: (N) i32, -1 = ignored   nll, lse, correct: (N)
//
//   lse[n]  = max_n + log sum_c exp(logits[n, c] - max_n)
//   nll[n]  = lse[n] - logits[n, y]                             (0 where y = -1)
//   correct = [argmax_c logits[n, c] == y]                      (lowest index on ties)
//   dlogits[n, c] = scale * (exp(logits[n, c] - lse[n]) - [c == y])   (0 where y = -1)
//
// One block per row (grid-stride over rows), threads striding over the C
// classes in 16-byte vectors where the row allows (row_visit). The forward
// reads the row twice: its max (lowest index on ties), then sum exp(x - max),
// the second pass from cache; the backward once (plus a rewrite of rows
// holding a NaN). exp runs in the accumulation type (float for f32 and bf16,
// double for f64), as the CPU runs it in the tensor's type; each thread sums
// its classes in that type, in increasing order, and the block adds the
// threads' sums in double in a fixed order (training_common.cuh), so results
// are reproducible. (The earlier one-pass online form rescaled a double sum at
// every new maximum: 0.35 ms for 8192 rows x 8192 classes on the H200,
// compute-bound; bench/gpu/README.md, nineteenth session.)
// A label outside -1..C-1 is recorded for the backend to raise at the next
// host read (no host read here); that row's outputs are NaN.
#include <cmath>
#include <cstdint>

#include "../ops/op_params.h"
#include "cuda_backend.h"
#include "training_common.cuh"

namespace linea {
namespace {

using namespace cuda_training;

constexpr int32_t kIgnoredLabel = -1;

// ---- forward -----------------------------------------------------------------

template <class T>
struct CrossEntropyFwdArgs {
  const T* logits;        // (N, C)
  const int32_t* labels;  // (N)
  acc_t<T>* nll;          // (N) stats: f32 in bf16 calls
  acc_t<T>* lse;          // (N) stats: f32 in bf16 calls
  T* correct;             // (N)
  int64_t N, C;
  CudaErrorRecord* errors;
  int tag;  // "cross_entropy_fwd: labels"
};

// Whether row x (and y, if given) can be read and written in 16-byte vectors of T.
template <class T>
__device__ __forceinline__ bool vector_row(const T* x, const T* y, int64_t C) {
  constexpr int kVec = int(sizeof(uint4) / sizeof(T));
  const auto aligned = [](const T* p) { return reinterpret_cast<uintptr_t>(p) % sizeof(uint4) == 0; };
  return kVec > 1 && C % kVec == 0 && aligned(x) && (y == nullptr || aligned(y));
}

// Visits the C classes of row x for this thread in increasing order: vectors
// t, t + blockDim.x, ... of 16 bytes where the row allows (vector_row), else
// classes t, t + blockDim.x, ...; both through strided_unrolled (kUnroll loads
// in flight). use(c, value in the accumulation type).
template <class T, class Use>
__device__ __forceinline__ void row_visit(const T* x, int64_t C, Use use) {
  constexpr int kVec = int(sizeof(uint4) / sizeof(T));
  if (!vector_row<T>(x, nullptr, C)) {
    strided_unrolled(
        threadIdx.x, C, blockDim.x, [&](int64_t c) { return load(x, c); }, use);
    return;
  }
  const uint4* xv = reinterpret_cast<const uint4*>(x);
  strided_unrolled(
      threadIdx.x, C / kVec, blockDim.x, [&](int64_t i) { return xv[i]; },
      [&](int64_t i, uint4 raw) {
        const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
        for (int j = 0; j < kVec; ++j) use(i * kVec + j, load(e, j));
      });
}

// y[c] = f(c, x[c]) over row x for this thread, in row_visit's order and
// vectors (both rows 16-byte aligned); f returns the accumulation type.
template <class T, class F>
__device__ __forceinline__ void row_map(const T* x, T* y, int64_t C, F f) {
  constexpr int kVec = int(sizeof(uint4) / sizeof(T));
  if (!vector_row<T>(x, y, C)) {
    strided_unrolled(
        threadIdx.x, C, blockDim.x, [&](int64_t c) { return load(x, c); },
        [&](int64_t c, acc_t<T> v) { store(y, c, f(c, v)); });
    return;
  }
  const uint4* xv = reinterpret_cast<const uint4*>(x);
  uint4* yv = reinterpret_cast<uint4*>(y);
  strided_unrolled(
      threadIdx.x, C / kVec, blockDim.x, [&](int64_t i) { return xv[i]; },
      [&](int64_t i, uint4 raw) {
        const T* e = reinterpret_cast<const T*>(&raw);
        uint4 out;
        T* o = reinterpret_cast<T*>(&out);
#pragma unroll
        for (int j = 0; j < kVec; ++j) store(o, j, f(i * kVec + j, load(e, j)));
        yv[i] = out;
      });
}

// Two passes over the row: each thread's max m (lowest index on ties: it
// visits its classes in increasing c with a strict >) and a NaN flag, the
// block's max M (block_argmax); then each thread's sum of exp(x - M) and the
// block's sum in double, in thread order.
template <class T>
__global__ void cross_entropy_fwd_kernel(CrossEntropyFwdArgs<T> p) {
  using A = acc_t<T>;
  __shared__ A max_shared[kMaxWarps];
  __shared__ long long arg_shared[kMaxWarps];
  __shared__ double sum_shared[kMaxWarps];
  for (int64_t n = blockIdx.x; n < p.N; n += gridDim.x) {
    const T* x = p.logits + n * p.C;
    const int32_t label = p.labels[n];  // the same for every thread: branches on it are block-uniform
    if (label < kIgnoredLabel || label >= p.C) {
      if (threadIdx.x == 0) {
        report_index_error(p.errors, p.tag, n, label, kIgnoredLabel, p.C - 1);
        store(p.lse, n, dev_nan<A>());
        store(p.nll, n, dev_nan<A>());
        store(p.correct, n, dev_nan<A>());
      }
      continue;
    }
    A m = -dev_inf<A>();
    long long m_c = 0x7fffffffffffffffLL;  // no class yet
    bool nan = false;
    row_visit(x, p.C, [&](int64_t c, A v) {
      nan |= isnan(v);
      if (v > m) {
        m = v;
        m_c = c;
      }
    });
    const bool any_nan = __syncthreads_or(nan);
    A best = m;
    long long best_c = m_c;
    block_argmax(best, best_c, max_shared, arg_shared);
    // A NaN logit, or a max that is not finite (all -inf, or a +inf): no
    // meaningful softmax, so NaN rather than garbage (as the CPU).
    if (any_nan || !isfinite(best)) {
      if (threadIdx.x == 0) {
        store(p.lse, n, dev_nan<A>());
        store(p.nll, n, label == kIgnoredLabel ? A(0) : dev_nan<A>());
        store(p.correct, n, A(0));
      }
      continue;
    }
    // exp(-inf - best) = 0: a -inf class adds nothing. The row is finite but for -infs here.
    A s = 0;
    row_visit(x, p.C, [&](int64_t, A v) { s += dev_exp(v - best); });
    const double total = block_sum(double(s), sum_shared);  // >= 1: the max's own term
    if (threadIdx.x == 0) {
      const double log_sum = log(total);
      store(p.lse, n, double(best) + log_sum);
      if (label == kIgnoredLabel) {
        store(p.nll, n, A(0));
        store(p.correct, n, A(0));
      } else {
        // log_sum - (x_y - max): the max cancels exactly instead of being rounded into lse first.
        store(p.nll, n, log_sum - (double(load(x, label)) - double(best)));
        store(p.correct, n, best_c == label ? A(1) : A(0));
      }
    }
  }
}

template <class T>
void cross_entropy_fwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  CrossEntropyFwdArgs<T> p{};
  p.logits = call.input("logits")->data<T>();
  p.labels = call.input("labels")->data<int32_t>();
  p.nll = call.output("nll")->data<acc_t<T>>();
  p.lse = call.output("lse")->data<acc_t<T>>();
  p.correct = call.output("correct")->data<T>();
  p.N = call.dims.at("N");
  p.C = call.dims.at("C");
  p.errors = ctx.errors;
  p.tag = ctx.error_tag(call.op->name + ": labels");
  if (p.N == 0) return;
  cross_entropy_fwd_kernel<T><<<row_blocks(p.N), row_threads(p.C / 8, 256), 0, ctx.stream>>>(p);
  LINEA_CUDA_CHECK_LAUNCH("cross_entropy_fwd_kernel");
}

// ---- backward ----------------------------------------------------------------

template <class T>
struct CrossEntropyBwdArgs {
  const T* logits;        // (N, C)
  const int32_t* labels;  // (N)
  const acc_t<T>* lse;    // (N) stats: f32 in bf16 calls
  T* dlogits;             // (N, C)
  int64_t N, C;
  double scale;  // weight of every row's nll in the loss
  CudaErrorRecord* errors;
  int tag;  // "cross_entropy_bwd: labels"
};

// Two passes over a labelled row: write dlogits while noting NaN logits, then,
// only where the row had one, overwrite it with NaN (after the barrier, every
// class of the row). The common case reads and writes the row once.
template <class T>
__global__ void cross_entropy_bwd_kernel(CrossEntropyBwdArgs<T> p) {
  using A = acc_t<T>;
  for (int64_t n = blockIdx.x; n < p.N; n += gridDim.x) {
    const T* x = p.logits + n * p.C;
    T* dx = p.dlogits + n * p.C;
    const int32_t label = p.labels[n];  // block-uniform
    const A lse = load(p.lse, n);       // block-uniform
    const bool bad_label = label < kIgnoredLabel || label >= p.C;
    if (bad_label && threadIdx.x == 0) report_index_error(p.errors, p.tag, n, label, kIgnoredLabel, p.C - 1);
    // A bad label, or a labelled row whose lse is not finite: NaN gradients.
    if (bad_label || (label != kIgnoredLabel && !isfinite(lse))) {
      for (int64_t c = threadIdx.x; c < p.C; c += blockDim.x) store(dx, c, dev_nan<A>());
      continue;
    }
    if (label == kIgnoredLabel) {
      for (int64_t c = threadIdx.x; c < p.C; c += blockDim.x) store(dx, c, A(0));
      continue;
    }
    const A scale = static_cast<A>(p.scale);
    bool nan = false;
    row_map(x, dx, p.C, [&](int64_t c, A v) -> A {
      nan |= isnan(v);
      // p_y - 1 as expm1 in double: no cancellation when the model is confident (p_y near 1).
      if (c == label) return static_cast<A>(p.scale * expm1(double(v) - double(lse)));
      return scale * dev_exp(v - lse);
    });
    if (__syncthreads_or(nan))
      for (int64_t c = threadIdx.x; c < p.C; c += blockDim.x) store(dx, c, dev_nan<A>());
  }
}

template <class T>
void cross_entropy_bwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  CrossEntropyBwdArgs<T> p{};
  p.logits = call.input("logits")->data<T>();
  p.labels = call.input("labels")->data<int32_t>();
  p.lse = call.input("lse")->data<acc_t<T>>();
  p.dlogits = call.output("dlogits")->data<T>();
  p.N = call.dims.at("N");
  p.C = call.dims.at("C");
  p.scale = cross_entropy_params(call).scale;
  p.errors = ctx.errors;
  p.tag = ctx.error_tag(call.op->name + ": labels");
  if (p.N == 0) return;
  cross_entropy_bwd_kernel<T><<<row_blocks(p.N), row_threads(p.C / 8, 256), 0, ctx.stream>>>(p);
  LINEA_CUDA_CHECK_LAUNCH("cross_entropy_bwd_kernel");
}

}  // namespace

void register_cuda_training_loss_kernels(Backend& backend) {
  backend.add_kernel("cross_entropy_fwd", DType::f32, cross_entropy_fwd<float>);
  backend.add_kernel("cross_entropy_fwd", DType::f64, cross_entropy_fwd<double>);
  backend.add_kernel("cross_entropy_fwd", DType::bf16, cross_entropy_fwd<bf16>);
  backend.add_kernel("cross_entropy_bwd", DType::f32, cross_entropy_bwd<float>);
  backend.add_kernel("cross_entropy_bwd", DType::f64, cross_entropy_bwd<double>);
  backend.add_kernel("cross_entropy_bwd", DType::bf16, cross_entropy_bwd<bf16>);
}

void register_cuda_training_kernels(Backend& backend) {
  register_cuda_training_loss_kernels(backend);
  register_cuda_training_rows_kernels(backend);
  register_cuda_training_elementwise_kernels(backend);
  register_cuda_training_optimizer_kernels(backend);
  register_cuda_training_cast_kernels(backend);
}

}  // namespace linea
