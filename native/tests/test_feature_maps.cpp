// Feature maps (feature_map_fwd / feature_map_bwd) on the CPU: every kind the
// op table declares against a naive reference and finite differences, the
// properties each map promises, awkward shapes, extreme inputs, float32 vs
// float64, and the errors a caller sees.
//
// x, dx: (B, T, H, D)   y, dy: (B, T, H, E)   E = D, or 1 + D + D² for taylor2
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

constexpr double kDefaultEps = 1e-6;  // the op's default for the l2 norms

// The kinds the op table declares: iterating over them means a kind added to
// the table without a kernel or a reference here fails these tests.
std::vector<std::string> declared_kinds() {
  for (const auto& attr : find_op("feature_map_fwd").attrs)
    if (attr.name == "kind") return attr.choices;
  FAIL("feature_map_fwd declares no attribute 'kind'");
  return {};
}

int64_t out_features(const std::string& kind, int64_t D) { return kind == "taylor2" ? 1 + D + D * D : D; }

std::map<std::string, AttrValue> attrs_of(const std::string& kind, double eps) {
  return {{"kind", kind}, {"eps", eps}};
}

// shape is x's [B, T, H, D]
template <class T>
std::vector<T> feature_map(const std::string& kind, const Shape& shape, const std::vector<T>& x,
                           double eps = kDefaultEps) {
  Backend& cpu = get_backend("cpu");
  const auto out = run_op(cpu, "feature_map_fwd", {{"x", upload<T>(cpu, shape, x)}}, attrs_of(kind, eps));
  return download<T>(out.at("y"));
}

template <class T>
std::vector<T> feature_map_grad(const std::string& kind, const Shape& shape, const std::vector<T>& x,
                                const std::vector<T>& dy, double eps = kDefaultEps) {
  Backend& cpu = get_backend("cpu");
  const Shape dy_shape{shape[0], shape[1], shape[2], out_features(kind, shape[3])};
  const auto out = run_op(cpu, "feature_map_bwd",
                          {{"x", upload<T>(cpu, shape, x)}, {"dy", upload<T>(cpu, dy_shape, dy)}}, attrs_of(kind, eps));
  return download<T>(out.at("dx"));
}

Shape out_shape(const std::string& kind, const Shape& shape) {
  return {shape[0], shape[1], shape[2], out_features(kind, shape[3])};
}

// phi of one [D] row, straight from the definitions in the op doc.
std::vector<double> reference_row(const std::string& kind, const std::vector<double>& x, double eps) {
  const size_t D = x.size();
  std::vector<double> y;
  auto silu = [](double v) { return v / (1.0 + std::exp(-v)); };
  auto l2normalize = [&](std::vector<double> u) {
    double sum_sq = 0;
    for (double v : u) sum_sq += v * v;
    for (double& v : u) v /= std::sqrt(sum_sq + eps);
    return u;
  };
  if (kind == "identity") return x;
  if (kind == "elu1") {
    for (double v : x) y.push_back((v > 0 ? v : std::exp(v) - 1.0) + 1.0);
  } else if (kind == "relu") {
    for (double v : x) y.push_back(std::max(v, 0.0));
  } else if (kind == "silu") {
    for (double v : x) y.push_back(silu(v));
  } else if (kind == "l2norm") {
    y = l2normalize(x);
  } else if (kind == "silu_l2norm") {
    for (double v : x) y.push_back(silu(v));
    y = l2normalize(y);
  } else if (kind == "taylor2") {
    y.push_back(1.0);
    for (double v : x) y.push_back(v / std::pow(double(D), 0.25));
    for (size_t i = 0; i < D; ++i)
      for (size_t j = 0; j < D; ++j) y.push_back(x[i] * x[j] / (std::sqrt(2.0) * std::sqrt(double(D))));
  } else {
    FAIL("no reference for feature map kind '" << kind << "': add one to this test");
  }
  return y;
}

std::vector<double> reference_feature_map(const std::string& kind, const std::vector<double>& x, int64_t D,
                                          double eps) {
  std::vector<double> y;
  for (size_t r = 0; r < x.size() / D; ++r) {
    const auto row = reference_row(kind, std::vector<double>(x.begin() + r * D, x.begin() + (r + 1) * D), eps);
    y.insert(y.end(), row.begin(), row.end());
  }
  return y;
}

// Random normal values moved at least `margin` away from 0, so a finite
// difference never straddles relu's kink.
std::vector<double> away_from_zero(std::vector<double> x, double margin) {
  for (double& v : x) v += std::copysign(margin, v);
  return x;
}

const std::vector<Shape> kAwkwardShapes = {
    {2, 3, 2, 5},   // a little of everything
    {1, 1, 1, 1},   // T = 1, H = 1, D = 1
    {1, 2, 1, 60},  // D = 60 (taylor2: E = 3661)
    {3, 4, 1, 7},   // H = 1
    {2, 1, 3, 4},   // T = 1
};

}  // namespace

TEST_CASE("feature_map_fwd matches a naive reference for every declared kind (f64, awkward shapes)") {
  PoisonOutputs poison;
  for (const auto& kind : declared_kinds())
    for (const auto& shape : kAwkwardShapes) {
      INFO("kind " << kind << ", x " << shape_str(shape));
      const auto x = random_vector<double>(numel(shape), 101, 2.0);
      const auto y = feature_map<double>(kind, shape, x);
      REQUIRE(y.size() == size_t(numel(out_shape(kind, shape))));
      REQUIRE(all_finite(y));
      CHECK(rel_error(y, reference_feature_map(kind, x, shape[3], kDefaultEps)) < 1e-14);
    }
}

TEST_CASE("feature_map_bwd matches finite differences for every kind (f64, random upstream gradients)") {
  PoisonOutputs poison;
  constexpr double kKinkMargin = 0.05;  // >> the finite-difference step (1e-5)
  for (const auto& kind : declared_kinds())
    for (const auto& shape : kAwkwardShapes) {
      const bool l2 = kind == "l2norm" || kind == "silu_l2norm";
      // A large eps for the l2 norms checks that the backward uses eps as the forward does.
      for (double eps : l2 ? std::vector<double>{kDefaultEps, 0.3} : std::vector<double>{kDefaultEps}) {
        INFO("kind " << kind << ", x " << shape_str(shape) << ", eps " << eps);
        auto x = away_from_zero(random_vector<double>(numel(shape), 201), kKinkMargin);
        const auto dy = random_vector<double>(numel(out_shape(kind, shape)), 202);
        const auto dx = feature_map_grad<double>(kind, shape, x, dy, eps);
        REQUIRE(all_finite(dx));
        check_gradients([&] { return dot(feature_map<double>(kind, shape, x, eps), dy); }, {{"x", &x, &dx}});
      }
    }
}

TEST_CASE("feature maps: l2norm and silu_l2norm rows have unit norm up to eps") {
  PoisonOutputs poison;
  for (const std::string kind : {"l2norm", "silu_l2norm"})
    for (const Shape& shape : std::vector<Shape>{{2, 5, 3, 8}, {1, 4, 1, 1}, {1, 3, 2, 60}}) {
      INFO("kind " << kind << ", x " << shape_str(shape));
      const int64_t D = shape[3];
      const auto x = random_vector<double>(numel(shape), 301);
      // With the default eps: |y| = sqrt(S / (S + eps)), S = |u|^2, so 1 - |y| <= eps / (2 S).
      const auto y = feature_map<double>(kind, shape, x);
      const auto y_tiny_eps = feature_map<double>(kind, shape, x, 1e-12);
      for (int64_t r = 0; r < numel(shape) / D; ++r) {
        double sum_sq = 0, norm_sq = 0, norm_sq_tiny = 0;
        for (int64_t i = 0; i < D; ++i) {
          const double v = x[r * D + i];
          const double u = kind == "silu_l2norm" ? v / (1.0 + std::exp(-v)) : v;
          sum_sq += u * u;
          norm_sq += y[r * D + i] * y[r * D + i];
          norm_sq_tiny += y_tiny_eps[r * D + i] * y_tiny_eps[r * D + i];
        }
        CHECK(std::abs(std::sqrt(norm_sq) - std::sqrt(sum_sq / (sum_sq + kDefaultEps))) < 1e-14);
        CHECK(1.0 - std::sqrt(norm_sq) <= kDefaultEps / (2 * sum_sq) + 1e-15);
        CHECK(std::abs(std::sqrt(norm_sq_tiny) - 1.0) < 1e-9);
      }
    }
}

TEST_CASE("feature maps: taylor2 gives phi(q) . phi(k) = 1 + q.k / sqrt(D) + (q.k)^2 / (2 D)") {
  PoisonOutputs poison;
  for (int64_t D : {1, 2, 7, 16, 60}) {
    INFO("D = " << D);
    const Shape shape{2, 3, 2, D};
    const int64_t E = 1 + D + D * D;
    const auto q = random_vector<double>(numel(shape), 401);
    const auto k = random_vector<double>(numel(shape), 402);
    const auto phi_q = feature_map<double>("taylor2", shape, q);
    const auto phi_k = feature_map<double>("taylor2", shape, k);
    for (int64_t r = 0; r < numel(shape) / D; ++r) {
      double qk = 0, phi_dot = 0;
      for (int64_t i = 0; i < D; ++i) qk += q[r * D + i] * k[r * D + i];
      for (int64_t e = 0; e < E; ++e) phi_dot += phi_q[r * E + e] * phi_k[r * E + e];
      const double expected = 1 + qk / std::sqrt(double(D)) + qk * qk / (2.0 * D);
      CHECK(std::abs(phi_dot - expected) < 1e-13 * std::max(1.0, std::abs(expected)));
      CHECK(phi_q[r * E] == 1.0);
    }
  }
}

// Kernels run with denormals flushed to zero (cpu/flush_denormals.h), so in
// f32 exp(x) is 0 below x = ln(FLT_MIN) ~ -87.3 and elu1 is 0 there, not a denormal.
TEST_CASE("feature maps: elu1 is positive down to x = -100 in f64, and in f32 over its normal range") {
  PoisonOutputs poison;
  constexpr int64_t kPoints = 2001;  // -100 to 100 in steps of 0.1
  std::vector<double> x(kPoints);
  for (int64_t i = 0; i < kPoints; ++i) x[i] = -100.0 + 0.1 * double(i);
  const Shape shape{1, kPoints, 1, 1};
  const auto y64 = feature_map<double>("elu1", shape, x);
  const auto y32 = feature_map<float>("elu1", shape, std::vector<float>(x.begin(), x.end()));
  for (int64_t i = 0; i < kPoints; ++i) {
    INFO("x = " << x[i]);
    CHECK(y64[i] > 0.0);
    if (x[i] > -87.0) CHECK(y32[i] > 0.0f);
    else CHECK(y32[i] >= 0.0f);
  }
  CHECK(y64.back() == doctest::Approx(101.0));
}

TEST_CASE("feature maps: extreme inputs (+-100, zero rows) give finite outputs and gradients for every kind") {
  PoisonOutputs poison;
  constexpr int64_t D = 6;
  // Rows: all zero (l2 norms: 0 / sqrt(eps)), all +100, all -100, mixed.
  const std::vector<double> rows = {
      0,    0,    0,    0,    0,    0,     //
      100,  100,  100,  100,  100,  100,   //
      -100, -100, -100, -100, -100, -100,  //
      100,  -100, 0,    100,  -100, 0,     //
  };
  const Shape shape{1, 4, 1, D};
  auto check_kind = [&](auto tag, const std::string& kind) {
    using T = decltype(tag);
    INFO("kind " << kind << ", " << (sizeof(T) == 4 ? "f32" : "f64"));
    const std::vector<T> x(rows.begin(), rows.end());
    const auto dy = random_vector<T>(numel(out_shape(kind, shape)), 501);
    const auto y = feature_map<T>(kind, shape, x);
    const auto dx = feature_map_grad<T>(kind, shape, x, dy);
    CHECK(all_finite(y));
    CHECK(all_finite(dx));
    if (kind == "l2norm" || kind == "silu_l2norm")
      for (int64_t i = 0; i < D; ++i) CHECK(y[i] == T(0));  // the zero row stays zero
  };
  for (const auto& kind : declared_kinds()) {
    check_kind(double(), kind);
    check_kind(float(), kind);
  }
}

TEST_CASE("feature maps in float32 agree with float64 for every kind") {
  PoisonOutputs poison;
  const Shape shape{2, 7, 3, 12};
  // Both precisions see the same (float-representable) inputs, so only the kernels' rounding differs.
  const auto x32 = random_vector<float>(numel(shape), 601, 1.5);
  const std::vector<double> x64(x32.begin(), x32.end());
  for (const auto& kind : declared_kinds()) {
    INFO("kind " << kind);
    const auto dy32 = random_vector<float>(numel(out_shape(kind, shape)), 602);
    const std::vector<double> dy64(dy32.begin(), dy32.end());
    const auto y32 = feature_map<float>(kind, shape, x32);
    const auto dx32 = feature_map_grad<float>(kind, shape, x32, dy32);
    const auto y64 = feature_map<double>(kind, shape, x64);
    const auto dx64 = feature_map_grad<double>(kind, shape, x64, dy64);
    CHECK(rel_error(std::vector<double>(y32.begin(), y32.end()), y64) < 1e-6);
    CHECK(rel_error(std::vector<double>(dx32.begin(), dx32.end()), dx64) < 1e-6);
  }
}

TEST_CASE("feature map errors name the tensor or attribute and what is valid") {
  Backend& cpu = get_backend("cpu");
  auto x = random_tensor<float>(cpu, {2, 3, 4, 5}, 1);
  auto x_rank3 = random_tensor<float>(cpu, {2, 3, 4}, 2);
  auto dy_taylor_wrong = random_tensor<float>(cpu, {2, 3, 4, 5}, 3);
  auto dy_taylor = random_tensor<float>(cpu, {2, 3, 4, 31}, 4);
  auto dy_late = random_tensor<float>(cpu, {2, 4, 4, 5}, 5);
  auto dy64 = random_tensor<double>(cpu, {2, 3, 4, 5}, 6);

  const auto bad_kind = error_of([&] { run_op(cpu, "feature_map_fwd", {{"x", x}}, {{"kind", std::string("elu")}}); });
  CHECK(contains(bad_kind,
                 "feature_map_fwd: attribute kind = 'elu' is not valid; "
                 "valid: identity, elu1, relu, silu, l2norm, silu_l2norm, taylor2"));

  const auto bad_rank = error_of([&] { run_op(cpu, "feature_map_fwd", {{"x", x_rank3}}, {}); });
  CHECK(contains(bad_rank, "feature_map_fwd: x has shape [2, 3, 4], expected [B, T, H, D]"));
  CHECK(contains(bad_rank, "expected rank 4"));

  const auto missing = error_of([&] { run_op(cpu, "feature_map_fwd", {}, {}); });
  CHECK(contains(missing, "feature_map_fwd: missing input x [B,T,H,D]"));

  const auto bad_e = error_of([&] {
    run_op(cpu, "feature_map_bwd", {{"x", x}, {"dy", dy_taylor_wrong}}, {{"kind", std::string("taylor2")}});
  });
  CHECK(contains(bad_e,
                 "feature_map_bwd: dy has feature dim E=5, expected E=31 "
                 "(kind 'taylor2' maps D=5 features to 1 + D + D^2)"));
  const auto bad_e_identity = error_of([&] { run_op(cpu, "feature_map_bwd", {{"x", x}, {"dy", dy_taylor}}, {}); });
  CHECK(contains(bad_e_identity,
                 "feature_map_bwd: dy has feature dim E=31, expected E=5 "
                 "(kind 'identity' maps D=5 features to D)"));

  const auto bad_t = error_of([&] { run_op(cpu, "feature_map_bwd", {{"x", x}, {"dy", dy_late}}, {}); });
  CHECK(contains(bad_t,
                 "feature_map_bwd: dy has shape [2, 4, 4, 5], expected [B=2, T=3, H=4, E] (T is 3 from x, got 4)"));

  const auto bad_dtype = error_of([&] { run_op(cpu, "feature_map_bwd", {{"x", x}, {"dy", dy64}}, {}); });
  CHECK(contains(bad_dtype, "dy has dtype f64, but x has f32"));

  const auto bad_eps = error_of([&] { run_op(cpu, "feature_map_fwd", {{"x", x}}, {{"eps", 0.0}}); });
  CHECK(contains(bad_eps, "feature_map_fwd: attribute eps = 0 is out of range; valid: 1e-12 to 1"));

  // The good calls succeed, with E bound from the kind.
  const auto y = run_op(cpu, "feature_map_fwd", {{"x", x}}, {{"kind", std::string("taylor2")}});
  CHECK(y.at("y").shape == Shape{2, 3, 4, 31});
  const auto dx = run_op(cpu, "feature_map_bwd", {{"x", x}, {"dy", dy_taylor}}, {{"kind", std::string("taylor2")}});
  CHECK(dx.at("dx").shape == Shape{2, 3, 4, 5});
}
