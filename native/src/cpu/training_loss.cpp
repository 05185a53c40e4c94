// Softmax cross-entropy, forward and backward, on the CPU.
//
// logits, dlogits: (N, C)   labels: (N) i32, -1 = ignored   nll, lse, correct: (N)
//
//   lse[n]  = max_n + log sum_c exp(logits[n, c] - max_n)      (max_n the row max: no overflow)
//   nll[n]  = lse[n] - logits[n, y]                             (0 where y = labels[n] = -1)
//   correct = [argmax_c logits[n, c] == y]                      (lowest index on ties)
//   dlogits[n, c] = scale * (exp(logits[n, c] - lse[n]) - [c == y])   (0 where y = -1)
//
// Rows are independent: blocks of rows are spread over the thread pool, each
// task writing its own rows. exp runs in the tensor's type with the
// vectorizable exp (its arguments are always <= 0 here); sums over a row and
// the log accumulate in double and are rounded once.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "../ops/op_params.h"
#include "cpu_backend.h"
#include "training_common.h"
#include "vector_exp.h"

namespace linea {
namespace {

using training::parallel_rows;

constexpr int32_t kIgnoredLabel = -1;
const char* const kIgnoredNote = "(-1 = ignored)";

template <class T>
struct RowMax {
  T max;           // the largest logit (NaN when logits[0] is NaN)
  int64_t argmax;  // its lowest index
  bool has_nan;    // any logit is NaN
  // A row whose max is not finite (all -inf, or a +inf) or that holds a NaN
  // has no meaningful softmax: its results are NaN rather than garbage.
  bool usable() const { return !has_nan && std::isfinite(max); }
};

template <class T>
RowMax<T> row_max(const T* x, int64_t C) {
  RowMax<T> r{x[0], 0, std::isnan(x[0])};
  for (int64_t c = 1; c < C; ++c) {
    r.has_nan |= std::isnan(x[c]);
    if (x[c] > r.max) {  // strict: ties keep the lowest index
      r.max = x[c];
      r.argmax = c;
    }
  }
  return r;
}

// ---- forward -----------------------------------------------------------------

template <class T>
struct CrossEntropyFwdParams {
  const T* logits;        // (N, C)
  const int32_t* labels;  // (N)
  T* nll;                 // (N)
  T* lse;                 // (N)
  T* correct;             // (N)
  int64_t N, C;
};

// One row; `shifted_exp` is scratch for C values.
template <class T>
void cross_entropy_fwd_row(const CrossEntropyFwdParams<T>& p, int64_t n, std::vector<T>& shifted_exp) {
  constexpr T kNaN = std::numeric_limits<T>::quiet_NaN();
  const T* x = p.logits + n * p.C;
  const int32_t label = p.labels[n];
  const RowMax<T> row = row_max(x, p.C);
  if (!row.usable()) {
    p.lse[n] = kNaN;
    p.nll[n] = label == kIgnoredLabel ? T(0) : kNaN;
    p.correct[n] = T(0);
    return;
  }
  // Separate loops: the exp loop has no reduction, so it vectorizes.
  for (int64_t c = 0; c < p.C; ++c) shifted_exp[c] = exp_vectorizable<T>(x[c] - row.max);
  double sum = 0;  // >= 1: the max's own term is exp(0)
  for (int64_t c = 0; c < p.C; ++c) sum += double(shifted_exp[c]);
  const double log_sum = std::log(sum);
  p.lse[n] = static_cast<T>(double(row.max) + log_sum);
  if (label == kIgnoredLabel) {
    p.nll[n] = T(0);
    p.correct[n] = T(0);
    return;
  }
  // log_sum - (x_y - max): the max cancels exactly instead of being rounded into lse first.
  p.nll[n] = static_cast<T>(log_sum - (double(x[label]) - double(row.max)));
  p.correct[n] = row.argmax == label ? T(1) : T(0);
}

template <class T>
void cross_entropy_fwd(OpCall& call) {
  CrossEntropyFwdParams<T> p{};
  p.logits = call.input("logits")->data<T>();
  p.labels = call.input("labels")->data<int32_t>();
  p.nll = call.output("nll")->data<T>();
  p.lse = call.output("lse")->data<T>();
  p.correct = call.output("correct")->data<T>();
  p.N = call.dims.at("N");
  p.C = call.dims.at("C");
  training::check_indices(call.op->name, "labels", p.labels, p.N, kIgnoredLabel, p.C - 1, kIgnoredNote);
  parallel_rows(p.N, p.C, [&](int64_t first, int64_t end) {
    std::vector<T> scratch(static_cast<size_t>(p.C));
    for (int64_t n = first; n < end; ++n) cross_entropy_fwd_row(p, n, scratch);
  });
}

// ---- backward ----------------------------------------------------------------

template <class T>
struct CrossEntropyBwdParams {
  const T* logits;        // (N, C)
  const int32_t* labels;  // (N)
  const T* lse;           // (N)
  T* dlogits;             // (N, C)
  int64_t N, C;
  double scale;  // weight of every row's nll in the loss
};

template <class T>
void cross_entropy_bwd_row(const CrossEntropyBwdParams<T>& p, int64_t n) {
  const T* x = p.logits + n * p.C;
  T* dx = p.dlogits + n * p.C;
  const int32_t label = p.labels[n];
  if (label == kIgnoredLabel) {
    for (int64_t c = 0; c < p.C; ++c) dx[c] = T(0);
    return;
  }
  const T lse = p.lse[n];
  bool has_nan = false;
  for (int64_t c = 0; c < p.C; ++c) has_nan |= std::isnan(x[c]);
  if (has_nan || !std::isfinite(lse)) {
    for (int64_t c = 0; c < p.C; ++c) dx[c] = std::numeric_limits<T>::quiet_NaN();
    return;
  }
  const T scale = static_cast<T>(p.scale);
  for (int64_t c = 0; c < p.C; ++c) dx[c] = scale * exp_vectorizable<T>(x[c] - lse);
  // p_y - 1 as expm1 in double: no cancellation when the model is confident (p_y near 1).
  dx[label] = static_cast<T>(p.scale * std::expm1(double(x[label]) - double(lse)));
}

template <class T>
void cross_entropy_bwd(OpCall& call) {
  CrossEntropyBwdParams<T> p{};
  p.logits = call.input("logits")->data<T>();
  p.labels = call.input("labels")->data<int32_t>();
  p.lse = call.input("lse")->data<T>();
  p.dlogits = call.output("dlogits")->data<T>();
  p.N = call.dims.at("N");
  p.C = call.dims.at("C");
  p.scale = cross_entropy_params(call).scale;
  training::check_indices(call.op->name, "labels", p.labels, p.N, kIgnoredLabel, p.C - 1, kIgnoredNote);
  parallel_rows(p.N, p.C, [&](int64_t first, int64_t end) {
    for (int64_t n = first; n < end; ++n) cross_entropy_bwd_row(p, n);
  });
}

}  // namespace

void register_cpu_loss_kernels(Backend& backend) {
  backend.add_kernel("cross_entropy_fwd", DType::f32, cross_entropy_fwd<float>);
  backend.add_kernel("cross_entropy_fwd", DType::f64, cross_entropy_fwd<double>);
  backend.add_kernel("cross_entropy_bwd", DType::f32, cross_entropy_bwd<float>);
  backend.add_kernel("cross_entropy_bwd", DType::f64, cross_entropy_bwd<double>);
}

}  // namespace linea
