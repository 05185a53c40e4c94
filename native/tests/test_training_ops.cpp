// Training ops on the CPU: cross_entropy_fwd/bwd, gather_rows,
// scatter_add_rows, unary_fwd/bwd, binary_fwd/bwd, sum_squares, accumulate,
// adamw_step. Each against a naive reference written here (float64 to
// ~1e-12, float32 against float64 to ~1e-6), float64 finite differences for
// every backward, extreme inputs, awkward shapes, the in-place ops read back
// from their own input tensors, and the errors a caller sees. Outputs are
// NaN-poisoned wherever an op has outputs, so unwritten elements show.
//
// logits, dlogits: (N, C)  labels: (N) i32  x, dx: (N, D)  idx: (M) i32  y, dy: (M, D)
// elementwise: any shape "*S"; binary: a (*S, D), b (*S, D) or (D) with broadcast
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "grad_check.h"
#include "linea/backend.h"
#include "test_util.h"

using namespace linea;
using namespace linea::test;

namespace {

using AttrMap = std::map<std::string, AttrValue>;

Backend& cpu() { return get_backend("cpu"); }

Tensor upload_indices(const Shape& shape, const std::vector<int32_t>& idx) {
  return cpu().from_host(shape, DType::i32, idx.data());
}

template <class To, class From>
std::vector<To> convert(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}

// max |a - ref| / max(1, max |ref|): relative for large values, absolute near
// zero (where a relative error of exact zeros would be meaningless). NaN fails.
template <class A, class B>
double scaled_error(const std::vector<A>& a, const std::vector<B>& ref) {
  REQUIRE(a.size() == ref.size());
  double diff = 0, scale = 1;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(double(a[i]) - double(ref[i]));
    if (std::isnan(d)) return std::numeric_limits<double>::infinity();
    diff = std::max(diff, d);
    scale = std::max(scale, std::abs(double(ref[i])));
  }
  return diff / scale;
}

// |a - b| / |b|, for values far below 1 where doctest::Approx (which adds an absolute 1 to its scale) sees nothing.
double relative_difference(double a, double b) { return std::abs(a - b) / std::abs(b); }

// The choices of an enum attribute as the op table declares them: a kind added
// to the table without a kernel or a reference here fails these tests.
std::vector<std::string> declared_choices(const std::string& op, const std::string& attr) {
  for (const auto& a : find_op(op).attrs)
    if (a.name == attr) return a.choices;
  FAIL(op << " declares no attribute '" << attr << "'");
  return {};
}

std::vector<int32_t> random_indices(int64_t n, int64_t lowest, int64_t highest, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(static_cast<int32_t>(lowest), static_cast<int32_t>(highest));
  std::vector<int32_t> out(static_cast<size_t>(n));
  for (auto& v : out) v = dist(rng);
  return out;
}

// Labels in -1..C-1 with row 0 ignored and the last row labelled C-1 (when N > 1).
std::vector<int32_t> random_labels(int64_t N, int64_t C, uint32_t seed) {
  auto labels = random_indices(N, -1, C - 1, seed);
  if (N > 1) {
    labels.front() = -1;
    labels.back() = int32_t(C - 1);
  } else {
    labels[0] = int32_t(C - 1);
  }
  return labels;
}

// ---- cross-entropy -------------------------------------------------------------

template <class T>
struct CrossEntropyOut {
  std::vector<T> nll, lse, correct;
};

template <class T>
CrossEntropyOut<T> cross_entropy(int64_t N, int64_t C, const std::vector<T>& logits,
                                 const std::vector<int32_t>& labels) {
  const auto out = run_op(cpu(), "cross_entropy_fwd",
                          {{"logits", upload<T>(cpu(), {N, C}, logits)}, {"labels", upload_indices({N}, labels)}}, {});
  return {download<T>(out.at("nll")), download<T>(out.at("lse")), download<T>(out.at("correct"))};
}

template <class T>
std::vector<T> cross_entropy_grad(int64_t N, int64_t C, const std::vector<T>& logits,
                                  const std::vector<int32_t>& labels, const std::vector<T>& lse, double scale) {
  const auto out = run_op(cpu(), "cross_entropy_bwd",
                          {{"logits", upload<T>(cpu(), {N, C}, logits)},
                           {"labels", upload_indices({N}, labels)},
                           {"lse", upload<T>(cpu(), {N}, lse)}},
                          {{"scale", scale}});
  return download<T>(out.at("dlogits"));
}

struct CrossEntropyReference {
  std::vector<double> nll, lse, correct, dlogits;
};

// Straight from the definitions: softmax over each row, the row max subtracted first.
CrossEntropyReference reference_cross_entropy(int64_t N, int64_t C, const std::vector<double>& logits,
                                              const std::vector<int32_t>& labels, double scale) {
  CrossEntropyReference r;
  r.dlogits.assign(static_cast<size_t>(N * C), 0.0);
  for (int64_t n = 0; n < N; ++n) {
    const double* x = logits.data() + n * C;
    int64_t argmax = 0;
    for (int64_t c = 1; c < C; ++c)
      if (x[c] > x[argmax]) argmax = c;
    double sum = 0;
    for (int64_t c = 0; c < C; ++c) sum += std::exp(x[c] - x[argmax]);
    const double lse = x[argmax] + std::log(sum);
    const int32_t y = labels[n];
    r.lse.push_back(lse);
    r.nll.push_back(y < 0 ? 0.0 : lse - x[y]);
    r.correct.push_back(y >= 0 && argmax == y ? 1.0 : 0.0);
    if (y < 0) continue;
    for (int64_t c = 0; c < C; ++c) r.dlogits[n * C + c] = scale * (std::exp(x[c] - lse) - (c == y ? 1.0 : 0.0));
  }
  return r;
}

// (N, C): one element, one class, two classes, a vocabulary-sized row.
const std::vector<std::pair<int64_t, int64_t>> kCrossEntropyShapes = {
    {5, 7}, {1, 1}, {1, 2}, {3, 2}, {4, 1}, {17, 300}, {9, 1000},
};

// ---- rows ------------------------------------------------------------------------

template <class T>
std::vector<T> gather(int64_t N, int64_t D, const std::vector<T>& x, const std::vector<int32_t>& idx) {
  const int64_t M = int64_t(idx.size());
  const auto out =
      run_op(cpu(), "gather_rows", {{"x", upload<T>(cpu(), {N, D}, x)}, {"idx", upload_indices({M}, idx)}}, {});
  REQUIRE(out.at("y").shape == Shape{M, D});
  return download<T>(out.at("y"));
}

template <class T>
std::vector<T> scatter_add(int64_t N, int64_t D, const std::vector<int32_t>& idx, const std::vector<T>& dy) {
  const int64_t M = int64_t(idx.size());
  const auto out = run_op(cpu(), "scatter_add_rows",
                          {{"idx", upload_indices({M}, idx)},
                           {"dy", upload<T>(cpu(), {M, D}, dy)},
                           {"x", cpu().empty({N, D}, dtype_of<T>())}},  // only its shape is used
                          {});
  REQUIRE(out.at("dx").shape == Shape{N, D});
  return download<T>(out.at("dx"));
}

// (N, D, M): duplicates, one row, D = 1, more gathered rows than table rows and fewer.
struct RowsShape {
  int64_t N, D, M;
};
const std::vector<RowsShape> kRowsShapes = {
    {5, 3, 8}, {1, 1, 1}, {1, 4, 3}, {7, 1, 20}, {300, 33, 1000}, {50, 6, 4},
};

// ---- unary -------------------------------------------------------------------------

AttrMap unary_attrs(const std::string& kind, double alpha) { return {{"kind", kind}, {"alpha", alpha}}; }

template <class T>
std::vector<T> unary(const std::string& kind, const Shape& shape, const std::vector<T>& x, double alpha = 1.0) {
  const auto out = run_op(cpu(), "unary_fwd", {{"x", upload<T>(cpu(), shape, x)}}, unary_attrs(kind, alpha));
  REQUIRE(out.at("y").shape == shape);
  return download<T>(out.at("y"));
}

template <class T>
std::vector<T> unary_grad(const std::string& kind, const Shape& shape, const std::vector<T>& x,
                          const std::vector<T>& dy, double alpha = 1.0) {
  const auto out = run_op(cpu(), "unary_bwd", {{"x", upload<T>(cpu(), shape, x)}, {"dy", upload<T>(cpu(), shape, dy)}},
                          unary_attrs(kind, alpha));
  REQUIRE(out.at("dx").shape == shape);
  return download<T>(out.at("dx"));
}

// The textbook formulas (naive: fine for the moderate inputs they are used on).
double reference_unary(const std::string& kind, double x) {
  if (kind == "identity") return x;
  if (kind == "silu") return x / (1.0 + std::exp(-x));
  if (kind == "sigmoid") return 1.0 / (1.0 + std::exp(-x));
  if (kind == "softplus") return std::log(1.0 + std::exp(x));
  if (kind == "logsigmoid") return -std::log(1.0 + std::exp(-x));
  if (kind == "exp") return std::exp(x);
  if (kind == "neg_exp") return -std::exp(x);
  FAIL("no reference for unary kind '" << kind << "': add one to this test");
  return 0;
}

// Rank 1, rank 4 with a unit dim, a single element, a long rank 2.
const std::vector<Shape> kElementwiseShapes = {{7}, {2, 3, 1, 5}, {1}, {3, 4000}};

// ---- binary ------------------------------------------------------------------------

AttrMap binary_attrs(const std::string& kind, bool broadcast) { return {{"kind", kind}, {"broadcast", broadcast}}; }

Shape b_shape(const Shape& a_shape, bool broadcast) { return broadcast ? Shape{a_shape.back()} : a_shape; }

template <class T>
std::vector<T> binary(const std::string& kind, bool broadcast, const Shape& a_shape, const std::vector<T>& a,
                      const std::vector<T>& b) {
  const auto out =
      run_op(cpu(), "binary_fwd",
             {{"a", upload<T>(cpu(), a_shape, a)}, {"b", upload<T>(cpu(), b_shape(a_shape, broadcast), b)}},
             binary_attrs(kind, broadcast));
  REQUIRE(out.at("y").shape == a_shape);
  return download<T>(out.at("y"));
}

template <class T>
std::pair<std::vector<T>, std::vector<T>> binary_grad(const std::string& kind, bool broadcast, const Shape& a_shape,
                                                      const std::vector<T>& a, const std::vector<T>& b,
                                                      const std::vector<T>& dy) {
  const auto out = run_op(cpu(), "binary_bwd",
                          {{"a", upload<T>(cpu(), a_shape, a)},
                           {"b", upload<T>(cpu(), b_shape(a_shape, broadcast), b)},
                           {"dy", upload<T>(cpu(), a_shape, dy)}},
                          binary_attrs(kind, broadcast));
  REQUIRE(out.at("da").shape == a_shape);
  REQUIRE(out.at("db").shape == b_shape(a_shape, broadcast));
  return {download<T>(out.at("da")), download<T>(out.at("db"))};
}

struct BinaryReference {
  std::vector<double> y, da, db;
};

BinaryReference reference_binary(const std::string& kind, bool broadcast, int64_t D, const std::vector<double>& a,
                                 const std::vector<double>& b, const std::vector<double>& dy) {
  const bool mul = kind == "mul";
  BinaryReference r;
  r.db.assign(b.size(), 0.0);
  for (size_t i = 0; i < a.size(); ++i) {
    const size_t j = broadcast ? i % size_t(D) : i;
    r.y.push_back(mul ? a[i] * b[j] : a[i] + b[j]);
    r.da.push_back(mul ? dy[i] * b[j] : dy[i]);
    r.db[j] += mul ? dy[i] * a[i] : dy[i];
  }
  return r;
}

// ---- adamw -----------------------------------------------------------------------

struct AdamWConfig {
  double lr, beta1, beta2, eps, weight_decay, grad_scale;
};

AttrMap adamw_attrs(const AdamWConfig& c, int64_t step) {
  return {
      {"lr", c.lr},   {"beta1", c.beta1},          {"beta2", c.beta2}, {"eps", c.eps}, {"weight_decay", c.weight_decay},
      {"step", step}, {"grad_scale", c.grad_scale}};
}

struct AdamWState {
  std::vector<double> param, m, v;
};

// torch.optim.AdamW's update, written out literally.
void reference_adamw_step(AdamWState& s, const std::vector<double>& grad, const AdamWConfig& c, int64_t step) {
  for (size_t i = 0; i < s.param.size(); ++i) {
    const double g = grad[i] * c.grad_scale;
    s.param[i] *= 1.0 - c.lr * c.weight_decay;
    s.m[i] = c.beta1 * s.m[i] + (1.0 - c.beta1) * g;
    s.v[i] = c.beta2 * s.v[i] + (1.0 - c.beta2) * g * g;
    const double m_hat = s.m[i] / (1.0 - std::pow(c.beta1, double(step)));
    const double v_hat = s.v[i] / (1.0 - std::pow(c.beta2, double(step)));
    s.param[i] -= c.lr * m_hat / (std::sqrt(v_hat) + c.eps);
  }
}

}  // namespace

// =====================================================================================
// cross-entropy
// =====================================================================================

TEST_CASE("cross_entropy_fwd matches a naive reference (f64; f32 vs f64; ignored rows; awkward shapes)") {
  PoisonOutputs poison;
  for (const auto& shape : kCrossEntropyShapes) {
    const int64_t N = shape.first, C = shape.second;
    INFO("N = " << N << ", C = " << C);
    const auto logits32 = random_vector<float>(N * C, 11, 3.0);
    const auto logits = convert<double>(logits32);
    const auto labels = random_labels(N, C, 12);
    const auto ref = reference_cross_entropy(N, C, logits, labels, 1.0);

    const auto out = cross_entropy<double>(N, C, logits, labels);
    CHECK(scaled_error(out.nll, ref.nll) < 1e-12);
    CHECK(scaled_error(out.lse, ref.lse) < 1e-12);
    CHECK(out.correct == ref.correct);

    const auto out32 = cross_entropy<float>(N, C, logits32, labels);
    CHECK(scaled_error(out32.nll, out.nll) < 1e-6);
    CHECK(scaled_error(out32.lse, out.lse) < 1e-6);
    CHECK(convert<double>(out32.correct) == out.correct);
    for (int64_t n = 0; n < N; ++n)
      if (labels[n] < 0) {
        CHECK(out.nll[n] == 0.0);
        CHECK(out32.nll[n] == 0.0f);
        CHECK(std::isfinite(out.lse[n]));  // lse is computed on ignored rows too
      }
  }
}

TEST_CASE("cross_entropy_bwd matches a naive reference and finite differences of scale * sum(nll) (f64)") {
  PoisonOutputs poison;
  constexpr double kScale = 0.37;  // not 1: the backward must apply it
  for (const auto& shape : kCrossEntropyShapes) {
    const int64_t N = shape.first, C = shape.second;
    INFO("N = " << N << ", C = " << C);
    auto logits = random_vector<double>(N * C, 21, 2.0);
    const auto labels = random_labels(N, C, 22);
    const auto fwd = cross_entropy<double>(N, C, logits, labels);
    const auto dlogits = cross_entropy_grad<double>(N, C, logits, labels, fwd.lse, kScale);
    CHECK(scaled_error(dlogits, reference_cross_entropy(N, C, logits, labels, kScale).dlogits) < 1e-12);
    if (N > 1)
      for (int64_t c = 0; c < C; ++c) CHECK(dlogits[c] == 0.0);  // random_labels ignores row 0
    check_gradients(
        [&] {
          double loss = 0;
          for (double v : cross_entropy<double>(N, C, logits, labels).nll) loss += kScale * v;
          return loss;
        },
        {{"logits", &logits, &dlogits}});
  }
}

TEST_CASE("cross_entropy_bwd in f32 agrees with f64") {
  PoisonOutputs poison;
  for (const auto& shape : kCrossEntropyShapes) {
    const int64_t N = shape.first, C = shape.second;
    INFO("N = " << N << ", C = " << C);
    const auto logits32 = random_vector<float>(N * C, 31, 3.0);
    const auto labels = random_labels(N, C, 32);
    const auto logits = convert<double>(logits32);
    const auto d64 =
        cross_entropy_grad<double>(N, C, logits, labels, cross_entropy<double>(N, C, logits, labels).lse, 0.5);
    const auto d32 =
        cross_entropy_grad<float>(N, C, logits32, labels, cross_entropy<float>(N, C, logits32, labels).lse, 0.5);
    CHECK(scaled_error(d32, d64) < 1e-6);
  }
}

TEST_CASE("cross_entropy: logits of +-1000 stay finite and exact (f32 and f64)") {
  PoisonOutputs poison;
  constexpr int64_t N = 4, C = 5;
  // A naive exp(1000) overflows; exp(-1000) underflows to a log(0).
  const std::vector<double> logits = {
      1000,  -1000, 999,   0,     1000,   // two maxima, a near one, a far one
      -1000, -1000, -1000, -1000, -1000,  // all equal and very negative: uniform
      1000,  1000,  1000,  1000,  1000,   // all equal and very positive: uniform
      -1000, 1000,  -1000, -999,  500,    //
  };
  const std::vector<int32_t> labels = {1, 3, 4, 0};  // a -1000 label under a +1000 max: nll = 2000
  const auto ref = reference_cross_entropy(N, C, logits, labels, 1.0);
  const auto out = cross_entropy<double>(N, C, logits, labels);
  const auto out32 = cross_entropy<float>(N, C, convert<float>(logits), labels);
  const auto d = cross_entropy_grad<double>(N, C, logits, labels, out.lse, 1.0);
  const auto d32 = cross_entropy_grad<float>(N, C, convert<float>(logits), labels, out32.lse, 1.0);
  for (const auto* v : {&out.nll, &out.lse, &d}) CHECK(all_finite(*v));
  for (const auto* v : {&out32.nll, &out32.lse, &d32}) CHECK(all_finite(*v));
  CHECK(scaled_error(out.nll, ref.nll) < 1e-12);
  CHECK(scaled_error(out.lse, ref.lse) < 1e-12);
  CHECK(scaled_error(d, ref.dlogits) < 1e-12);
  CHECK(scaled_error(out32.nll, ref.nll) < 1e-6);
  CHECK(scaled_error(out32.lse, ref.lse) < 1e-6);
  // float's lse carries an absolute rounding of ~ulp(1000) = 6e-5 into every probability.
  CHECK(scaled_error(d32, ref.dlogits) < 1e-4);
  CHECK(out.nll[0] == doctest::Approx(2000.0 + std::log(2.0 + std::exp(-1.0))));
  CHECK(out.nll[1] == doctest::Approx(std::log(5.0)));
  CHECK(out.nll[2] == doctest::Approx(std::log(5.0)));
}

TEST_CASE("cross_entropy: correct counts argmax ties to the lowest index") {
  PoisonOutputs poison;
  constexpr int64_t C = 4;
  const std::vector<double> logits = {
      1, 3, 3, 0,  // tie between 1 and 2: argmax 1
      1, 3, 3, 0,  //
      2, 2, 2, 2,  // all tied: argmax 0
      2, 2, 2, 2,  //
      0, 0, 0, 5,  // clear argmax 3
      0, 0, 0, 5,  // ignored: never correct
  };
  const std::vector<int32_t> labels = {1, 2, 0, 3, 3, -1};
  const std::vector<double> expected = {1, 0, 1, 0, 1, 0};
  const int64_t N = int64_t(labels.size());
  CHECK(cross_entropy<double>(N, C, logits, labels).correct == expected);
  CHECK(convert<double>(cross_entropy<float>(N, C, convert<float>(logits), labels).correct) == expected);
}

TEST_CASE("cross_entropy: an all-ignored batch gives zero loss, zero correct and zero gradients") {
  PoisonOutputs poison;
  constexpr int64_t N = 6, C = 9;
  const auto logits = random_vector<double>(N * C, 41);
  const std::vector<int32_t> labels(N, -1);
  const auto out = cross_entropy<double>(N, C, logits, labels);
  CHECK(out.nll == std::vector<double>(N, 0.0));
  CHECK(out.correct == std::vector<double>(N, 0.0));
  CHECK(scaled_error(out.lse, reference_cross_entropy(N, C, logits, labels, 1.0).lse) < 1e-12);
  CHECK(cross_entropy_grad<double>(N, C, logits, labels, out.lse, 2.0) == std::vector<double>(N * C, 0.0));
  const auto out32 = cross_entropy<float>(N, C, convert<float>(logits), labels);
  CHECK(out32.nll == std::vector<float>(N, 0.0f));
  CHECK(cross_entropy_grad<float>(N, C, convert<float>(logits), labels, out32.lse, 2.0) ==
        std::vector<float>(N * C, 0.0f));
}

TEST_CASE("cross_entropy: a row with a NaN logit gives NaN loss and gradients, its neighbours are untouched") {
  PoisonOutputs poison;
  constexpr int64_t N = 3, C = 3;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> logits = {0.5, nan, 1.0, 0.1, 0.2, 0.3, nan, 0, 0};
  const std::vector<int32_t> labels = {0, 2, -1};
  const auto out = cross_entropy<double>(N, C, logits, labels);
  CHECK(std::isnan(out.nll[0]));
  CHECK(std::isnan(out.lse[0]));
  CHECK(out.correct[0] == 0.0);
  CHECK(out.nll[2] == 0.0);  // ignored rows stay out of the loss, NaN or not
  const auto ref = reference_cross_entropy(1, C, {0.1, 0.2, 0.3}, {2}, 1.0);
  CHECK(out.nll[1] == doctest::Approx(ref.nll[0]).epsilon(1e-14));
  const auto d = cross_entropy_grad<double>(N, C, logits, labels, out.lse, 1.0);
  for (int64_t c = 0; c < C; ++c) {
    CHECK(std::isnan(d[c]));
    CHECK(std::isfinite(d[C + c]));
    CHECK(d[2 * C + c] == 0.0);
  }
}

TEST_CASE("cross_entropy errors name the row, tensor or attribute and what is valid") {
  const auto logits = random_tensor<float>(cpu(), {5, 512}, 51);
  const auto lse = random_tensor<float>(cpu(), {5}, 52);
  auto labels_with = [](int64_t row, int32_t value) {
    std::vector<int32_t> labels = {0, -1, 511, 7, 3};
    labels[row] = value;
    return upload_indices({5}, labels);
  };

  CHECK(error_of([&] {
          run_op(cpu(), "cross_entropy_fwd", {{"logits", logits}, {"labels", labels_with(3, 512)}}, {});
        }) == "cross_entropy_fwd: labels[3] = 512 is outside -1..511 (-1 = ignored)");
  CHECK(error_of([&] {
          run_op(cpu(), "cross_entropy_fwd", {{"logits", logits}, {"labels", labels_with(0, -2)}}, {});
        }) == "cross_entropy_fwd: labels[0] = -2 is outside -1..511 (-1 = ignored)");
  CHECK(
      error_of([&] {
        run_op(cpu(), "cross_entropy_bwd", {{"logits", logits}, {"labels", labels_with(4, 100000)}, {"lse", lse}}, {});
      }) == "cross_entropy_bwd: labels[4] = 100000 is outside -1..511 (-1 = ignored)");

  const auto labels_f32 = random_tensor<float>(cpu(), {5}, 53);
  CHECK(error_of([&] {
          run_op(cpu(), "cross_entropy_fwd", {{"logits", logits}, {"labels", labels_f32}}, {});
        }) == "cross_entropy_fwd: labels has dtype f32; indices are i32");

  const auto labels_long = upload_indices({6}, {0, 0, 0, 0, 0, 0});
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "cross_entropy_fwd", {{"logits", logits}, {"labels", labels_long}}, {});
                 }),
                 "cross_entropy_fwd: labels has shape [6], expected [N=5] (N is 5 from logits, got 6)"));

  const auto logits_i32 = upload_indices({1, 2}, {0, 1});
  CHECK(error_of([&] {
          run_op(cpu(), "cross_entropy_fwd", {{"logits", logits_i32}, {"labels", upload_indices({1}, {0})}}, {});
        }) == "cross_entropy_fwd: logits has dtype i32; valid: f32, f64, bf16, f16");

  const auto lse_wrong = random_tensor<float>(cpu(), {5, 1}, 54);
  CHECK(contains(
      error_of([&] {
        run_op(cpu(), "cross_entropy_bwd", {{"logits", logits}, {"labels", labels_with(0, 0)}, {"lse", lse_wrong}}, {});
      }),
      "cross_entropy_bwd: lse has shape [5, 1], expected [N=5]"));
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "cross_entropy_bwd", {{"logits", logits}, {"labels", labels_with(0, 0)}}, {});
                 }),
                 "cross_entropy_bwd: missing input lse [N]"));
  CHECK(error_of([&] {
          run_op(cpu(), "cross_entropy_bwd", {{"logits", logits}, {"labels", labels_with(0, 0)}, {"lse", lse}},
                 {{"scale", std::string("mean")}});
        }) == "cross_entropy_bwd: attribute scale = 'mean' must be a number");
}

// =====================================================================================
// rows
// =====================================================================================

TEST_CASE("gather_rows and scatter_add_rows match naive references (duplicates, N = 1, D = 1; f32 vs f64)") {
  PoisonOutputs poison;
  for (const RowsShape& shape : kRowsShapes) {
    const int64_t N = shape.N, D = shape.D, M = shape.M;
    INFO("N = " << N << ", D = " << D << ", M = " << M);
    const auto x32 = random_vector<float>(N * D, 61);
    const auto dy32 = random_vector<float>(M * D, 62);
    const auto idx = random_indices(M, 0, N - 1, 63);
    std::vector<double> gathered, scattered(static_cast<size_t>(N * D), 0.0);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t d = 0; d < D; ++d) {
        gathered.push_back(x32[idx[m] * D + d]);
        scattered[idx[m] * D + d] += dy32[m * D + d];
      }
    CHECK(gather<double>(N, D, convert<double>(x32), idx) == gathered);  // a copy: exact
    CHECK(convert<double>(gather<float>(N, D, x32, idx)) == gathered);
    const auto dx = scatter_add<double>(N, D, idx, convert<double>(dy32));
    CHECK(scaled_error(dx, scattered) < 1e-12);
    CHECK(scaled_error(scatter_add<float>(N, D, idx, dy32), dx) < 1e-6);
    for (int64_t n = 0; n < N; ++n)  // rows no index names are zero, not poison
      if (std::find(idx.begin(), idx.end(), int32_t(n)) == idx.end())
        for (int64_t d = 0; d < D; ++d) CHECK(dx[n * D + d] == 0.0);
  }
}

TEST_CASE("scatter_add_rows accumulates repeated rows in double (f32: 100000 x 0.1 into one row)") {
  PoisonOutputs poison;
  constexpr int64_t M = 100000, N = 3, D = 2;
  const std::vector<float> dy(M * D, 0.1f);
  const std::vector<int32_t> idx(M, 1);
  const auto dx = scatter_add<float>(N, D, idx, dy);
  const double exact = double(M) * double(0.1f);
  // Summed in float, the error would be ~1e-4 relative; in double it is float's rounding, 6e-8.
  CHECK(std::abs(double(dx[2]) - exact) / exact < 1.2e-7);
  CHECK(std::abs(double(dx[3]) - exact) / exact < 1.2e-7);
  CHECK(dx[0] == 0.0f);
  CHECK(dx[5] == 0.0f);
}

TEST_CASE("gather_rows and scatter_add_rows are each other's gradient (f64 finite differences)") {
  PoisonOutputs poison;
  for (const RowsShape& shape : kRowsShapes) {
    const int64_t N = shape.N, D = shape.D, M = shape.M;
    INFO("N = " << N << ", D = " << D << ", M = " << M);
    const auto idx = random_indices(M, 0, N - 1, 71);
    // L(x) = <gather(x), w>: dL/dx = scatter_add(idx, w).
    auto x = random_vector<double>(N * D, 72);
    const auto w = random_vector<double>(M * D, 73);
    const auto dx = scatter_add<double>(N, D, idx, w);
    check_gradients([&] { return dot(gather<double>(N, D, x, idx), w); }, {{"x", &x, &dx}});
    // L(dy) = <scatter_add(dy), u>: dL/ddy = gather(u, idx).
    auto dy = random_vector<double>(M * D, 74);
    const auto u = random_vector<double>(N * D, 75);
    const auto ddy = gather<double>(N, D, u, idx);
    check_gradients([&] { return dot(scatter_add<double>(N, D, idx, dy), u); }, {{"dy", &dy, &ddy}});
  }
}

TEST_CASE("rows errors name the position and value of a bad index, and the tensor of a bad shape") {
  const auto x = random_tensor<float>(cpu(), {5, 3}, 81);
  const auto dy = random_tensor<float>(cpu(), {4, 3}, 82);
  const auto bad_high = upload_indices({4}, {0, 4, 7, 1});
  const auto bad_low = upload_indices({4}, {-1, 0, 0, 0});
  CHECK(error_of([&] {
          run_op(cpu(), "gather_rows", {{"x", x}, {"idx", bad_high}}, {});
        }) == "gather_rows: idx[2] = 7 is outside 0..4 (x has N = 5 rows)");
  CHECK(error_of([&] {
          run_op(cpu(), "gather_rows", {{"x", x}, {"idx", bad_low}}, {});
        }) == "gather_rows: idx[0] = -1 is outside 0..4 (x has N = 5 rows)");
  CHECK(error_of([&] {
          run_op(cpu(), "scatter_add_rows", {{"idx", bad_high}, {"dy", dy}, {"x", x}}, {});
        }) == "scatter_add_rows: idx[2] = 7 is outside 0..4 (x has N = 5 rows)");

  const auto idx_f32 = random_tensor<float>(cpu(), {4}, 83);
  CHECK(error_of([&] {
          run_op(cpu(), "gather_rows", {{"x", x}, {"idx", idx_f32}}, {});
        }) == "gather_rows: idx has dtype f32; indices are i32");
  const auto idx_2d = upload_indices({2, 2}, {0, 1, 2, 3});
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "gather_rows", {{"x", x}, {"idx", idx_2d}}, {});
                 }),
                 "gather_rows: idx has shape [2, 2], expected [M]"));
  const auto x_wide = random_tensor<float>(cpu(), {5, 4}, 84);
  const auto idx = upload_indices({4}, {0, 1, 2, 3});
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "scatter_add_rows", {{"idx", idx}, {"dy", dy}, {"x", x_wide}}, {});
                 }),
                 "scatter_add_rows: x has shape [5, 4], expected [N=5, D=3] (D is 3 from dy, got 4)"));
  const auto dy_short = random_tensor<float>(cpu(), {3, 3}, 85);
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "scatter_add_rows", {{"idx", idx}, {"dy", dy_short}, {"x", x}}, {});
                 }),
                 "scatter_add_rows: dy has shape [3, 3], expected [M=4, D] (M is 4 from idx, got 3)"));
}

// =====================================================================================
// unary
// =====================================================================================

TEST_CASE("unary_fwd matches a naive reference for every declared kind (f64; f32 vs f64; rank 1 to 4; alpha)") {
  PoisonOutputs poison;
  for (const auto& kind : declared_choices("unary_fwd", "kind"))
    for (const auto& shape : kElementwiseShapes)
      for (double alpha : {1.0, -0.75}) {
        INFO("kind " << kind << ", x " << shape_str(shape) << ", alpha " << alpha);
        const auto x32 = random_vector<float>(numel(shape), 91, 2.0);
        const auto x = convert<double>(x32);
        std::vector<double> ref;
        for (double v : x) ref.push_back(alpha * reference_unary(kind, v));
        const auto y = unary<double>(kind, shape, x, alpha);
        CHECK(scaled_error(y, ref) < 1e-12);
        CHECK(scaled_error(unary<float>(kind, shape, x32, alpha), y) < 1e-6);
      }
}

TEST_CASE("unary_bwd matches finite differences for every kind (f64), and f32 agrees with f64") {
  PoisonOutputs poison;
  for (const auto& kind : declared_choices("unary_bwd", "kind"))
    for (const auto& shape : kElementwiseShapes) {
      constexpr double kAlpha = 1.3;
      INFO("kind " << kind << ", x " << shape_str(shape));
      const auto x32 = random_vector<float>(numel(shape), 101, 2.0);
      const auto dy32 = random_vector<float>(numel(shape), 102);
      auto x = convert<double>(x32);
      const auto dy = convert<double>(dy32);
      const auto dx = unary_grad<double>(kind, shape, x, dy, kAlpha);
      check_gradients([&] { return dot(unary<double>(kind, shape, x, kAlpha), dy); }, {{"x", &x, &dx}});
      CHECK(scaled_error(unary_grad<float>(kind, shape, x32, dy32, kAlpha), dx) < 1e-6);
    }
}

TEST_CASE("sigmoid and silu gradients keep their relative accuracy in f32 where 1 - sigmoid(x) is tiny") {
  // s (1 - s) written with 1 - s as a subtraction keeps a few bits at x = 9 and is 0 from x = 17 on
  // in f32; as sigmoid(x) sigmoid(-x) it stays within a few ulps of e^-|x| / (1 + e^-|x|)^2.
  PoisonOutputs poison;
  const std::vector<float> x = {-30, -20, -9, 9, 20, 30};
  const Shape shape{int64_t(x.size())};
  const auto sigmoid_grad = unary_grad<float>("sigmoid", shape, x, std::vector<float>(x.size(), 1.0f));
  const auto silu_grad = unary_grad<float>("silu", shape, x, std::vector<float>(x.size(), 1.0f));
  for (size_t i = 0; i < x.size(); ++i) {
    INFO("x " << x[i]);
    const double e = std::exp(-std::abs(double(x[i])));
    const double s = x[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    CHECK(relative_difference(sigmoid_grad[i], e / ((1.0 + e) * (1.0 + e))) < 1e-5);
    CHECK(relative_difference(silu_grad[i], s * (1.0 + x[i] * (1.0 - s))) < 1e-5);
  }
}

TEST_CASE("unary kinds at extreme inputs (+-100, +-30, 0) give finite values and gradients") {
  PoisonOutputs poison;
  const std::vector<double> x = {-100, -30, -1, 0, 1, 30, 100};
  const Shape shape{int64_t(x.size())};
  const std::vector<double> ones(x.size(), 1.0);
  for (const auto& kind : declared_choices("unary_fwd", "kind")) {
    INFO("kind " << kind);
    CHECK(all_finite(unary<double>(kind, shape, x)));
    CHECK(all_finite(unary_grad<double>(kind, shape, x, ones)));
    // In f32, exp(100) = 2.7e43 is beyond float's 3.4e38: exp and neg_exp overflow there, as
    // the op doc says. Every other kind, and exp elsewhere, stays finite.
    const bool overflows_f32 = kind == "exp" || kind == "neg_exp";
    const std::vector<float> x32 = overflows_f32 ? std::vector<float>(x.begin(), x.end() - 1) : convert<float>(x);
    const Shape shape32{int64_t(x32.size())};
    CHECK(all_finite(unary<float>(kind, shape32, x32)));
    CHECK(all_finite(unary_grad<float>(kind, shape32, x32, std::vector<float>(x32.size(), 1.0f))));
  }
  const auto softplus = unary<double>("softplus", shape, x);
  const auto logsigmoid = unary<double>("logsigmoid", shape, x);
  CHECK(softplus[6] == 100.0);
  CHECK(relative_difference(softplus[0], std::exp(-100.0)) < 1e-12);  // > 0, not rounded to 0
  CHECK(softplus[3] == doctest::Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(logsigmoid[0] == -100.0);
  CHECK(relative_difference(logsigmoid[6], -std::exp(-100.0)) < 1e-12);
  const auto softplus32 = unary<float>("softplus", shape, convert<float>(x));
  const auto logsigmoid32 = unary<float>("logsigmoid", shape, convert<float>(x));
  CHECK(softplus32[6] == 100.0f);
  CHECK(logsigmoid32[0] == -100.0f);
  const auto softplus_grad = unary_grad<double>("softplus", shape, x, ones);
  const auto logsigmoid_grad = unary_grad<double>("logsigmoid", shape, x, ones);
  CHECK(softplus_grad[6] == 1.0);
  CHECK(logsigmoid_grad[0] == 1.0);
  CHECK(relative_difference(logsigmoid_grad[6], std::exp(-100.0)) < 1e-12);
  const auto silu = unary<double>("silu", shape, x);
  CHECK(silu[6] == 100.0);
  CHECK(relative_difference(silu[0], -100.0 * std::exp(-100.0)) < 1e-12);
  CHECK(unary<float>("exp", {1}, {100.0f})[0] == std::numeric_limits<float>::infinity());
  const auto neg_exp = unary<double>("neg_exp", {2}, {0.0, std::log(3.0)});
  CHECK(neg_exp[0] == -1.0);
  CHECK(relative_difference(neg_exp[1], -3.0) < 1e-15);
}

TEST_CASE("unary errors name the attribute or tensor and what is valid") {
  const auto x = random_tensor<float>(cpu(), {3, 2}, 111);
  const auto dy = random_tensor<float>(cpu(), {2, 3}, 112);
  CHECK(error_of([&] {
          run_op(cpu(), "unary_fwd", {{"x", x}}, {{"kind", std::string("tanh")}});
        }) ==
        "unary_fwd: attribute kind = 'tanh' is not valid; valid: identity, silu, sigmoid, softplus, logsigmoid, exp, "
        "neg_exp");
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "unary_bwd", {{"x", x}, {"dy", dy}}, {});
                 }),
                 "unary_bwd: dy has shape [2, 3], expected [*S=[3, 2]] (its leading dims must be [3, 2] as in x)"));
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "unary_fwd", {{"x", x}}, {{"alpha", std::string("2")}});
                 }),
                 "unary_fwd: attribute alpha = '2' must be a number"));
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "unary_fwd", {{"y", x}}, {});
                 }),
                 "unary_fwd: unknown input 'y'; inputs: x"));
}

// =====================================================================================
// binary
// =====================================================================================

TEST_CASE("binary_fwd and binary_bwd match a naive reference (add, mul; with and without broadcast; f32 vs f64)") {
  PoisonOutputs poison;
  const std::vector<Shape> shapes = {{7}, {2, 3, 1, 5}, {1, 1}, {4, 1}, {300, 70}, {2, 3000}};
  for (const auto& kind : declared_choices("binary_fwd", "kind"))
    for (bool broadcast : {false, true})
      for (const auto& shape : shapes) {
        INFO("kind " << kind << ", broadcast " << broadcast << ", a " << shape_str(shape));
        const int64_t D = shape.back();
        const auto a32 = random_vector<float>(numel(shape), 121);
        const auto b32 = random_vector<float>(numel(b_shape(shape, broadcast)), 122);
        const auto dy32 = random_vector<float>(numel(shape), 123);
        const auto a = convert<double>(a32), b = convert<double>(b32), dy = convert<double>(dy32);
        const auto ref = reference_binary(kind, broadcast, D, a, b, dy);
        const auto y = binary<double>(kind, broadcast, shape, a, b);
        const auto [da, db] = binary_grad<double>(kind, broadcast, shape, a, b, dy);
        CHECK(scaled_error(y, ref.y) < 1e-12);
        CHECK(scaled_error(da, ref.da) < 1e-12);
        CHECK(scaled_error(db, ref.db) < 1e-12);
        const auto [da32, db32] = binary_grad<float>(kind, broadcast, shape, a32, b32, dy32);
        CHECK(scaled_error(binary<float>(kind, broadcast, shape, a32, b32), y) < 1e-6);
        CHECK(scaled_error(da32, da) < 1e-6);
        CHECK(scaled_error(db32, db) < 1e-6);
      }
}

TEST_CASE("binary_bwd matches finite differences (f64; add, mul; with and without broadcast)") {
  PoisonOutputs poison;
  const std::vector<Shape> shapes = {{6}, {2, 3, 1, 5}, {1, 1}, {9, 1}, {40, 12}};
  for (const auto& kind : declared_choices("binary_bwd", "kind"))
    for (bool broadcast : {false, true})
      for (const auto& shape : shapes) {
        INFO("kind " << kind << ", broadcast " << broadcast << ", a " << shape_str(shape));
        auto a = random_vector<double>(numel(shape), 131);
        auto b = random_vector<double>(numel(b_shape(shape, broadcast)), 132);
        const auto dy = random_vector<double>(numel(shape), 133);
        const auto [da, db] = binary_grad<double>(kind, broadcast, shape, a, b, dy);
        check_gradients([&] { return dot(binary<double>(kind, broadcast, shape, a, b), dy); },
                        {{"a", &a, &da}, {"b", &b, &db}});
      }
}

TEST_CASE("binary_bwd's broadcast db sums rows in double (f32: 100000 rows of 0.1)") {
  PoisonOutputs poison;
  constexpr int64_t R = 100000, D = 3;
  const std::vector<float> a(R * D, 1.0f), b(D, 2.0f), dy(R * D, 0.1f);
  const double exact = double(R) * double(0.1f);
  for (const std::string kind : {"add", "mul"}) {
    INFO("kind " << kind);
    const auto db = binary_grad<float>(kind, true, {R, D}, a, b, dy).second;
    for (float v : db) CHECK(std::abs(double(v) - exact) / exact < 1.2e-7);
  }
}

TEST_CASE("binary_bwd's broadcast db and sum_squares on a tall, wide matrix (capped row chunks, two column blocks)") {
  PoisonOutputs poison;
  // 4500 rows of 1025: more row chunks than the reduction keeps (256 of 16 rows at this
  // width), and a column block of 1024 plus one of 1.
  constexpr int64_t R = 4500, D = 1025;
  const auto a = random_vector<double>(R * D, 231);
  const auto dy = random_vector<double>(R * D, 232);
  const auto b = random_vector<double>(D, 233);
  const auto ref = reference_binary("mul", true, D, a, b, dy);
  CHECK(scaled_error(binary_grad<double>("mul", true, {R, D}, a, b, dy).second, ref.db) < 1e-12);
  double sum_sq = 0;
  for (double v : a) sum_sq += v * v;
  const auto out = run_op(cpu(), "sum_squares", {{"x", upload<double>(cpu(), {R, D}, a)}}, {});
  CHECK(std::abs(download<double>(out.at("y"))[0] - sum_sq) <= 1e-12 * sum_sq);
}

TEST_CASE("binary errors name the tensor or attribute and what is valid") {
  const auto a = random_tensor<float>(cpu(), {2, 3, 5}, 141);
  const auto row = random_tensor<float>(cpu(), {5}, 142);
  const auto b_wrong = random_tensor<float>(cpu(), {2, 3, 4}, 143);
  const auto row_wrong = random_tensor<float>(cpu(), {4}, 144);
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "binary_fwd", {{"a", a}, {"b", row}}, {});
                 }),
                 "binary_fwd: b has shape [5], expected [*S=[2, 3], D=5] (its leading dims must be [2, 3] as in a)"));
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "binary_fwd", {{"a", a}, {"b", b_wrong}}, {});
                 }),
                 "binary_fwd: b has shape [2, 3, 4], expected [*S=[2, 3], D=5] (D is 5 from a, got 4)"));
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "binary_fwd", {{"a", a}, {"b", row_wrong}}, {{"broadcast", true}});
                 }),
                 "binary_fwd: b has shape [4], expected [D=5] (D is 5 from a, got 4)"));
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "binary_fwd", {{"a", a}, {"b", a}}, {{"broadcast", true}});
                 }),
                 "binary_fwd: b has shape [2, 3, 5], expected [D=5] (rank 3, expected rank 1)"));
  CHECK(error_of([&] {
          run_op(cpu(), "binary_fwd", {{"a", a}, {"b", a}}, {{"kind", std::string("sub")}});
        }) == "binary_fwd: attribute kind = 'sub' is not valid; valid: add, mul");
  CHECK(error_of([&] {
          run_op(cpu(), "binary_fwd", {{"a", a}, {"b", a}}, {{"broadcast", int64_t{1}}});
        }) == "binary_fwd: attribute broadcast = 1 must be a boolean");
  const auto scalar_rank0 = cpu().empty({}, DType::f32);
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "binary_fwd", {{"a", scalar_rank0}, {"b", scalar_rank0}}, {});
                 }),
                 "binary_fwd: a has shape [], expected [*S, D] (rank 0, expected rank at least 1)"));
}

// =====================================================================================
// sum_squares
// =====================================================================================

TEST_CASE("sum_squares matches a naive reference (rank 1 to 4, one element; f32 rounded once from double)") {
  PoisonOutputs poison;
  for (const auto& shape : std::vector<Shape>{{1}, {7}, {2, 3, 1, 5}, {1000, 33}, {3, 100003}}) {
    INFO("x " << shape_str(shape));
    const auto x32 = random_vector<float>(numel(shape), 151, 3.0);
    double ref = 0;
    for (float v : x32) ref += double(v) * double(v);
    auto run = [&](auto tag, const auto& x) {
      using T = decltype(tag);
      const auto out = run_op(cpu(), "sum_squares", {{"x", upload<T>(cpu(), shape, x)}}, {});
      REQUIRE(out.at("y").shape == Shape{1});
      return double(download<T>(out.at("y"))[0]);
    };
    CHECK(std::abs(run(double(), convert<double>(x32)) - ref) <= 1e-12 * ref);
    CHECK(std::abs(run(float(), x32) - ref) <= 6e-8 * ref);  // half an ulp of float: one rounding
  }
}

TEST_CASE("sum_squares accumulates in double (f32: 2^20 values of 0.1)") {
  PoisonOutputs poison;
  constexpr int64_t n = int64_t(1) << 20;
  const std::vector<float> x(n, 0.1f);
  const auto out = run_op(cpu(), "sum_squares", {{"x", upload<float>(cpu(), {n}, x)}}, {});
  const double exact = double(n) * double(0.1f) * double(0.1f);
  CHECK(std::abs(double(download<float>(out.at("y"))[0]) - exact) / exact < 1.2e-7);
}

// =====================================================================================
// accumulate
// =====================================================================================

TEST_CASE("accumulate adds alpha * src into dst in place (rank 1 to 4; f32 and f64; src unchanged)") {
  PoisonOutputs poison;  // no outputs to poison: dst must not be touched by it
  auto check_dtype = [](auto tag) {
    using T = decltype(tag);
    for (const auto& shape : kElementwiseShapes)
      for (double alpha : {1.0, -0.3, 2.5}) {
        INFO((sizeof(T) == 4 ? "f32" : "f64") << ", " << shape_str(shape) << ", alpha " << alpha);
        const auto dst0 = random_vector<T>(numel(shape), 161);
        const auto src0 = random_vector<T>(numel(shape), 162);
        Tensor dst = upload<T>(cpu(), shape, dst0);
        Tensor src = upload<T>(cpu(), shape, src0);
        const auto out = run_op(cpu(), "accumulate", {{"dst", dst}, {"src", src}}, {{"alpha", alpha}});
        CHECK(out.empty());
        std::vector<double> ref;
        for (size_t i = 0; i < dst0.size(); ++i) ref.push_back(double(dst0[i]) + alpha * double(src0[i]));
        CHECK(scaled_error(download<T>(dst), ref) < (sizeof(T) == 4 ? 1.2e-7 : 1e-15));
        CHECK(download<T>(src) == src0);
      }
  };
  check_dtype(double());
  check_dtype(float());
}

TEST_CASE("accumulate: src may be dst itself, and repeated calls keep accumulating") {
  const std::vector<double> v = {1, -2, 3.5};
  Tensor t = upload<double>(cpu(), {3}, v);
  run_op(cpu(), "accumulate", {{"dst", t}, {"src", t}}, {{"alpha", 0.5}});
  CHECK(download<double>(t) == std::vector<double>{1.5, -3, 5.25});
  Tensor g = upload<double>(cpu(), {3}, {0, 0, 0});
  for (int i = 0; i < 4; ++i) run_op(cpu(), "accumulate", {{"dst", g}, {"src", t}}, {});
  CHECK(download<double>(g) == std::vector<double>{6, -12, 21});
}

TEST_CASE("accumulate errors name the tensor and what is valid") {
  const auto dst = random_tensor<float>(cpu(), {3, 5}, 171);
  const auto src_wrong = random_tensor<float>(cpu(), {3, 4}, 172);
  const auto src64 = random_tensor<double>(cpu(), {3, 5}, 173);
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "accumulate", {{"dst", dst}, {"src", src_wrong}}, {});
                 }),
                 "accumulate: src has shape [3, 4], expected [*S=[3, 5]] (its leading dims must be [3, 5] as in dst)"));
  CHECK(error_of([&] {
          run_op(cpu(), "accumulate", {{"dst", dst}, {"src", src64}}, {});
        }) == "accumulate: src has dtype f64, but dst has f32; all inputs share one dtype");
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "accumulate", {{"dst", dst}, {"src", dst}}, {}, {"out"});
                 }),
                 "accumulate: unknown output 'out'; outputs: "));
}

// =====================================================================================
// adamw_step
// =====================================================================================

TEST_CASE("adamw_step: several steps in place match PyTorch's AdamW written out (f64; weight decay, grad_scale)") {
  const Shape shape{3, 1, 4, 5};
  const int64_t n = numel(shape);
  for (const AdamWConfig& config :
       {AdamWConfig{1e-2, 0.9, 0.99, 1e-8, 0.1, 0.5}, AdamWConfig{3e-3, 0.8, 0.999, 1e-6, 0.0, 1.0},
        AdamWConfig{1e-1, 0.0, 0.5, 1e-3, 2.0, 0.25}}) {
    INFO("lr " << config.lr << ", betas " << config.beta1 << "/" << config.beta2 << ", weight_decay "
               << config.weight_decay << ", grad_scale " << config.grad_scale);
    AdamWState ref{random_vector<double>(n, 181), std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
    Tensor param = upload<double>(cpu(), shape, ref.param);
    Tensor m = upload<double>(cpu(), shape, ref.m);
    Tensor v = upload<double>(cpu(), shape, ref.v);
    for (int64_t step = 1; step <= 6; ++step) {
      INFO("step " << step);
      const auto grad_values = random_vector<double>(n, 190 + uint32_t(step));
      Tensor grad = upload<double>(cpu(), shape, grad_values);
      const auto out = run_op(cpu(), "adamw_step", {{"param", param}, {"grad", grad}, {"m", m}, {"v", v}},
                              adamw_attrs(config, step));
      CHECK(out.empty());
      reference_adamw_step(ref, grad_values, config, step);
      CHECK(rel_error(download<double>(param), ref.param) < 1e-12);
      CHECK(rel_error(download<double>(m), ref.m) < 1e-12);
      CHECK(rel_error(download<double>(v), ref.v) < 1e-12);
      CHECK(download<double>(grad) == grad_values);  // read, never written
    }
  }
}

TEST_CASE("adamw_step in f32 follows the f64 reference, resuming at step 100") {
  const Shape shape{257};
  const AdamWConfig config{1e-2, 0.9, 0.999, 1e-8, 0.01, 0.7};
  const auto param0 = random_vector<float>(257, 201);
  const auto m0 = random_vector<float>(257, 202, 0.1);
  auto v0 = random_vector<float>(257, 203, 0.1);
  for (float& x : v0) x = x * x;  // a second moment is >= 0
  AdamWState ref{convert<double>(param0), convert<double>(m0), convert<double>(v0)};
  Tensor param = upload<float>(cpu(), shape, param0), m = upload<float>(cpu(), shape, m0),
         v = upload<float>(cpu(), shape, v0);
  for (int64_t step = 100; step < 104; ++step) {
    const auto grad = random_vector<float>(257, 210 + uint32_t(step));
    run_op(cpu(), "adamw_step", {{"param", param}, {"grad", upload<float>(cpu(), shape, grad)}, {"m", m}, {"v", v}},
           adamw_attrs(config, step));
    reference_adamw_step(ref, convert<double>(grad), config, step);
  }
  CHECK(scaled_error(download<float>(param), ref.param) < 1e-6);
  CHECK(scaled_error(download<float>(m), ref.m) < 1e-6);
  CHECK(scaled_error(download<float>(v), ref.v) < 1e-6);
}

TEST_CASE("adamw_step: Adam's first step moves every parameter by lr against the gradient's sign") {
  // m_hat = g and v_hat = g^2 at step 1, so the update is lr * g / (|g| + eps).
  const std::vector<double> grad = {0.5, -3.0, 1e-3, 0.0};
  Tensor param = upload<double>(cpu(), {4}, {1, 1, 1, 1});
  Tensor m = upload<double>(cpu(), {4}, {0, 0, 0, 0});
  Tensor v = upload<double>(cpu(), {4}, {0, 0, 0, 0});
  run_op(cpu(), "adamw_step", {{"param", param}, {"grad", upload<double>(cpu(), {4}, grad)}, {"m", m}, {"v", v}},
         {{"lr", 0.1}, {"eps", 1e-12}});
  const auto p = download<double>(param);
  CHECK(p[0] == doctest::Approx(0.9).epsilon(1e-10));
  CHECK(p[1] == doctest::Approx(1.1).epsilon(1e-10));
  CHECK(p[2] == doctest::Approx(0.9).epsilon(1e-8));
  CHECK(p[3] == 1.0);                                      // no gradient, no weight decay: unchanged
  CHECK(download<double>(m)[1] == doctest::Approx(-0.3));  // (1 - 0.9) g with the default beta1
  CHECK(download<double>(v)[1] == doctest::Approx(9.0 * 0.001));
}

TEST_CASE("adamw_step with grad_sq_sum: the global-norm clip on the device, a non-finite norm skips the step") {
  const Shape shape{7};
  const AdamWConfig config{1e-2, 0.9, 0.99, 1e-8, 0.1, 0.5};
  const auto grad_values = random_vector<double>(7, 301);
  const auto param0 = random_vector<double>(7, 302);
  // (sum of squares, max_norm) -> the grad_scale a host-side clip would have used
  const std::vector<std::tuple<double, double, double>> cases = {
      {16.0, 1.0, 0.5 * 0.25},  // norm 4 over max_norm 1: clipped by 1/4
      {16.0, 8.0, 0.5},         // under max_norm: unclipped
      {16.0, 0.0, 0.5},         // max_norm 0: no clipping
      {0.0, 1.0, 0.5},          // zero gradients: norm 0, unclipped
  };
  for (const auto& [sq, max_norm, scale] : cases) {
    INFO("grad_sq_sum " << sq << ", max_norm " << max_norm);
    Tensor param = upload<double>(cpu(), shape, param0), m = upload<double>(cpu(), shape, std::vector<double>(7, 0.1)),
           v = upload<double>(cpu(), shape, std::vector<double>(7, 0.2));
    AttrMap attrs = adamw_attrs(config, 3);
    attrs["max_norm"] = max_norm;
    run_op(cpu(), "adamw_step",
           {{"param", param},
            {"grad", upload<double>(cpu(), shape, grad_values)},
            {"m", m},
            {"v", v},
            {"grad_sq_sum", upload<double>(cpu(), {1}, {sq})}},
           attrs);
    AdamWState ref{param0, std::vector<double>(7, 0.1), std::vector<double>(7, 0.2)};
    AdamWConfig scaled = config;
    scaled.grad_scale = scale;
    reference_adamw_step(ref, grad_values, scaled, 3);
    CHECK(rel_error(download<double>(param), ref.param) < 1e-12);
    CHECK(rel_error(download<double>(m), ref.m) < 1e-12);
  }
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    INFO("grad_sq_sum " << bad);
    Tensor param = upload<double>(cpu(), shape, param0), m = upload<double>(cpu(), shape, std::vector<double>(7, 0.1)),
           v = upload<double>(cpu(), shape, std::vector<double>(7, 0.2));
    AttrMap attrs = adamw_attrs(config, 3);
    attrs["max_norm"] = 1.0;
    run_op(cpu(), "adamw_step",
           {{"param", param},
            {"grad", upload<double>(cpu(), shape, grad_values)},
            {"m", m},
            {"v", v},
            {"grad_sq_sum", upload<double>(cpu(), {1}, {bad})}},
           attrs);
    CHECK(download<double>(param) == param0);  // skipped: nothing moved
    CHECK(download<double>(m) == std::vector<double>(7, 0.1));
    CHECK(download<double>(v) == std::vector<double>(7, 0.2));
  }
}

TEST_CASE("adamw_step errors name the attribute or tensor and what is valid") {
  const auto shape = Shape{2, 3};
  auto t = [&](uint32_t seed) { return random_tensor<float>(cpu(), shape, seed); };
  const Tensor param = t(1), grad = t(2), m = t(3), v = t(4);
  const TensorMap inputs = {{"param", param}, {"grad", grad}, {"m", m}, {"v", v}};
  auto attr_error = [&](const std::string& name, AttrValue value) {
    return error_of([&] { run_op(cpu(), "adamw_step", inputs, {{name, value}}); });
  };
  CHECK(attr_error("beta1", 1.0) ==
        "adamw_step: attribute beta1 = 1 is out of range; valid: 0 <= beta1 < 1 (at 1 the bias correction "
        "1 - beta1^step is 0)");
  CHECK(attr_error("beta2", 1.5) == "adamw_step: attribute beta2 = 1.5 is out of range; valid: 0 to 1");
  CHECK(attr_error("eps", 0.0) ==
        "adamw_step: attribute eps = 0 is out of range; valid: eps > 0 (it keeps the update finite where v = 0)");
  CHECK(contains(attr_error("lr", -1e-3), "adamw_step: attribute lr = -0.001 is out of range; valid: 0 to"));
  CHECK(attr_error("step", int64_t{0}) ==
        "adamw_step: attribute step = 0 is out of range; valid: 1 to 9007199254740991");
  CHECK(attr_error("step", 1.5) == "adamw_step: attribute step = 1.5 is not an integer");
  CHECK(contains(attr_error("weight_decay", -0.1), "adamw_step: attribute weight_decay = -0.1 is out of range"));
  CHECK(contains(attr_error("momentum", 0.9), "adamw_step: unknown attribute 'momentum'; valid: lr, beta1, beta2"));

  CHECK(error_of([&] {
          run_op(cpu(), "adamw_step", {{"param", param}, {"grad", grad}, {"m", param}, {"v", v}}, {});
        }) == "adamw_step: param and m are the same memory; param, grad, m and v must be four different tensors");
  CHECK(error_of([&] {
          run_op(cpu(), "adamw_step", {{"param", param}, {"grad", v}, {"m", m}, {"v", v}}, {});
        }) == "adamw_step: grad and v are the same memory; param, grad, m and v must be four different tensors");
  const auto v_wrong = random_tensor<float>(cpu(), {3, 2}, 5);
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "adamw_step", {{"param", param}, {"grad", grad}, {"m", m}, {"v", v_wrong}}, {});
                 }),
                 "adamw_step: v has shape [3, 2], expected [*S=[2, 3]]"));
  CHECK(contains(error_of([&] {
                   run_op(cpu(), "adamw_step", {{"param", param}, {"grad", grad}, {"m", m}}, {});
                 }),
                 "adamw_step: missing input v [*S]"));
  // A refused call leaves its inputs as they were.
  CHECK(download<float>(param) == random_vector<float>(6, 1));
}

// =====================================================================================
// the op table
// =====================================================================================

TEST_CASE(
    "training ops: every op documents its tensors and attributes, has f32 and f64 CPU kernels and bf16 and f16 but "
    "AdamW") {
  const std::vector<std::string> ops = {"cross_entropy_fwd", "cross_entropy_bwd", "gather_rows", "scatter_add_rows",
                                        "unary_fwd",         "unary_bwd",         "binary_fwd",  "binary_bwd",
                                        "sum_squares",       "accumulate",        "adamw_step"};
  for (const auto& name : ops) {
    INFO("op " << name);
    const OpDef& op = find_op(name);
    CHECK(!op.doc.empty());
    for (const auto* list : {&op.signature.inputs, &op.signature.outputs})
      for (const auto& t : *list) {
        INFO("tensor " << t.name);
        CHECK(!t.doc.empty());
        CHECK(t.index == (t.name == "labels" || t.name == "idx"));
      }
    for (const auto& a : op.attrs) {
      INFO("attribute " << a.name);
      CHECK(!a.doc.empty());
    }
    // bf16 and f16 (GPU storage) for every op but the optimizer, which keeps f32 master weights.
    if (name == "adamw_step") CHECK(op.dtypes == std::vector<DType>{DType::f32, DType::f64});
    else CHECK(op.dtypes == std::vector<DType>{DType::f32, DType::f64, DType::bf16, DType::f16});
    for (DType dtype : {DType::f32, DType::f64}) CHECK(cpu().kernel(name, dtype) != nullptr);
  }
  // The in-place ops declare no outputs, and say so.
  for (const std::string name : {"accumulate", "adamw_step"}) {
    CHECK(find_op(name).signature.outputs.empty());
    CHECK(contains(find_op(name).doc, "in place"));
  }
}
