// The short causal depthwise convolution (short_conv_fwd / short_conv_bwd) on
// the CPU: against a naive reference and finite differences, causality,
// awkward shapes, extreme inputs, float32 vs float64, dbias presence and
// the errors a caller sees.
//
// x, y, dy, dx: (B, T, C)   weight, dweight: (C, W)   bias, dbias: (C)
#include <doctest/doctest.h>

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

struct ConvShape {
  int64_t B, Tn, C, W;
};

std::string describe(const ConvShape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.Tn) + " C=" + std::to_string(s.C) +
         " W=" + std::to_string(s.W);
}

template <class T>
struct ConvInputs {
  std::vector<T> x, weight, bias;  // bias empty: no bias
};

template <class T>
struct ConvGrads {
  std::vector<T> dx, dweight, dbias;  // dbias empty when there is no bias
};

template <class T>
ConvInputs<T> random_inputs(const ConvShape& s, bool with_bias, uint32_t seed) {
  ConvInputs<T> in;
  in.x = random_vector<T>(s.B * s.Tn * s.C, seed);
  in.weight = random_vector<T>(s.C * s.W, seed + 1, 0.5);
  if (with_bias) in.bias = random_vector<T>(s.C, seed + 2);
  return in;
}

template <class T>
TensorMap upload_inputs(Backend& cpu, const ConvShape& s, const ConvInputs<T>& in) {
  TensorMap map{{"x", upload<T>(cpu, {s.B, s.Tn, s.C}, in.x)}, {"weight", upload<T>(cpu, {s.C, s.W}, in.weight)}};
  if (!in.bias.empty()) map["bias"] = upload<T>(cpu, {s.C}, in.bias);
  return map;
}

template <class T>
std::vector<T> conv_fwd(const ConvShape& s, const ConvInputs<T>& in, const std::string& activation) {
  Backend& cpu = get_backend("cpu");
  const auto out = run_op(cpu, "short_conv_fwd", upload_inputs(cpu, s, in), {{"activation", activation}});
  return download<T>(out.at("y"));
}

template <class T>
ConvGrads<T> conv_bwd(const ConvShape& s, const ConvInputs<T>& in, const std::vector<T>& dy,
                      const std::string& activation) {
  Backend& cpu = get_backend("cpu");
  TensorMap map = upload_inputs(cpu, s, in);
  map["dy"] = upload<T>(cpu, {s.B, s.Tn, s.C}, dy);
  const bool has_bias = !in.bias.empty();
  const auto out = run_op(cpu, "short_conv_bwd", map, {{"activation", activation}});
  ConvGrads<T> g;
  g.dx = download<T>(out.at("dx"));
  g.dweight = download<T>(out.at("dweight"));
  if (has_bias) g.dbias = download<T>(out.at("dbias"));
  CHECK(out.count("dbias") == (has_bias ? 1u : 0u));
  return g;
}

// y[b, t, c] = act(bias[c] + sum_j weight[c, j] x[b, t - W + 1 + j, c]), straight from the op doc.
std::vector<double> reference_conv(const ConvShape& s, const ConvInputs<double>& in, const std::string& activation) {
  std::vector<double> y(static_cast<size_t>(s.B * s.Tn * s.C));
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t t = 0; t < s.Tn; ++t)
      for (int64_t c = 0; c < s.C; ++c) {
        double pre = in.bias.empty() ? 0.0 : in.bias[c];
        for (int64_t j = 0; j < s.W; ++j) {
          const int64_t time = t - s.W + 1 + j;
          if (time >= 0) pre += in.weight[c * s.W + j] * in.x[(b * s.Tn + time) * s.C + c];
        }
        y[(b * s.Tn + t) * s.C + c] = activation == "silu" ? pre / (1.0 + std::exp(-pre)) : pre;
      }
  return y;
}

const std::vector<std::string> kActivations = {"none", "silu"};

// Small shapes for finite differences: T = 1, T < W, C = 1, W = 1, 2, 4.
const std::vector<ConvShape> kAwkwardShapes = {
    {2, 9, 3, 4},  // T > W
    {1, 1, 1, 1},  // everything 1
    {1, 1, 5, 4},  // T = 1 < W
    {2, 3, 4, 4},  // T < W
    {3, 5, 1, 2},  // C = 1, W = 2
    {2, 6, 7, 1},  // W = 1: a per-channel scale
    {2, 5, 3, 2},  // W = 2
};

// Larger shapes that split into several tasks: several channel blocks (C > 32)
// and several time blocks per batch (T * C > 16384), and the largest kernel.
const std::vector<ConvShape> kThreadedShapes = {
    {3, 200, 70, 4},
    {2, 600, 40, 3},
    {1, 70, 2, 64},
};

}  // namespace

TEST_CASE("short conv: short_conv_fwd matches a naive reference (f64, awkward and threaded shapes)") {
  PoisonOutputs poison;
  std::vector<ConvShape> shapes = kAwkwardShapes;
  shapes.insert(shapes.end(), kThreadedShapes.begin(), kThreadedShapes.end());
  uint32_t seed = 100;
  for (const auto& s : shapes)
    for (bool with_bias : {false, true})
      for (const auto& act : kActivations) {
        INFO(describe(s) << ", bias " << with_bias << ", activation " << act);
        const auto in = random_inputs<double>(s, with_bias, seed += 10);
        const auto y = conv_fwd(s, in, act);
        REQUIRE(all_finite(y));
        CHECK(rel_error(y, reference_conv(s, in, act)) < 1e-14);
      }
}

TEST_CASE("short conv: short_conv_bwd matches finite differences for x, weight and bias (f64)") {
  PoisonOutputs poison;
  std::vector<ConvShape> shapes = kAwkwardShapes;
  shapes.insert(shapes.end(), kThreadedShapes.begin(), kThreadedShapes.end());
  uint32_t seed = 1000;
  for (const auto& s : shapes)
    for (bool with_bias : {false, true})
      for (const auto& act : kActivations) {
        INFO(describe(s) << ", bias " << with_bias << ", activation " << act);
        auto in = random_inputs<double>(s, with_bias, seed += 10);
        const auto dy = random_vector<double>(s.B * s.Tn * s.C, seed + 5);
        const auto g = conv_bwd(s, in, dy, act);
        REQUIRE(all_finite(g.dx));
        REQUIRE(all_finite(g.dweight));
        REQUIRE(all_finite(g.dbias));
        std::vector<GradInput> inputs = {{"x", &in.x, &g.dx}, {"weight", &in.weight, &g.dweight}};
        if (with_bias) inputs.push_back({"bias", &in.bias, &g.dbias});
        check_gradients([&] { return dot(conv_fwd(s, in, act), dy); }, inputs);
      }
}

TEST_CASE("short conv: changing x at time t changes y only at times t to t + W - 1 (causal)") {
  PoisonOutputs poison;
  const ConvShape s{2, 12, 5, 4};
  const auto in = random_inputs<double>(s, true, 7);
  for (const auto& act : kActivations)
    for (int64_t t0 : {0, 5, 11}) {
      INFO("activation " << act << ", x changed at t = " << t0);
      auto changed = in;
      for (int64_t b = 0; b < s.B; ++b)
        for (int64_t c = 0; c < s.C; ++c) changed.x[(b * s.Tn + t0) * s.C + c] += 1.0 + double(c);
      const auto y = conv_fwd(s, in, act);
      const auto y_changed = conv_fwd(s, changed, act);
      for (int64_t b = 0; b < s.B; ++b)
        for (int64_t t = 0; t < s.Tn; ++t)
          for (int64_t c = 0; c < s.C; ++c) {
            const size_t i = static_cast<size_t>((b * s.Tn + t) * s.C + c);
            if (t < t0 || t >= t0 + s.W) CHECK(y_changed[i] == y[i]);  // bit for bit
            if (t == t0) CHECK(y_changed[i] != y[i]);                  // tap W - 1 sees time t
          }
    }
}

TEST_CASE("short conv: extreme inputs (+-100) give finite outputs and gradients") {
  PoisonOutputs poison;
  const ConvShape s{2, 10, 6, 4};
  auto check_dtype = [&](auto tag) {
    using T = decltype(tag);
    ConvInputs<T> in;
    for (int64_t i = 0; i < s.B * s.Tn * s.C; ++i) in.x.push_back(i % 3 == 0 ? T(100) : i % 3 == 1 ? T(-100) : T(0));
    for (int64_t i = 0; i < s.C * s.W; ++i) in.weight.push_back(i % 2 ? T(3) : T(-2));  // |pre| up to ~1000
    in.bias.assign(static_cast<size_t>(s.C), T(100));
    std::vector<T> dy(in.x.size());
    for (size_t i = 0; i < dy.size(); ++i) dy[i] = i % 2 ? T(100) : T(-100);
    for (const auto& act : kActivations) {
      INFO((sizeof(T) == 4 ? "f32" : "f64") << ", activation " << act);
      CHECK(all_finite(conv_fwd(s, in, act)));
      const auto g = conv_bwd(s, in, dy, act);
      CHECK(all_finite(g.dx));
      CHECK(all_finite(g.dweight));
      CHECK(all_finite(g.dbias));
    }
  };
  check_dtype(double());
  check_dtype(float());
}

TEST_CASE("short conv in float32 agrees with float64") {
  PoisonOutputs poison;
  for (const ConvShape& s : {ConvShape{2, 50, 33, 4}, ConvShape{1, 300, 70, 3}})
    for (const auto& act : kActivations) {
      INFO(describe(s) << ", activation " << act);
      // Both precisions see the same (float-representable) inputs, so only the kernels' rounding differs.
      const auto in32 = random_inputs<float>(s, true, 77);
      const auto dy32 = random_vector<float>(s.B * s.Tn * s.C, 78);
      ConvInputs<double> in64{{in32.x.begin(), in32.x.end()},
                              {in32.weight.begin(), in32.weight.end()},
                              {in32.bias.begin(), in32.bias.end()}};
      const std::vector<double> dy64(dy32.begin(), dy32.end());
      auto widen = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
      CHECK(rel_error(widen(conv_fwd(s, in32, act)), conv_fwd(s, in64, act)) < 1e-6);
      const auto g32 = conv_bwd(s, in32, dy32, act);
      const auto g64 = conv_bwd(s, in64, dy64, act);
      CHECK(rel_error(widen(g32.dx), g64.dx) < 1e-6);
      CHECK(rel_error(widen(g32.dweight), g64.dweight) < 1e-6);
      CHECK(rel_error(widen(g32.dbias), g64.dbias) < 1e-6);
    }
}

TEST_CASE("short conv: dbias is produced exactly when bias is given") {
  Backend& cpu = get_backend("cpu");
  auto x = random_tensor<double>(cpu, {2, 8, 3}, 1);
  auto w = random_tensor<double>(cpu, {3, 4}, 2);
  auto bias = random_tensor<double>(cpu, {3}, 3);
  auto dy = random_tensor<double>(cpu, {2, 8, 3}, 4);

  const auto without = run_op(cpu, "short_conv_bwd", {{"x", x}, {"weight", w}, {"dy", dy}}, {});
  CHECK(without.count("dx") == 1);
  CHECK(without.count("dweight") == 1);
  CHECK(without.count("dbias") == 0);
  const auto with = run_op(cpu, "short_conv_bwd", {{"x", x}, {"weight", w}, {"bias", bias}, {"dy", dy}}, {});
  CHECK(with.at("dbias").shape == Shape{3});

  const auto dbias_unavailable = error_of([&] {
    run_op(cpu, "short_conv_bwd", {{"x", x}, {"weight", w}, {"dy", dy}}, {}, {"dbias"});
  });
  CHECK(contains(dbias_unavailable, "short_conv_bwd: output dbias is not produced (no bias was given)"));
}

TEST_CASE("short conv errors name the tensor or attribute and what is valid") {
  Backend& cpu = get_backend("cpu");
  auto x = random_tensor<float>(cpu, {2, 8, 3}, 1);
  auto w = random_tensor<float>(cpu, {3, 4}, 2);
  auto w_channels = random_tensor<float>(cpu, {5, 4}, 3);
  auto w_long = random_tensor<float>(cpu, {3, 65}, 4);
  auto w_max = random_tensor<float>(cpu, {3, 64}, 5);
  auto bias_wrong = random_tensor<float>(cpu, {4}, 6);
  auto x_rank4 = random_tensor<float>(cpu, {2, 8, 3, 1}, 7);
  auto dy_short = random_tensor<float>(cpu, {2, 7, 3}, 8);

  const auto channels = error_of([&] { run_op(cpu, "short_conv_fwd", {{"x", x}, {"weight", w_channels}}, {}); });
  CHECK(contains(channels, "short_conv_fwd: weight has shape [5, 4], expected [C=3, W] (C is 3 from x, got 5)"));

  const auto too_long = error_of([&] { run_op(cpu, "short_conv_fwd", {{"x", x}, {"weight", w_long}}, {}); });
  CHECK(contains(too_long, "short_conv_fwd: weight has kernel size W=65 (dim 1 of [C, W]); valid: 1 to 64"));
  CHECK(run_op(cpu, "short_conv_fwd", {{"x", x}, {"weight", w_max}}, {}).at("y").shape == Shape{2, 8, 3});

  const auto bias = error_of([&] {
    run_op(cpu, "short_conv_fwd", {{"x", x}, {"weight", w}, {"bias", bias_wrong}}, {});
  });
  CHECK(contains(bias, "short_conv_fwd: bias has shape [4], expected [C=3] (C is 3 from x, got 4)"));

  const auto activation = error_of([&] {
    run_op(cpu, "short_conv_fwd", {{"x", x}, {"weight", w}}, {{"activation", std::string("gelu")}});
  });
  CHECK(contains(activation, "short_conv_fwd: attribute activation = 'gelu' is not valid; valid: none, silu"));

  const auto rank = error_of([&] { run_op(cpu, "short_conv_fwd", {{"x", x_rank4}, {"weight", w}}, {}); });
  CHECK(contains(rank, "short_conv_fwd: x has shape [2, 8, 3, 1], expected [B, T, C] (rank 4, expected rank 3)"));

  const auto missing = error_of([&] { run_op(cpu, "short_conv_fwd", {{"x", x}}, {}); });
  CHECK(contains(missing, "short_conv_fwd: missing input weight [C,W]"));

  const auto dy = error_of([&] { run_op(cpu, "short_conv_bwd", {{"x", x}, {"weight", w}, {"dy", dy_short}}, {}); });
  CHECK(contains(dy, "short_conv_bwd: dy has shape [2, 7, 3], expected [B=2, T=8, C=3] (T is 8 from x, got 7)"));

  const auto bwd_channels = error_of([&] {
    run_op(cpu, "short_conv_bwd", {{"x", x}, {"weight", w_channels}, {"dy", x}}, {});
  });
  CHECK(contains(bwd_channels, "short_conv_bwd: weight has shape [5, 4], expected [C=3, W] (C is 3 from x, got 5)"));
}
