// Blockwise softmax attention (softmax_attn_fwd / softmax_attn_bwd) against a
// naive O(T^2) reference written here in float64, finite-difference gradient
// checks, large logits, bad inputs, and the sliding window's reach.
//
// q, k, dq, dk: (B, T, H, D)   v, o, do, dv: (B, T, H, V)   lse: (B, H, T)
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "grad_check.h"
#include "linea/backend.h"
#include "test_util.h"

using namespace linea;
using namespace linea::test;

namespace {

// The largest window the ops accept (their attribute range).
constexpr int64_t kMaxWindowAttr = int64_t{1} << 30;

struct AttentionShape {
  int64_t B, Tn, H, D, V;
  int64_t qk_numel() const { return B * Tn * H * D; }
  int64_t v_numel() const { return B * Tn * H * V; }
  Shape qk() const { return {B, Tn, H, D}; }
  Shape v() const { return {B, Tn, H, V}; }
  Shape lse() const { return {B, H, Tn}; }
  int64_t row(int64_t b, int64_t t, int64_t h) const { return (b * Tn + t) * H + h; }
  int64_t stat(int64_t b, int64_t h, int64_t t) const { return (b * H + h) * Tn + t; }
};

// What the op's attributes mean, restated for the reference.
double effective_scale(double scale, int64_t D) { return scale == 0.0 ? 1.0 / std::sqrt(double(D)) : scale; }
int64_t first_visible_key(int64_t t, int64_t window) { return window > 0 ? std::max<int64_t>(0, t - window + 1) : 0; }

struct ForwardResult {
  std::vector<double> o, lse;
};

struct Gradients {
  std::vector<double> dq, dk, dv;
};

// The probabilities of query t of head (b, h) over keys first..t, from the
// full row of scores (max-subtracted, so large logits do not overflow).
std::vector<double> reference_row_probabilities(const std::vector<double>& q, const std::vector<double>& k,
                                                const AttentionShape& s, double scale, int64_t window, int64_t b,
                                                int64_t h, int64_t t, double* lse) {
  const int64_t first = first_visible_key(t, window);
  std::vector<double> scores;
  for (int64_t j = first; j <= t; ++j) {
    double dot = 0;
    for (int64_t a = 0; a < s.D; ++a) dot += q[s.row(b, t, h) * s.D + a] * k[s.row(b, j, h) * s.D + a];
    scores.push_back(scale * dot);
  }
  const double max = *std::max_element(scores.begin(), scores.end());
  double sum = 0;
  for (double x : scores) sum += std::exp(x - max);
  for (double& x : scores) x = std::exp(x - max) / sum;
  if (lse) *lse = max + std::log(sum);
  return scores;
}

ForwardResult reference_forward(const std::vector<double>& q, const std::vector<double>& k,
                                const std::vector<double>& v, const AttentionShape& s, double scale_attr,
                                int64_t window) {
  const double scale = effective_scale(scale_attr, s.D);
  ForwardResult r{std::vector<double>(size_t(s.v_numel()), 0.0), std::vector<double>(size_t(s.B * s.H * s.Tn))};
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t t = 0; t < s.Tn; ++t) {
        const auto p = reference_row_probabilities(q, k, s, scale, window, b, h, t, &r.lse[s.stat(b, h, t)]);
        const int64_t first = first_visible_key(t, window);
        for (int64_t j = first; j <= t; ++j)
          for (int64_t c = 0; c < s.V; ++c) r.o[s.row(b, t, h) * s.V + c] += p[j - first] * v[s.row(b, j, h) * s.V + c];
      }
  return r;
}

// Softmax backward straight from the definition: dp_tj = do_t . v_j,
// ds_tj = p_tj (dp_tj - sum_j' p_tj' dp_tj'); it never looks at o or lse.
Gradients reference_backward(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                             const std::vector<double>& d_o, const AttentionShape& s, double scale_attr,
                             int64_t window) {
  const double scale = effective_scale(scale_attr, s.D);
  Gradients g{std::vector<double>(size_t(s.qk_numel()), 0.0), std::vector<double>(size_t(s.qk_numel()), 0.0),
              std::vector<double>(size_t(s.v_numel()), 0.0)};
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t t = 0; t < s.Tn; ++t) {
        const auto p = reference_row_probabilities(q, k, s, scale, window, b, h, t, nullptr);
        const int64_t first = first_visible_key(t, window);
        const int64_t rt = s.row(b, t, h);
        std::vector<double> dp(p.size(), 0.0);
        double expected_dp = 0;
        for (int64_t j = first; j <= t; ++j) {
          const int64_t rj = s.row(b, j, h);
          for (int64_t c = 0; c < s.V; ++c) dp[j - first] += d_o[rt * s.V + c] * v[rj * s.V + c];
          expected_dp += p[j - first] * dp[j - first];
        }
        for (int64_t j = first; j <= t; ++j) {
          const int64_t rj = s.row(b, j, h);
          const double pj = p[j - first];
          const double ds = pj * (dp[j - first] - expected_dp);
          for (int64_t a = 0; a < s.D; ++a) {
            g.dq[rt * s.D + a] += scale * ds * k[rj * s.D + a];
            g.dk[rj * s.D + a] += scale * ds * q[rt * s.D + a];
          }
          for (int64_t c = 0; c < s.V; ++c) g.dv[rj * s.V + c] += pj * d_o[rt * s.V + c];
        }
      }
  return g;
}

// Random inputs for one shape, kept in float64; the f32 runs round them.
struct AttentionInputs {
  AttentionShape shape;
  std::vector<double> q, k, v, d_o;

  static AttentionInputs random(const AttentionShape& s, uint32_t seed) {
    return {s, random_vector<double>(s.qk_numel(), seed), random_vector<double>(s.qk_numel(), seed + 1),
            random_vector<double>(s.v_numel(), seed + 2), random_vector<double>(s.v_numel(), seed + 3)};
  }
};

template <class T>
std::vector<T> cast(const std::vector<double>& x) {
  return std::vector<T>(x.begin(), x.end());
}

template <class T>
std::vector<double> widen(const std::vector<T>& x) {
  return std::vector<double>(x.begin(), x.end());
}

// rel_error, except against a reference that is exactly zero (dq and dk when
// every query sees only itself: ds = p (dp - p dp) = 0), where the RMS of the
// output is the error.
double error_vs_reference(const std::vector<double>& out, const std::vector<double>& ref) {
  double ref_norm = 0, out_norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    ref_norm += ref[i] * ref[i];
    out_norm += out[i] * out[i];
  }
  if (ref_norm > 0) return rel_error(out, ref);
  return std::sqrt(out_norm / double(std::max<size_t>(out.size(), 1)));
}

std::map<std::string, AttrValue> attention_attrs(double scale, int64_t window) {
  return {{"scale", scale}, {"window", window}};
}

// Runs the kernels with NaN-poisoned outputs; results widened to float64.
template <class T>
ForwardResult run_forward(const AttentionInputs& in, double scale, int64_t window) {
  Backend& cpu = get_backend("cpu");
  PoisonOutputs poison;
  const auto& s = in.shape;
  const auto out = run_op(cpu, "softmax_attn_fwd",
                          {{"q", upload<T>(cpu, s.qk(), cast<T>(in.q))},
                           {"k", upload<T>(cpu, s.qk(), cast<T>(in.k))},
                           {"v", upload<T>(cpu, s.v(), cast<T>(in.v))}},
                          attention_attrs(scale, window));
  return {widen(download<T>(out.at("o"))), widen(download<T>(out.at("lse")))};
}

template <class T>
Gradients run_backward(const AttentionInputs& in, double scale, int64_t window) {
  Backend& cpu = get_backend("cpu");
  PoisonOutputs poison;
  const auto& s = in.shape;
  const TensorMap inputs{{"q", upload<T>(cpu, s.qk(), cast<T>(in.q))},
                         {"k", upload<T>(cpu, s.qk(), cast<T>(in.k))},
                         {"v", upload<T>(cpu, s.v(), cast<T>(in.v))}};
  const auto fwd = run_op(cpu, "softmax_attn_fwd", inputs, attention_attrs(scale, window));
  TensorMap bwd_inputs = inputs;
  bwd_inputs["o"] = fwd.at("o");
  bwd_inputs["lse"] = fwd.at("lse");
  bwd_inputs["do"] = upload<T>(cpu, s.v(), cast<T>(in.d_o));
  const auto out = run_op(cpu, "softmax_attn_bwd", bwd_inputs, attention_attrs(scale, window));
  return {widen(download<T>(out.at("dq"))), widen(download<T>(out.at("dk"))), widen(download<T>(out.at("dv")))};
}

// Compares the kernels in T against the float64 reference, forward and backward.
template <class T>
void check_against_reference(const AttentionShape& s, int64_t window, double scale, double tol, uint32_t seed) {
  CAPTURE(s.B);
  CAPTURE(s.Tn);
  CAPTURE(s.H);
  CAPTURE(s.D);
  CAPTURE(s.V);
  CAPTURE(window);
  CAPTURE(scale);
  const auto in = AttentionInputs::random(s, seed);
  // The reference sees the inputs exactly as the kernel does (rounded to T).
  const auto q = widen(cast<T>(in.q)), k = widen(cast<T>(in.k)), v = widen(cast<T>(in.v));
  const auto d_o = widen(cast<T>(in.d_o));

  const auto fwd = run_forward<T>(in, scale, window);
  REQUIRE(all_finite(fwd.o));
  REQUIRE(all_finite(fwd.lse));
  const auto ref = reference_forward(q, k, v, s, scale, window);
  CHECK(rel_error(fwd.o, ref.o) < tol);
  CHECK(rel_error(fwd.lse, ref.lse) < tol);

  const auto grads = run_backward<T>(in, scale, window);
  REQUIRE(all_finite(grads.dq));
  REQUIRE(all_finite(grads.dk));
  REQUIRE(all_finite(grads.dv));
  const auto ref_grads = reference_backward(q, k, v, d_o, s, scale, window);
  CHECK(error_vs_reference(grads.dq, ref_grads.dq) < tol);
  CHECK(error_vs_reference(grads.dk, ref_grads.dk) < tol);
  CHECK(error_vs_reference(grads.dv, ref_grads.dv) < tol);
}

// Full causal, the narrowest window, one that cuts through 64-blocks, and
// windows that reach the start of the sequence (== T and far beyond).
std::vector<int64_t> windows_for(int64_t Tn) { return {0, 1, 17, Tn, Tn + 5, kMaxWindowAttr}; }

}  // namespace

TEST_CASE("softmax attention ops are declared and have f32 and f64 CPU kernels") {
  for (const char* name : {"softmax_attn_fwd", "softmax_attn_bwd"}) {
    CAPTURE(name);
    const OpDef& op = find_op(name);
    CHECK(!op.doc.empty());
    for (const auto& t : op.signature.inputs) CHECK(!t.doc.empty());
    for (const auto& t : op.signature.outputs) CHECK(!t.doc.empty());
    for (const auto& a : op.attrs) CHECK(!a.doc.empty());
    CHECK(get_backend("cpu").kernel(name, DType::f32) != nullptr);
    CHECK(get_backend("cpu").kernel(name, DType::f64) != nullptr);
  }
  Signature fwd = find_op("softmax_attn_fwd").signature;
  REQUIRE(fwd.output("lse") != nullptr);
  CHECK(fwd.output("lse")->shape == "B,H,T");
}

TEST_CASE("softmax attention matches the naive reference (f64, awkward shapes, windows)") {
  // The kernels tile queries and keys in blocks of 64: T = 500 ends inside a
  // block, T = 63 is one partial block, T = 1 a single row.
  // Default scale (D^-1/2); tolerance: float64 rounding over sums of <= 500 terms.
  const double tol = 1e-12;
  for (int64_t Tn : {1, 63, 500}) {
    const AttentionShape s{2, Tn, 1, 60, 100};
    for (int64_t window : windows_for(Tn)) check_against_reference<double>(s, window, 0.0, tol, 100);
  }
  // Several heads (strided rows) and an explicit scale. Windows 2 and 66 make
  // the last query that sees a key block's last key the first row of the
  // next query block; 64 and 65 start windows exactly at and just past block edges.
  const AttentionShape multi_head{2, 130, 3, 16, 8};
  for (int64_t window : {0, 1, 2, 17, 64, 65, 66}) check_against_reference<double>(multi_head, window, 0.3, tol, 200);
}

TEST_CASE("softmax attention in f32 matches the f64 reference") {
  // f32 accumulation over <= 500 keys: errors of a few 1e-7 per element.
  const double tol = 1e-5;
  const AttentionShape s{2, 500, 1, 60, 100};
  for (int64_t window : {0, 1, 17, 500}) check_against_reference<float>(s, window, 0.0, tol, 300);
  check_against_reference<float>({2, 130, 3, 16, 8}, 17, 0.3, tol, 400);
}

TEST_CASE("softmax attention gradients pass float64 finite-difference checks") {
  // T = 70 crosses a 64-block edge; H = 2 exercises strided heads.
  const AttentionShape s{2, 70, 2, 6, 5};
  for (int64_t window : {0, 17, 1}) {
    CAPTURE(window);
    auto in = AttentionInputs::random(s, 500 + uint32_t(window));
    const auto upstream = in.d_o;  // random upstream gradient: loss = sum(o * upstream)
    const auto grads = run_backward<double>(in, 0.0, window);
    auto loss = [&] { return dot(run_forward<double>(in, 0.0, window).o, upstream); };
    check_gradients(loss, {{"q", &in.q, &grads.dq}, {"k", &in.k, &grads.dk}, {"v", &in.v, &grads.dv}}, 1e-5, 1e-7);
  }
}

TEST_CASE("softmax attention writes every output element (NaN-poisoned outputs)") {
  // run_forward / run_backward poison every output; check each element, not a norm.
  const AttentionShape s{1, 130, 2, 7, 9};
  const auto in = AttentionInputs::random(s, 600);
  for (int64_t window : {0, 5}) {
    CAPTURE(window);
    const auto fwd = run_forward<float>(in, 0.0, window);
    CHECK(all_finite(fwd.o));
    CHECK(all_finite(fwd.lse));
    const auto grads = run_backward<float>(in, 0.0, window);
    CHECK(all_finite(grads.dq));
    CHECK(all_finite(grads.dk));
    CHECK(all_finite(grads.dv));
  }
}

TEST_CASE("softmax attention with large logits stays finite and accurate") {
  // scale = 50 with unit-normal q, k and D = 16: logits of several hundred,
  // far past where exp overflows (about 88 in f32, 709 in f64).
  const AttentionShape s{2, 150, 2, 16, 12};
  const double scale = 50.0;
  for (int64_t window : {0, 17}) {
    CAPTURE(window);
    const auto in = AttentionInputs::random(s, 700);
    const auto ref = reference_forward(in.q, in.k, in.v, s, scale, window);
    double max_logit = 0;
    for (double x : ref.lse) max_logit = std::max(max_logit, std::abs(x));
    CHECK(max_logit > 300.0);  // the test really reaches large logits
    // f64: the reference's tolerance, scaled by the logits' size.
    check_against_reference<double>(s, window, scale, 1e-11, 700);
    // f32: a score s of several hundred carries an absolute error of about
    // |s| * 6e-8 (some 3e-5) into the exponent, hence into p relative to
    // itself: outputs stay good to ~1e-6, gradients (through ds = p (dp - delta),
    // times scale = 50 for dq, dk) to a few 1e-5.
    const auto q32 = widen(cast<float>(in.q)), k32 = widen(cast<float>(in.k));
    const auto v32 = widen(cast<float>(in.v)), do32 = widen(cast<float>(in.d_o));
    const auto fwd32 = run_forward<float>(in, scale, window);
    REQUIRE(all_finite(fwd32.o));
    REQUIRE(all_finite(fwd32.lse));
    const auto ref32 = reference_forward(q32, k32, v32, s, scale, window);
    CHECK(rel_error(fwd32.o, ref32.o) < 2e-5);
    CHECK(rel_error(fwd32.lse, ref32.lse) < 1e-6);
    const auto grads32 = run_backward<float>(in, scale, window);
    REQUIRE(all_finite(grads32.dq));
    REQUIRE(all_finite(grads32.dk));
    REQUIRE(all_finite(grads32.dv));
    const auto ref_grads32 = reference_backward(q32, k32, v32, do32, s, scale, window);
    CHECK(rel_error(grads32.dq, ref_grads32.dq) < 3e-4);
    CHECK(rel_error(grads32.dk, ref_grads32.dk) < 3e-4);
    CHECK(rel_error(grads32.dv, ref_grads32.dv) < 3e-5);
  }
}

TEST_CASE("softmax attention: the sliding window restricts exactly which keys a query sees") {
  const AttentionShape s{1, 100, 1, 8, 6};
  const int64_t window = 17;
  const auto base = AttentionInputs::random(s, 800);
  const auto ref = run_forward<double>(base, 0.0, window);
  // Changes key and value at position `pos` and returns query t's output row
  // and its lse, appended.
  auto query_after_change = [&](int64_t pos, int64_t t, const ForwardResult* unchanged) {
    AttentionInputs in = base;
    for (int64_t a = 0; a < s.D; ++a) in.k[pos * s.D + a] += 3.0;
    for (int64_t c = 0; c < s.V; ++c) in.v[pos * s.V + c] -= 2.0;
    const auto& r = unchanged ? *unchanged : run_forward<double>(in, 0.0, window);
    std::vector<double> row(r.o.begin() + t * s.V, r.o.begin() + (t + 1) * s.V);
    row.push_back(r.lse[t]);
    return row;
  };
  // Query 80 sees keys 64..80 (its window starts at a block edge); query 90
  // sees 74..90 (its window starts inside a block).
  for (int64_t t : {int64_t{80}, int64_t{90}}) {
    CAPTURE(t);
    const auto before = query_after_change(0, t, &ref);
    const auto outside = query_after_change(t - window, t, nullptr);
    const auto inside = query_after_change(t - window + 1, t, nullptr);
    CHECK(rel_error(outside, before) == 0.0);  // the key outside is never read for this row
    CHECK(rel_error(inside, before) > 1e-3);
  }
  // Window 1: each query sees only itself, so o = v exactly up to rounding.
  const auto self_only = run_forward<double>(base, 0.0, 1);
  CHECK(rel_error(self_only.o, base.v) < 1e-15);
}

TEST_CASE("softmax attention refuses bad shapes and attributes, naming them") {
  Backend& cpu = get_backend("cpu");
  auto q = random_tensor<float>(cpu, {2, 8, 1, 4}, 1);
  auto v = random_tensor<float>(cpu, {2, 8, 1, 3}, 2);
  auto v_long = random_tensor<float>(cpu, {2, 9, 1, 3}, 3);
  auto k_wide = random_tensor<float>(cpu, {2, 8, 1, 5}, 4);
  auto q64 = random_tensor<double>(cpu, {2, 8, 1, 4}, 5);
  const TensorMap good{{"q", q}, {"k", q}, {"v", v}};

  const auto e1 = error_of([&] { run_op(cpu, "softmax_attn_fwd", {{"q", q}, {"k", q}, {"v", v_long}}, {}); });
  CHECK(contains(e1, "softmax_attn_fwd: v has shape [2, 9, 1, 3], expected [B=2, T=8, H=1, V]"));
  CHECK(contains(e1, "T is 8 from q, got 9"));
  const auto e2 = error_of([&] { run_op(cpu, "softmax_attn_fwd", {{"q", q}, {"k", k_wide}, {"v", v}}, {}); });
  CHECK(contains(e2, "k has shape [2, 8, 1, 5], expected [B=2, T=8, H=1, D=4]"));
  const auto e3 = error_of([&] { run_op(cpu, "softmax_attn_fwd", {{"q", q}, {"k", q64}, {"v", v}}, {}); });
  CHECK(contains(e3, "k has dtype f64, but q has f32"));

  const auto e4 = error_of([&] { run_op(cpu, "softmax_attn_fwd", good, {{"window", int64_t{-1}}}); });
  CHECK(contains(e4, "softmax_attn_fwd: attribute window = -1 is out of range; valid: 0 to 1073741824"));
  const auto e5 = error_of([&] { run_op(cpu, "softmax_attn_fwd", good, {{"window", 2.5}}); });
  CHECK(contains(e5, "attribute window = 2.5 is not an integer"));
  const auto e6 = error_of([&] { run_op(cpu, "softmax_attn_fwd", good, {{"scale", -0.5}}); });
  CHECK(contains(e6, "attribute scale = -0.5 is out of range; valid: 0 to 1e+06"));
  const auto e7 = error_of([&] { run_op(cpu, "softmax_attn_fwd", good, {{"causal", true}}); });
  CHECK(contains(e7, "unknown attribute 'causal'; valid: scale, window"));

  // The backward: lse is (B, H, T), not (B, T, H); do is required.
  const auto fwd = run_op(cpu, "softmax_attn_fwd", good, {});
  auto lse_transposed = random_tensor<float>(cpu, {2, 8, 1}, 6);
  TensorMap bwd{{"q", q}, {"k", q}, {"v", v}, {"o", fwd.at("o")}, {"lse", lse_transposed}, {"do", v}};
  const auto e8 = error_of([&] { run_op(cpu, "softmax_attn_bwd", bwd, {}); });
  CHECK(contains(e8, "softmax_attn_bwd: lse has shape [2, 8, 1], expected [B=2, H=1, T=8]"));
  bwd["lse"] = fwd.at("lse");
  bwd.erase("do");
  const auto e9 = error_of([&] { run_op(cpu, "softmax_attn_bwd", bwd, {}); });
  CHECK(contains(e9, "softmax_attn_bwd: missing input do [B,T,H,V]"));
  bwd["do"] = v_long;
  const auto e10 = error_of([&] { run_op(cpu, "softmax_attn_bwd", bwd, {}); });
  CHECK(contains(e10, "do has shape [2, 9, 1, 3], expected [B=2, T=8, H=1, V=3]"));
  bwd["do"] = v;
  const auto e11 = error_of([&] { run_op(cpu, "softmax_attn_bwd", bwd, {{"window", kMaxWindowAttr + 1}}); });
  CHECK(contains(e11, "softmax_attn_bwd: attribute window = 1073741825 is out of range"));
  CHECK(error_of([&] { run_op(cpu, "softmax_attn_bwd", bwd, {}); }).empty());
}
