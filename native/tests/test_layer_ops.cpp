// The model-layer ops on the CPU: embedding, norm, linear, SwiGLU and rotary,
// forward and backward, against naive references written here from the op
// docs, float64 finite differences, float32 vs float64, awkward shapes
// (single rows, D = 1, K or M = 1, odd sizes, rank-1 and rank-4 leading
// shapes, shapes that split into many tasks) and the errors a caller sees.
// Every op runs with NaN-poisoned outputs, so an unwritten element shows.
//
// Rows are all leading dims flattened: x (N, D), ids (N), w (K, M) or (M, K).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
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

// ---- running ops on host values -------------------------------------------------

// Values live on the host in double and are uploaded as T; outputs come back
// widened to double, so one reference serves both precisions.
struct HostTensor {
  Shape shape;
  std::vector<double> values;
};
using HostMap = std::map<std::string, HostTensor>;
using AttrMap = std::map<std::string, AttrValue>;

struct Ids {
  Shape shape;
  std::vector<int32_t> values;
};

HostTensor random_host(const Shape& shape, uint32_t seed, double scale = 1.0) {
  return {shape, random_vector<double>(numel(shape), seed, scale)};
}

// Rounds every value to float, so float32 and float64 runs see the same inputs.
HostTensor float_representable(HostTensor t) {
  for (auto& v : t.values) v = double(float(v));
  return t;
}

template <class T>
HostMap run_layer_op(const std::string& op, const HostMap& inputs, const AttrMap& attrs = {}, const Ids* ids = nullptr,
                     const std::vector<std::string>& want = {}) {
  Backend& cpu = get_backend("cpu");
  TensorMap tensors;
  for (const auto& [name, t] : inputs)
    tensors[name] = upload<T>(cpu, t.shape, std::vector<T>(t.values.begin(), t.values.end()));
  if (ids) tensors["ids"] = cpu.from_host(ids->shape, DType::i32, ids->values.data());
  HostMap out;
  for (const auto& entry : run_op(cpu, op, tensors, attrs, want)) {
    const std::string& name = entry.first;  // not a binding: REQUIRE_MESSAGE captures it
    const Tensor& t = entry.second;
    const auto values = download<T>(t);
    REQUIRE_MESSAGE(all_finite(values), op << ": output " << name << " has a NaN or inf (unwritten?)");
    out[name] = {t.shape, std::vector<double>(values.begin(), values.end())};
  }
  return out;
}

int64_t last_dim(const Shape& shape) { return shape.back(); }
int64_t leading_rows(const Shape& shape) { return numel(shape) / shape.back(); }

std::string describe(const Shape& shape) { return shape_str(shape); }

// ---- naive references, straight from the op docs ----------------------------------

std::vector<double> reference_embedding(const Ids& ids, const HostTensor& table) {
  const int64_t D = table.shape[1];
  std::vector<double> y;
  for (int32_t id : ids.values)
    for (int64_t d = 0; d < D; ++d) y.push_back(table.values[id * D + d]);
  return y;
}

std::vector<double> reference_embedding_grad(const Ids& ids, const HostTensor& dy, int64_t R, int64_t D) {
  std::vector<double> dtable(static_cast<size_t>(R * D), 0.0);
  for (size_t n = 0; n < ids.values.size(); ++n)
    for (int64_t d = 0; d < D; ++d) dtable[ids.values[n] * D + d] += dy.values[n * D + d];
  return dtable;
}

struct NormReference {
  std::vector<double> y, rstd;
};

NormReference reference_norm(const HostTensor& x, const HostTensor* weight, const std::string& kind, double eps) {
  const int64_t D = last_dim(x.shape), N = leading_rows(x.shape);
  NormReference ref;
  for (int64_t r = 0; r < N; ++r) {
    const double* row = x.values.data() + r * D;
    double mu = 0;
    if (kind == "layer") {
      for (int64_t i = 0; i < D; ++i) mu += row[i];
      mu /= double(D);
    }
    double sq = 0;
    for (int64_t i = 0; i < D; ++i) sq += (row[i] - mu) * (row[i] - mu);
    const double rstd = 1.0 / std::sqrt(sq / double(D) + eps);
    for (int64_t i = 0; i < D; ++i) ref.y.push_back((row[i] - mu) * rstd * (weight ? weight->values[i] : 1.0));
    ref.rstd.push_back(rstd);
  }
  return ref;
}

struct NormGradReference {
  std::vector<double> dx, dweight;
  // rstd * g, the size of the terms dx is a difference of: for D = 1 and 2 they
  // cancel (layer, D = 1: exactly), so dx's own norm is no scale for its error.
  std::vector<double> dx_scale;
};

// ||a - b|| / ||scale||.
double error_relative_to(const std::vector<double>& a, const std::vector<double>& b, const std::vector<double>& scale) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += scale[i] * scale[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-300);
}

// dx = rstd (g - [layer: mean g] - xhat mean(g xhat)), g = dy weight; dweight = sum_rows dy xhat.
NormGradReference reference_norm_grad(const HostTensor& x, const HostTensor* weight, const HostTensor& dy,
                                      const std::string& kind, double eps) {
  const int64_t D = last_dim(x.shape), N = leading_rows(x.shape);
  const std::vector<double> rstd = reference_norm(x, weight, kind, eps).rstd;
  NormGradReference ref;
  ref.dweight.assign(static_cast<size_t>(D), 0.0);
  for (int64_t r = 0; r < N; ++r) {
    double mu = 0;
    if (kind == "layer") {
      for (int64_t i = 0; i < D; ++i) mu += x.values[r * D + i];
      mu /= double(D);
    }
    std::vector<double> xhat(static_cast<size_t>(D)), g(static_cast<size_t>(D));
    double mean_g = 0, mean_g_xhat = 0;
    for (int64_t i = 0; i < D; ++i) {
      xhat[i] = (x.values[r * D + i] - mu) * rstd[r];
      g[i] = dy.values[r * D + i] * (weight ? weight->values[i] : 1.0);
      mean_g += g[i] / double(D);
      mean_g_xhat += g[i] * xhat[i] / double(D);
      ref.dweight[i] += dy.values[r * D + i] * xhat[i];
    }
    for (int64_t i = 0; i < D; ++i) {
      ref.dx.push_back(rstd[r] * (g[i] - (kind == "layer" ? mean_g : 0.0) - xhat[i] * mean_g_xhat));
      ref.dx_scale.push_back(rstd[r] * g[i]);
    }
  }
  return ref;
}

// y = x W + bias, W = w (K, M) or w^T (w (M, K)).
std::vector<double> reference_linear_rows(const HostTensor& x, const HostTensor& w, const HostTensor* bias,
                                          bool trans_w, const std::vector<int64_t>& rows) {
  const int64_t K = last_dim(x.shape);
  const int64_t M = trans_w ? w.shape[0] : w.shape[1];
  std::vector<double> y;
  for (int64_t r : rows)
    for (int64_t m = 0; m < M; ++m) {
      double sum = bias ? bias->values[m] : 0.0;
      for (int64_t k = 0; k < K; ++k)
        sum += x.values[r * K + k] * (trans_w ? w.values[m * K + k] : w.values[k * M + m]);
      y.push_back(sum);
    }
  return y;
}

std::vector<int64_t> all_rows(int64_t n) {
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < n; ++r) rows.push_back(r);
  return rows;
}

double silu(double g) { return g / (1.0 + std::exp(-g)); }

std::vector<double> reference_rotary(const HostTensor& x, double base, int64_t offset, bool inverse) {
  const int64_t Tn = x.shape[1], H = x.shape[2], D = x.shape[3], half = D / 2;
  std::vector<double> y(x.values.size());
  for (int64_t r = 0; r < leading_rows(x.shape); ++r) {
    const int64_t t = (r / H) % Tn;
    for (int64_t i = 0; i < half; ++i) {
      const double theta = double(offset + t) * std::pow(base, -2.0 * double(i) / double(D)) * (inverse ? -1 : 1);
      const double lo = x.values[r * D + i], hi = x.values[r * D + i + half];
      y[r * D + i] = lo * std::cos(theta) - hi * std::sin(theta);
      y[r * D + i + half] = hi * std::cos(theta) + lo * std::sin(theta);
    }
  }
  return y;
}

// Leading shapes for the row-wise ops: a single row with no leading dims
// (rank 1), one row, odd counts, rank 4, and enough rows for many tasks.
// {3, 1001} with D = 2 or 61 spreads the norms over their maximum of 64 row chunks.
const std::vector<Shape> kLeadingShapes = {{}, {1}, {37}, {2, 3, 1, 5}, {3, 1001}};

Shape append(Shape shape, int64_t last) {
  shape.push_back(last);
  return shape;
}

const std::vector<std::string> kNormKinds = {"rms", "layer"};

}  // namespace

// ================================= embedding ======================================

namespace {

Ids random_ids(const Shape& shape, int32_t R, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> pick(0, R - 1);
  Ids ids{shape, {}};
  for (int64_t n = 0; n < numel(shape); ++n) ids.values.push_back(pick(rng));
  return ids;
}

}  // namespace

TEST_CASE("embedding_fwd copies table rows for ids of rank 0 to 4 (f64 and f32)") {
  PoisonOutputs poison;
  struct Case {
    Shape ids_shape;
    int64_t R, D;
  };
  for (const Case& c :
       {Case{{}, 4, 3}, Case{{1}, 1, 1}, Case{{37}, 5, 3}, Case{{2, 3, 4, 5}, 11, 7}, Case{{4, 2000}, 300, 20}}) {
    INFO("ids " << describe(c.ids_shape) << ", table [" << c.R << ", " << c.D << "]");
    const Ids ids = random_ids(c.ids_shape, int32_t(c.R), 3);
    const HostTensor table = float_representable(random_host({c.R, c.D}, 4));
    const auto y64 = run_layer_op<double>("embedding_fwd", {{"table", table}}, {}, &ids).at("y");
    CHECK(y64.shape == append(c.ids_shape, c.D));
    CHECK(y64.values == reference_embedding(ids, table));  // a copy: exact
    const auto y32 = run_layer_op<float>("embedding_fwd", {{"table", table}}, {}, &ids).at("y");
    CHECK(y32.values == y64.values);
  }
}

TEST_CASE("embedding_bwd sums dy over repeated ids and leaves unused rows zero") {
  PoisonOutputs poison;
  const Ids ids{{2, 3}, {3, 1, 3, 3, 1, 0}};
  const int64_t R = 6, D = 2;
  const HostTensor table = random_host({R, D}, 1);
  const HostTensor dy{{2, 3, D}, {1, 2, 10, 20, 100, 200, 1000, 2000, 0.5, 0.25, 7, 8}};
  const auto dtable = run_layer_op<double>("embedding_bwd", {{"table", table}, {"dy", dy}}, {}, &ids).at("dtable");
  CHECK(dtable.shape == Shape{R, D});
  CHECK(dtable.values == std::vector<double>{7, 8, 10.5, 20.25, 0, 0, 1101, 2202, 0, 0, 0, 0});
}

TEST_CASE("embedding_bwd matches a naive scatter-add, finite differences, and float32") {
  PoisonOutputs poison;
  struct Case {
    Shape ids_shape;
    int64_t R, D;
    double share_of_one_id;  // a padding-like id taking this share of positions
  };
  const std::vector<Case> cases = {
      {{1}, 1, 1, 0},           {{37}, 5, 3, 0},
      {{2, 3, 4, 5}, 11, 7, 0}, {{3, 700}, 300, 150, 0},  // several row ranges and column blocks
      {{5000}, 40, 130, 0.9},                             // one id dominates: its row spreads over column blocks
  };
  uint32_t seed = 10;
  for (const Case& c : cases) {
    INFO("ids " << describe(c.ids_shape) << ", table [" << c.R << ", " << c.D << "], share " << c.share_of_one_id);
    Ids ids = random_ids(c.ids_shape, int32_t(c.R), seed += 3);
    for (size_t n = 0; n < ids.values.size(); ++n)
      if (double(n % 10) < c.share_of_one_id * 10) ids.values[n] = int32_t(c.R / 2);
    HostTensor table = float_representable(random_host({c.R, c.D}, seed + 1));
    const HostTensor dy = float_representable(random_host(append(c.ids_shape, c.D), seed + 2));
    const auto dtable = run_layer_op<double>("embedding_bwd", {{"table", table}, {"dy", dy}}, {}, &ids).at("dtable");
    CHECK(rel_error(dtable.values, reference_embedding_grad(ids, dy, c.R, c.D)) < 1e-14);
    const auto dtable32 = run_layer_op<float>("embedding_bwd", {{"table", table}, {"dy", dy}}, {}, &ids).at("dtable");
    CHECK(rel_error(dtable32.values, dtable.values) < 1e-6);
    if (numel(c.ids_shape) * c.D < 10000)
      check_gradients(
          [&] {
            return dot(run_layer_op<double>("embedding_fwd", {{"table", table}}, {}, &ids).at("y").values, dy.values);
          },
          {{"table", &table.values, &dtable.values}});
  }
}

TEST_CASE("embedding errors: ids outside the table, negative ids, non-i32 ids, bad shapes") {
  Backend& cpu = get_backend("cpu");
  PoisonOutputs poison;
  auto table = random_tensor<float>(cpu, {256, 4}, 1);
  std::vector<int32_t> ids_values(20, 5);
  ids_values[17] = 300;
  auto ids = cpu.from_host({20}, DType::i32, ids_values.data());
  auto dy = random_tensor<float>(cpu, {20, 4}, 2);
  CHECK(error_of([&] {
          run_op(cpu, "embedding_fwd", {{"ids", ids}, {"table", table}}, {});
        }) == "embedding_fwd: ids[17] = 300 is outside the table's rows 0..255");
  CHECK(error_of([&] {
          run_op(cpu, "embedding_bwd", {{"ids", ids}, {"table", table}, {"dy", dy}}, {});
        }) == "embedding_bwd: ids[17] = 300 is outside the table's rows 0..255");

  ids_values[17] = 256;  // one past the last row
  auto ids_at_r = cpu.from_host({20}, DType::i32, ids_values.data());
  CHECK(error_of([&] {
          run_op(cpu, "embedding_fwd", {{"ids", ids_at_r}, {"table", table}}, {});
        }) == "embedding_fwd: ids[17] = 256 is outside the table's rows 0..255");
  ids_values[17] = 255;  // the last row is valid
  auto ids_last = cpu.from_host({20}, DType::i32, ids_values.data());
  CHECK(run_op(cpu, "embedding_fwd", {{"ids", ids_last}, {"table", table}}, {}).at("y").shape == Shape{20, 4});

  ids_values[3] = -1;
  ids_values[9] = 256;  // the first bad position is named
  auto negative = cpu.from_host({4, 5}, DType::i32, ids_values.data());
  auto dy_2d = random_tensor<float>(cpu, {4, 5, 4}, 3);
  CHECK(error_of([&] {
          run_op(cpu, "embedding_fwd", {{"ids", negative}, {"table", table}}, {});
        }) == "embedding_fwd: ids[3] = -1 is outside the table's rows 0..255");
  CHECK(error_of([&] {
          run_op(cpu, "embedding_bwd", {{"ids", negative}, {"table", table}, {"dy", dy_2d}}, {});
        }) == "embedding_bwd: ids[3] = -1 is outside the table's rows 0..255");

  auto float_ids = random_tensor<float>(cpu, {20}, 4);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "embedding_fwd", {{"ids", float_ids}, {"table", table}}, {});
                 }),
                 "embedding_fwd: ids has dtype f32; indices are i32"));
  auto index_table = cpu.from_host({5, 4}, DType::i32, ids_values.data());
  CHECK(contains(error_of([&] {
                   run_op(cpu, "embedding_fwd", {{"ids", ids}, {"table", index_table}}, {});
                 }),
                 "embedding_fwd: table has dtype i32; valid: f32, f64"));

  auto dy_wide = random_tensor<float>(cpu, {20, 5}, 5);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "embedding_bwd", {{"ids", ids}, {"table", table}, {"dy", dy_wide}}, {});
                 }),
                 "embedding_bwd: dy has shape [20, 5], expected [*S=[20], D=4] (D is 4 from table, got 5)"));
  auto dy_rows = random_tensor<float>(cpu, {21, 4}, 6);
  CHECK(contains(
      error_of([&] {
        run_op(cpu, "embedding_bwd", {{"ids", ids}, {"table", table}, {"dy", dy_rows}}, {});
      }),
      "embedding_bwd: dy has shape [21, 4], expected [*S=[20], D=4] (its leading dims must be [20] as in ids)"));
  CHECK(contains(error_of([&] {
                   run_op(cpu, "embedding_fwd", {{"ids", ids}}, {});
                 }),
                 "embedding_fwd: missing input table [R,D]"));
}

// =================================== norm =========================================

namespace {

// The norms' inputs: x (rows, D) shifted off zero (so the layer-norm mean matters), weight (D).
struct NormInputs {
  HostTensor x, weight;
};

NormInputs norm_inputs(const Shape& x_shape, uint32_t seed) {
  NormInputs in{float_representable(random_host(x_shape, seed)),
                float_representable(random_host({last_dim(x_shape)}, seed + 1, 0.5))};
  for (auto& v : in.x.values) v = double(float(v + 0.7));
  for (auto& v : in.weight.values) v = double(float(v + 1.0));
  return in;
}

HostMap norm_fwd_inputs(const NormInputs& in, bool with_weight) {
  HostMap map{{"x", in.x}};
  if (with_weight) map["weight"] = in.weight;
  return map;
}

}  // namespace

TEST_CASE(
    "norm_fwd and norm_bwd match naive references for both kinds, with and without weight (f64, awkward shapes)") {
  PoisonOutputs poison;
  uint32_t seed = 200;
  for (const Shape& lead : kLeadingShapes)
    for (int64_t D : {1, 2, 61, 130})
      for (const auto& kind : kNormKinds)
        for (bool with_weight : {false, true})
          for (double eps : {1e-6, 0.1}) {
            const Shape shape = append(lead, D);
            INFO("x " << describe(shape) << ", kind " << kind << ", weight " << with_weight << ", eps " << eps);
            const NormInputs in = norm_inputs(shape, seed += 2);
            const auto out =
                run_layer_op<double>("norm_fwd", norm_fwd_inputs(in, with_weight), {{"kind", kind}, {"eps", eps}});
            const auto ref = reference_norm(in.x, with_weight ? &in.weight : nullptr, kind, eps);
            CHECK(out.at("y").shape == shape);
            CHECK(out.at("rstd").shape == lead);
            CHECK(rel_error(out.at("y").values, ref.y) < 1e-12);
            CHECK(rel_error(out.at("rstd").values, ref.rstd) < 1e-12);

            HostMap bwd_in = norm_fwd_inputs(in, with_weight);
            bwd_in["rstd"] = out.at("rstd");
            bwd_in["dy"] = random_host(shape, seed + 1);
            const auto grads = run_layer_op<double>("norm_bwd", bwd_in, {{"kind", kind}, {"eps", eps}});
            const auto ref_grad =
                reference_norm_grad(in.x, with_weight ? &in.weight : nullptr, bwd_in["dy"], kind, eps);
            CHECK(grads.at("dx").shape == shape);
            CHECK(error_relative_to(grads.at("dx").values, ref_grad.dx, ref_grad.dx_scale) < 1e-12);
            if (with_weight) CHECK(rel_error(grads.at("dweight").values, ref_grad.dweight) < 1e-12);
          }
}

TEST_CASE("norm: one wide row, D = 1, and rows of RMS 1 give the documented values") {
  PoisonOutputs poison;
  // D = 20000: one row spans more than a task's worth of elements.
  const NormInputs wide = norm_inputs({1, 20000}, 7);
  for (const auto& kind : kNormKinds) {
    const auto out = run_layer_op<double>("norm_fwd", norm_fwd_inputs(wide, true), {{"kind", kind}});
    CHECK(rel_error(out.at("y").values, reference_norm(wide.x, &wide.weight, kind, 1e-6).y) < 1e-12);
  }
  // D = 1: layer norm maps every row to 0 with rstd = 1/sqrt(eps); rms to sign(x) * |x| / sqrt(x^2 + eps).
  const HostTensor x{{3, 1}, {2.0, -0.5, 0.0}};
  const auto layer = run_layer_op<double>("norm_fwd", {{"x", x}}, {{"kind", std::string("layer")}, {"eps", 0.25}});
  CHECK(layer.at("y").values == std::vector<double>{0, 0, 0});
  CHECK(layer.at("rstd").values == std::vector<double>{2, 2, 2});
  const auto rms = run_layer_op<double>("norm_fwd", {{"x", x}}, {{"kind", std::string("rms")}, {"eps", 0.25}});
  CHECK(rms.at("y").values[0] == doctest::Approx(2.0 / std::sqrt(4.25)).epsilon(1e-15));
  CHECK(rms.at("y").values[1] == doctest::Approx(-0.5 / std::sqrt(0.5)).epsilon(1e-15));
  CHECK(rms.at("y").values[2] == 0.0);
  CHECK(rms.at("rstd").values[2] == 2.0);
}

TEST_CASE("norm_bwd matches finite differences for x and weight, both kinds (f64, random dy)") {
  PoisonOutputs poison;
  uint32_t seed = 400;
  for (const Shape& lead : std::vector<Shape>{{}, {1}, {5}, {2, 1, 3, 2}, {3, 900}})
    for (int64_t D : {1, 3, 61})
      for (const auto& kind : kNormKinds)
        for (bool with_weight : {false, true}) {
          const Shape shape = append(lead, D);
          INFO("x " << describe(shape) << ", kind " << kind << ", weight " << with_weight);
          NormInputs in = norm_inputs(shape, seed += 3);
          const HostTensor dy = random_host(shape, seed + 2);
          const AttrMap attrs{{"kind", kind}, {"eps", 1e-3}};
          auto forward = [&] { return run_layer_op<double>("norm_fwd", norm_fwd_inputs(in, with_weight), attrs); };
          HostMap bwd_in = norm_fwd_inputs(in, with_weight);
          bwd_in["rstd"] = forward().at("rstd");
          bwd_in["dy"] = dy;
          const auto grads = run_layer_op<double>("norm_bwd", bwd_in, attrs);
          CHECK(grads.count("dweight") == (with_weight ? 1u : 0u));
          std::vector<GradInput> checked = {{"x", &in.x.values, &grads.at("dx").values}};
          if (with_weight) checked.push_back({"weight", &in.weight.values, &grads.at("dweight").values});
          check_gradients([&] { return dot(forward().at("y").values, dy.values); }, checked);
        }
}

TEST_CASE("norm in float32 agrees with float64, forward and backward, over many row chunks") {
  PoisonOutputs poison;
  for (const Shape& shape : std::vector<Shape>{{37, 61}, {4, 1000, 24}, {2, 3, 1025}})
    for (const auto& kind : kNormKinds) {
      INFO("x " << describe(shape) << ", kind " << kind);
      const NormInputs in = norm_inputs(shape, 31);
      const HostTensor dy = float_representable(random_host(shape, 32));
      const AttrMap attrs{{"kind", kind}};
      const auto fwd64 = run_layer_op<double>("norm_fwd", norm_fwd_inputs(in, true), attrs);
      const auto fwd32 = run_layer_op<float>("norm_fwd", norm_fwd_inputs(in, true), attrs);
      CHECK(rel_error(fwd32.at("y").values, fwd64.at("y").values) < 1e-6);
      CHECK(rel_error(fwd32.at("rstd").values, fwd64.at("rstd").values) < 1e-6);
      HostMap bwd_in = norm_fwd_inputs(in, true);
      bwd_in["rstd"] = float_representable(fwd64.at("rstd"));
      bwd_in["dy"] = dy;
      const auto bwd64 = run_layer_op<double>("norm_bwd", bwd_in, attrs);
      const auto bwd32 = run_layer_op<float>("norm_bwd", bwd_in, attrs);
      CHECK(rel_error(bwd32.at("dx").values, bwd64.at("dx").values) < 1e-5);
      CHECK(rel_error(bwd32.at("dweight").values, bwd64.at("dweight").values) < 1e-5);
    }
}

TEST_CASE("norm errors: dweight presence, kind, eps, and shapes name the tensor and what is valid") {
  Backend& cpu = get_backend("cpu");
  PoisonOutputs poison;
  auto x = random_tensor<float>(cpu, {2, 3, 8}, 1);
  auto weight = random_tensor<float>(cpu, {8}, 2);
  auto rstd = random_tensor<float>(cpu, {2, 3}, 3);
  auto dy = random_tensor<float>(cpu, {2, 3, 8}, 4);

  const auto without = run_op(cpu, "norm_bwd", {{"x", x}, {"rstd", rstd}, {"dy", dy}}, {});
  CHECK(without.count("dweight") == 0);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "norm_bwd", {{"x", x}, {"rstd", rstd}, {"dy", dy}}, {}, {"dweight"});
                 }),
                 "norm_bwd: output dweight is not produced (no weight was given)"));
  const auto with = run_op(cpu, "norm_bwd", {{"x", x}, {"weight", weight}, {"rstd", rstd}, {"dy", dy}}, {});
  CHECK(with.at("dweight").shape == Shape{8});

  CHECK(contains(error_of([&] {
                   run_op(cpu, "norm_fwd", {{"x", x}}, {{"kind", std::string("group")}});
                 }),
                 "norm_fwd: attribute kind = 'group' is not valid; valid: rms, layer"));
  CHECK(contains(error_of([&] {
                   run_op(cpu, "norm_fwd", {{"x", x}}, {{"eps", 2.0}});
                 }),
                 "norm_fwd: attribute eps = 2 is out of range; valid: 0 to 1"));
  CHECK(contains(error_of([&] {
                   run_op(cpu, "norm_fwd", {{"x", x}}, {{"epsilon", 0.1}});
                 }),
                 "norm_fwd: unknown attribute 'epsilon'; valid: kind, eps"));
  auto weight_wrong = random_tensor<float>(cpu, {7}, 5);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "norm_fwd", {{"x", x}, {"weight", weight_wrong}}, {});
                 }),
                 "norm_fwd: weight has shape [7], expected [D=8] (D is 8 from x, got 7)"));
  auto rstd_wrong = random_tensor<float>(cpu, {3, 2}, 6);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "norm_bwd", {{"x", x}, {"rstd", rstd_wrong}, {"dy", dy}}, {});
                 }),
                 "norm_bwd: rstd has shape [3, 2], expected [*S=[2, 3]] (its leading dims must be [2, 3] as in x)"));
  auto dy64 = random_tensor<double>(cpu, {2, 3, 8}, 7);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "norm_bwd", {{"x", x}, {"rstd", rstd}, {"dy", dy64}}, {});
                 }),
                 "norm_bwd: dy has dtype f64, but x has f32; all inputs share one dtype"));
}

// ================================== linear ========================================

namespace {

struct LinearCase {
  Shape lead;  // x is lead + [K]
  int64_t K, M;
};

std::string describe(const LinearCase& c) {
  return "x " + shape_str(append(c.lead, c.K)) + ", M=" + std::to_string(c.M);
}

struct LinearInputs {
  HostTensor x, w, bias;
};

// w is (K, M), or (M, K) under trans_w.
LinearInputs linear_inputs(const LinearCase& c, bool trans_w, uint32_t seed) {
  const Shape w_shape = trans_w ? Shape{c.M, c.K} : Shape{c.K, c.M};
  return {float_representable(random_host(append(c.lead, c.K), seed)),
          float_representable(random_host(w_shape, seed + 1, 1.0 / std::sqrt(double(c.K)))),
          float_representable(random_host({c.M}, seed + 2))};
}

HostMap linear_fwd_inputs(const LinearInputs& in, bool with_bias) {
  HostMap map{{"x", in.x}, {"w", in.w}};
  if (with_bias) map["bias"] = in.bias;
  return map;
}

AttrMap trans(bool trans_w) { return {{"trans_w", trans_w}}; }

HostTensor transposed(const HostTensor& w) {
  const int64_t rows = w.shape[0], cols = w.shape[1];
  HostTensor t{{cols, rows}, std::vector<double>(w.values.size())};
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) t.values[j * rows + i] = w.values[i * cols + j];
  return t;
}

// Single rows, K = 1, M = 1, odd sizes, rank 4, and shapes with several
// tiles of y (rows > 128, M > 512) and of dw (K, M > 128).
const std::vector<LinearCase> kLinearCases = {
    {{}, 1, 1}, {{1}, 5, 1}, {{1}, 1, 7}, {{37}, 61, 99}, {{2, 3, 1, 4}, 6, 5}, {{3, 100}, 130, 600}, {{257}, 200, 3},
};

}  // namespace

TEST_CASE("linear_fwd matches a naive reference with and without bias and trans_w (f64, awkward shapes)") {
  PoisonOutputs poison;
  uint32_t seed = 600;
  for (const auto& c : kLinearCases)
    for (bool trans_w : {false, true})
      for (bool with_bias : {false, true}) {
        INFO(describe(c) << ", trans_w " << trans_w << ", bias " << with_bias);
        const LinearInputs in = linear_inputs(c, trans_w, seed += 3);
        const auto y = run_layer_op<double>("linear_fwd", linear_fwd_inputs(in, with_bias), trans(trans_w)).at("y");
        CHECK(y.shape == append(c.lead, c.M));
        const auto ref =
            reference_linear_rows(in.x, in.w, with_bias ? &in.bias : nullptr, trans_w, all_rows(numel(c.lead)));
        CHECK(rel_error(y.values, ref) < 1e-12);
      }
}

TEST_CASE("linear_bwd matches finite differences for x, w and bias, with and without trans_w (f64)") {
  PoisonOutputs poison;
  uint32_t seed = 800;
  for (const auto& c : kLinearCases)
    for (bool trans_w : {false, true})
      for (bool with_bias : {false, true}) {
        INFO(describe(c) << ", trans_w " << trans_w << ", bias " << with_bias);
        LinearInputs in = linear_inputs(c, trans_w, seed += 4);
        const HostTensor dy = random_host(append(c.lead, c.M), seed + 3);
        HostMap bwd_in = linear_fwd_inputs(in, with_bias);
        bwd_in["dy"] = dy;
        const auto grads = run_layer_op<double>("linear_bwd", bwd_in, trans(trans_w));
        CHECK(grads.at("dx").shape == in.x.shape);
        CHECK(grads.at("dw").shape == in.w.shape);
        CHECK(grads.count("dbias") == (with_bias ? 1u : 0u));
        std::vector<GradInput> checked = {{"x", &in.x.values, &grads.at("dx").values},
                                          {"w", &in.w.values, &grads.at("dw").values}};
        if (with_bias) checked.push_back({"bias", &in.bias.values, &grads.at("dbias").values});
        check_gradients(
            [&] {
              return dot(
                  run_layer_op<double>("linear_fwd", linear_fwd_inputs(in, with_bias), trans(trans_w)).at("y").values,
                  dy.values);
            },
            checked);
      }
}

TEST_CASE("linear with trans_w equals the plain product with w transposed explicitly, forward and backward") {
  PoisonOutputs poison;
  const LinearCase c{{3, 50}, 70, 300};
  const LinearInputs in = linear_inputs(c, true, 11);  // w is (M, K)
  const HostTensor dy = float_representable(random_host(append(c.lead, c.M), 12));
  LinearInputs plain = in;
  plain.w = transposed(in.w);  // (K, M)
  auto check_dtype = [&](auto tag) {
    using T = decltype(tag);
    INFO((sizeof(T) == 4 ? "f32" : "f64"));
    const auto y_trans = run_layer_op<T>("linear_fwd", linear_fwd_inputs(in, true), trans(true)).at("y");
    const auto y_plain = run_layer_op<T>("linear_fwd", linear_fwd_inputs(plain, true), trans(false)).at("y");
    CHECK(rel_error(y_trans.values, y_plain.values) < (sizeof(T) == 4 ? 1e-6 : 1e-14));
    HostMap trans_in = linear_fwd_inputs(in, true), plain_in = linear_fwd_inputs(plain, true);
    trans_in["dy"] = plain_in["dy"] = dy;
    const auto g_trans = run_layer_op<T>("linear_bwd", trans_in, trans(true));
    const auto g_plain = run_layer_op<T>("linear_bwd", plain_in, trans(false));
    const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
    CHECK(rel_error(g_trans.at("dx").values, g_plain.at("dx").values) < tol);
    CHECK(rel_error(g_trans.at("dw").values, transposed(g_plain.at("dw")).values) < tol);
    CHECK(rel_error(g_trans.at("dbias").values, g_plain.at("dbias").values) < tol);
  };
  check_dtype(double());
  check_dtype(float());
}

TEST_CASE("linear in float32 agrees with float64, forward and backward") {
  PoisonOutputs poison;
  for (const auto& c : {LinearCase{{37}, 61, 99}, LinearCase{{2, 300}, 130, 600}})
    for (bool trans_w : {false, true}) {
      INFO(describe(c) << ", trans_w " << trans_w);
      const LinearInputs in = linear_inputs(c, trans_w, 21);
      HostMap bwd_in = linear_fwd_inputs(in, true);
      bwd_in["dy"] = float_representable(random_host(append(c.lead, c.M), 22));
      CHECK(rel_error(run_layer_op<float>("linear_fwd", linear_fwd_inputs(in, true), trans(trans_w)).at("y").values,
                      run_layer_op<double>("linear_fwd", linear_fwd_inputs(in, true), trans(trans_w)).at("y").values) <
            1e-5);
      const auto g32 = run_layer_op<float>("linear_bwd", bwd_in, trans(trans_w));
      const auto g64 = run_layer_op<double>("linear_bwd", bwd_in, trans(trans_w));
      for (const char* name : {"dx", "dw", "dbias"}) {
        INFO(name);
        CHECK(rel_error(g32.at(name).values, g64.at(name).values) < 1e-5);
      }
    }
}

TEST_CASE("linear at rows 4096, K 256, M 512: spot-checked rows and dw entries match the naive sums") {
  PoisonOutputs poison;
  const LinearCase c{{4096}, 256, 512};
  const std::vector<int64_t> rows = {0, 1, 127, 128, 2047, 3000, 4095};
  auto check_dtype = [&](auto tag, bool trans_w) {
    using T = decltype(tag);
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
    INFO((sizeof(T) == 4 ? "f32" : "f64") << ", trans_w " << trans_w);
    const LinearInputs in = linear_inputs(c, trans_w, 31);
    const auto y = run_layer_op<T>("linear_fwd", linear_fwd_inputs(in, true), trans(trans_w)).at("y");
    const auto ref = reference_linear_rows(in.x, in.w, &in.bias, trans_w, rows);
    std::vector<double> got;
    for (int64_t r : rows) got.insert(got.end(), y.values.begin() + r * c.M, y.values.begin() + (r + 1) * c.M);
    CHECK(rel_error(got, ref) < tol);

    HostMap bwd_in = linear_fwd_inputs(in, true);
    bwd_in["dy"] = float_representable(random_host({4096, c.M}, 32));
    const auto& dy = bwd_in["dy"].values;
    const auto g = run_layer_op<T>("linear_bwd", bwd_in, trans(trans_w));
    // dw[k, m] = sum_n x[n, k] dy[n, m], stored at [m, k] under trans_w; dbias[m] = sum_n dy[n, m].
    std::vector<double> dw_got, dw_ref, dbias_got, dbias_ref;
    for (int64_t k : {0, 100, 255})
      for (int64_t m : {0, 129, 511}) {
        double sum = 0;
        for (int64_t n = 0; n < 4096; ++n) sum += in.x.values[n * c.K + k] * dy[n * c.M + m];
        dw_ref.push_back(sum);
        dw_got.push_back(g.at("dw").values[trans_w ? m * c.K + k : k * c.M + m]);
      }
    for (int64_t m : {0, 300, 511}) {
      double sum = 0;
      for (int64_t n = 0; n < 4096; ++n) sum += dy[n * c.M + m];
      dbias_ref.push_back(sum);
      dbias_got.push_back(g.at("dbias").values[m]);
    }
    CHECK(rel_error(dw_got, dw_ref) < tol);
    CHECK(rel_error(dbias_got, dbias_ref) < tol);
    // dx[n, k] = sum_m dy[n, m] W[k, m]
    std::vector<double> dx_got, dx_ref;
    for (int64_t n : rows)
      for (int64_t k = 0; k < c.K; ++k) {
        double sum = 0;
        for (int64_t m = 0; m < c.M; ++m)
          sum += dy[n * c.M + m] * (trans_w ? in.w.values[m * c.K + k] : in.w.values[k * c.M + m]);
        dx_ref.push_back(sum);
        dx_got.push_back(g.at("dx").values[n * c.K + k]);
      }
    CHECK(rel_error(dx_got, dx_ref) < tol);
  };
  check_dtype(float(), false);
  check_dtype(float(), true);
  check_dtype(double(), false);
}

TEST_CASE("linear errors: w's shape follows trans_w, dbias presence, mismatched dy") {
  Backend& cpu = get_backend("cpu");
  PoisonOutputs poison;
  auto x = random_tensor<float>(cpu, {4, 7}, 1);
  auto w = random_tensor<float>(cpu, {7, 5}, 2);
  auto dy = random_tensor<float>(cpu, {4, 5}, 3);
  CHECK(run_op(cpu, "linear_fwd", {{"x", x}, {"w", w}}, {}).at("y").shape == Shape{4, 5});
  CHECK(contains(error_of([&] {
                   run_op(cpu, "linear_fwd", {{"x", x}, {"w", w}}, {{"trans_w", true}});
                 }),
                 "linear_fwd: w has shape [7, 5], expected [M=7, K=7] (K is 7 from x, got 5)"));
  auto w_t = random_tensor<float>(cpu, {5, 7}, 4);
  CHECK(run_op(cpu, "linear_fwd", {{"x", x}, {"w", w_t}}, {{"trans_w", true}}).at("y").shape == Shape{4, 5});
  CHECK(contains(error_of([&] {
                   run_op(cpu, "linear_fwd", {{"x", x}, {"w", w_t}}, {});
                 }),
                 "linear_fwd: w has shape [5, 7], expected [K=7, M] (K is 7 from x, got 5)"));
  auto bias_wrong = random_tensor<float>(cpu, {4}, 5);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "linear_fwd", {{"x", x}, {"w", w}, {"bias", bias_wrong}}, {});
                 }),
                 "linear_fwd: bias has shape [4], expected [M=5] (M is 5 from w, got 4)"));
  CHECK(contains(error_of([&] {
                   run_op(cpu, "linear_fwd", {{"x", x}, {"w", w}}, {{"trans_w", int64_t{1}}});
                 }),
                 "linear_fwd: attribute trans_w = 1 must be a boolean"));

  const auto grads = run_op(cpu, "linear_bwd", {{"x", x}, {"w", w_t}, {"dy", dy}}, {{"trans_w", true}});
  CHECK(grads.at("dw").shape == Shape{5, 7});
  CHECK(grads.count("dbias") == 0);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "linear_bwd", {{"x", x}, {"w", w}, {"dy", dy}}, {}, {"dbias"});
                 }),
                 "linear_bwd: output dbias is not produced (no bias was given)"));
  auto dy_wrong = random_tensor<float>(cpu, {4, 6}, 6);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "linear_bwd", {{"x", x}, {"w", w}, {"dy", dy_wrong}}, {});
                 }),
                 "linear_bwd: dy has shape [4, 6], expected [*S=[4], M=5] (M is 5 from w, got 6)"));
}

// ================================== SwiGLU ========================================

TEST_CASE("swiglu_fwd and swiglu_bwd match the formulas and finite differences (f64, rank 1 to 4)") {
  PoisonOutputs poison;
  uint32_t seed = 1000;
  for (const Shape& shape : std::vector<Shape>{{1}, {37}, {2, 3, 4, 5}, {3, 20001}}) {
    INFO("shape " << describe(shape));
    HostTensor gate = random_host(shape, seed += 3, 3.0), up = random_host(shape, seed + 1);
    const HostTensor dy = random_host(shape, seed + 2);
    const auto y = run_layer_op<double>("swiglu_fwd", {{"gate", gate}, {"up", up}}).at("y");
    CHECK(y.shape == shape);
    std::vector<double> ref;
    for (size_t i = 0; i < gate.values.size(); ++i) ref.push_back(silu(gate.values[i]) * up.values[i]);
    CHECK(rel_error(y.values, ref) < 1e-12);
    const auto g = run_layer_op<double>("swiglu_bwd", {{"gate", gate}, {"up", up}, {"dy", dy}});
    std::vector<double> ref_dup;
    for (size_t i = 0; i < gate.values.size(); ++i) ref_dup.push_back(dy.values[i] * silu(gate.values[i]));
    CHECK(rel_error(g.at("dup").values, ref_dup) < 1e-12);
    std::vector<double> ref_dgate;  // d silu / dg = s (1 + g (1 - s))
    for (size_t i = 0; i < gate.values.size(); ++i) {
      const double s = 1.0 / (1.0 + std::exp(-gate.values[i]));
      ref_dgate.push_back(dy.values[i] * up.values[i] * s * (1.0 + gate.values[i] * (1.0 - s)));
    }
    CHECK(rel_error(g.at("dgate").values, ref_dgate) < 1e-12);
    if (numel(shape) < 1000)
      check_gradients(
          [&] {
            return dot(run_layer_op<double>("swiglu_fwd", {{"gate", gate}, {"up", up}}).at("y").values, dy.values);
          },
          {{"gate", &gate.values, &g.at("dgate").values}, {"up", &up.values, &g.at("dup").values}});
  }
}

TEST_CASE("swiglu: extreme gates (+-1000) stay finite, float32 agrees with float64") {
  PoisonOutputs poison;
  const HostTensor gate{{8}, {-1000, -100, -20, -1e-3, 0, 1e-3, 20, 1000}};
  const HostTensor up{{8}, {1, 2, 3, 4, 5, 6, 7, 8}}, dy{{8}, {1, -1, 1, -1, 1, -1, 1, -1}};
  for (bool f32 : {false, true}) {
    INFO((f32 ? "f32" : "f64"));
    const auto y = f32 ? run_layer_op<float>("swiglu_fwd", {{"gate", gate}, {"up", up}})
                       : run_layer_op<double>("swiglu_fwd", {{"gate", gate}, {"up", up}});
    const auto g = f32 ? run_layer_op<float>("swiglu_bwd", {{"gate", gate}, {"up", up}, {"dy", dy}})
                       : run_layer_op<double>("swiglu_bwd", {{"gate", gate}, {"up", up}, {"dy", dy}});
    CHECK(std::abs(y.at("y").values[0]) < 1e-30);
    CHECK(y.at("y").values[4] == 0.0);
    CHECK(y.at("y").values[7] == 8000.0);
    CHECK(g.at("dgate").values[7] == -8.0);            // dy * up * silu'(1000) = -1 * 8 * 1
    CHECK(std::abs(g.at("dgate").values[0]) < 1e-30);  // silu'(-1000) = 0
  }
  const HostTensor gate_r = float_representable(random_host({5000}, 5, 4.0));
  const HostTensor up_r = float_representable(random_host({5000}, 6));
  const HostTensor dy_r = float_representable(random_host({5000}, 7));
  const HostMap in{{"gate", gate_r}, {"up", up_r}, {"dy", dy_r}};
  const auto g32 = run_layer_op<float>("swiglu_bwd", in), g64 = run_layer_op<double>("swiglu_bwd", in);
  CHECK(rel_error(g32.at("dgate").values, g64.at("dgate").values) < 1e-6);
  CHECK(rel_error(g32.at("dup").values, g64.at("dup").values) < 1e-6);
  CHECK(rel_error(run_layer_op<float>("swiglu_fwd", {{"gate", gate_r}, {"up", up_r}}).at("y").values,
                  run_layer_op<double>("swiglu_fwd", {{"gate", gate_r}, {"up", up_r}}).at("y").values) < 1e-6);
}

TEST_CASE("swiglu errors: up and dy must have gate's shape") {
  Backend& cpu = get_backend("cpu");
  auto gate = random_tensor<float>(cpu, {2, 3}, 1);
  auto up = random_tensor<float>(cpu, {3, 2}, 2);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "swiglu_fwd", {{"gate", gate}, {"up", up}}, {});
                 }),
                 "swiglu_fwd: up has shape [3, 2], expected [*S=[2, 3]] (its leading dims must be [2, 3] as in gate)"));
  auto dy = random_tensor<float>(cpu, {2, 3, 1}, 3);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "swiglu_bwd", {{"gate", gate}, {"up", gate}, {"dy", dy}}, {});
                 }),
                 "swiglu_bwd: dy has shape [2, 3, 1], expected [*S=[2, 3]]"));
}

// ================================== rotary ========================================

namespace {

HostTensor rotary(const HostTensor& x, double base, int64_t offset, bool inverse) {
  return run_layer_op<double>("rotary_fwd", {{"x", x}}, {{"base", base}, {"offset", offset}, {"inverse", inverse}})
      .at("y");
}

// A (1, T, 1, D) tensor that is zero except for `v` at time t.
HostTensor at_time(const std::vector<double>& v, int64_t t, int64_t Tn) {
  const int64_t D = static_cast<int64_t>(v.size());
  HostTensor x{{1, Tn, 1, D}, std::vector<double>(static_cast<size_t>(Tn * D), 0.0)};
  for (int64_t i = 0; i < D; ++i) x.values[t * D + i] = v[i];
  return x;
}

std::vector<double> row_at(const HostTensor& y, int64_t t) {
  const int64_t D = y.shape[3];
  return {y.values.begin() + t * D, y.values.begin() + (t + 1) * D};
}

}  // namespace

TEST_CASE("rotary_fwd matches the rotate-half formula (f64, D = 2 to 128, offsets, bases, inverse)") {
  PoisonOutputs poison;
  struct Case {
    Shape shape;
    double base;
    int64_t offset;
  };
  const std::vector<Case> cases = {
      {{1, 1, 1, 2}, 10000, 0},    {{2, 37, 3, 60}, 10000, 0},   {{1, 5, 2, 8}, 500000, 7},
      {{3, 9, 1, 4}, 1.5, 100000}, {{2, 300, 4, 128}, 10000, 3},
  };
  uint32_t seed = 1200;
  for (const Case& c : cases)
    for (bool inverse : {false, true}) {
      INFO("x " << describe(c.shape) << ", base " << c.base << ", offset " << c.offset << ", inverse " << inverse);
      const HostTensor x = random_host(c.shape, seed += 2);
      const HostTensor y = rotary(x, c.base, c.offset, inverse);
      CHECK(y.shape == c.shape);
      CHECK(rel_error(y.values, reference_rotary(x, c.base, c.offset, inverse)) < 1e-12);
      // a rotation keeps each row's norm
      CHECK(std::abs(dot(y.values, y.values) / dot(x.values, x.values) - 1.0) < 1e-12);
    }
}

TEST_CASE("rotary: inverse undoes the forward, and is exactly its backward") {
  PoisonOutputs poison;
  for (int64_t offset : {0, 13}) {
    INFO("offset " << offset);
    HostTensor x = random_host({2, 33, 3, 16}, 5);
    const HostTensor dy = random_host({2, 33, 3, 16}, 6);
    CHECK(rel_error(rotary(rotary(x, 10000, offset, false), 10000, offset, true).values, x.values) < 1e-12);
    CHECK(rel_error(rotary(rotary(x, 10000, offset, true), 10000, offset, false).values, x.values) < 1e-12);
    // <R x, dy> = <x, R^-1 dy>: the inverse is the adjoint, so dx = rotary(dy, inverse).
    const HostTensor dx = rotary(dy, 10000, offset, true);
    CHECK(std::abs(dot(rotary(x, 10000, offset, false).values, dy.values) - dot(x.values, dx.values)) < 1e-12);
    check_gradients([&] { return dot(rotary(x, 10000, offset, false).values, dy.values); },
                    {{"x", &x.values, &dx.values}});
  }
}

TEST_CASE("rotary: (R_s q) . (R_t k) depends only on t - s, and offset shifts positions") {
  PoisonOutputs poison;
  const int64_t Tn = 40, D = 12;
  const auto q = random_vector<double>(D, 7), k = random_vector<double>(D, 8);
  auto score = [&](int64_t s, int64_t t, int64_t offset) {
    const auto rq = row_at(rotary(at_time(q, s, Tn), 10000, offset, false), s);
    const auto rk = row_at(rotary(at_time(k, t, Tn), 10000, offset, false), t);
    return dot(rq, rk);
  };
  for (int64_t lag : {0, 1, 5, 17}) {
    INFO("t - s = " << lag);
    const double first = score(0, lag, 0);
    for (int64_t s : {1, 9, 22})
      for (int64_t offset : {0, 1000})
        CHECK(std::abs(score(s, s + lag, offset) - first) < 1e-12 * (1.0 + std::abs(first)));
  }
  // lag 0 is the plain dot product; other lags differ from it
  CHECK(std::abs(score(3, 3, 0) - dot(q, k)) < 1e-12);
  CHECK(std::abs(score(3, 4, 0) - dot(q, k)) > 1e-6);

  // offset o at time t rotates like offset 0 at time t + o
  const HostTensor x = random_host({2, 10, 3, D}, 9);
  const HostTensor shifted = rotary(x, 10000, 25, false);
  HostTensor padded{{2, 35, 3, D}, std::vector<double>(static_cast<size_t>(2 * 35 * 3 * D), 0.0)};
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 10; ++t)
      for (int64_t i = 0; i < 3 * D; ++i)
        padded.values[((b * 35) + t + 25) * 3 * D + i] = x.values[(b * 10 + t) * 3 * D + i];
  const HostTensor plain = rotary(padded, 10000, 0, false);
  std::vector<double> tail;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 25; t < 35; ++t)
      for (int64_t i = 0; i < 3 * D; ++i) tail.push_back(plain.values[(b * 35 + t) * 3 * D + i]);
  CHECK(rel_error(shifted.values, tail) < 1e-12);
  // offset 0 leaves time 0 unrotated
  CHECK(row_at(rotary(at_time(q, 0, 3), 10000, 0, false), 0) == q);
}

TEST_CASE("rotary in float32 agrees with float64") {
  PoisonOutputs poison;
  const HostTensor x = float_representable(random_host({2, 200, 3, 64}, 11));
  for (bool inverse : {false, true}) {
    const AttrMap attrs{{"offset", int64_t{1000}}, {"inverse", inverse}};
    CHECK(rel_error(run_layer_op<float>("rotary_fwd", {{"x", x}}, attrs).at("y").values,
                    run_layer_op<double>("rotary_fwd", {{"x", x}}, attrs).at("y").values) < 1e-6);
  }
}

TEST_CASE("rotary errors: odd D, base, offset and rank name what is valid") {
  Backend& cpu = get_backend("cpu");
  auto odd = random_tensor<float>(cpu, {1, 4, 2, 7}, 1);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "rotary_fwd", {{"x", odd}}, {});
                 }),
                 "rotary_fwd: x has head dim D=7 (dim 3 of [B, T, H, D]); D must be even"));
  auto x = random_tensor<float>(cpu, {1, 4, 2, 8}, 2);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "rotary_fwd", {{"x", x}}, {{"base", 0.0}});
                 }),
                 "rotary_fwd: attribute base = 0 must be > 0"));
  CHECK(contains(error_of([&] {
                   run_op(cpu, "rotary_fwd", {{"x", x}}, {{"base", -2.0}});
                 }),
                 "rotary_fwd: attribute base = -2 is out of range"));
  CHECK(contains(error_of([&] {
                   run_op(cpu, "rotary_fwd", {{"x", x}}, {{"offset", int64_t{-1}}});
                 }),
                 "rotary_fwd: attribute offset = -1 is out of range; valid: 0 to 2147483647"));
  CHECK(contains(error_of([&] {
                   run_op(cpu, "rotary_fwd", {{"x", x}}, {{"offset", 1.5}});
                 }),
                 "rotary_fwd: attribute offset = 1.5 is not an integer"));
  auto rank3 = random_tensor<float>(cpu, {4, 2, 8}, 3);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "rotary_fwd", {{"x", rank3}}, {});
                 }),
                 "rotary_fwd: x has shape [4, 2, 8], expected [B, T, H, D] (rank 3, expected rank 4)"));
  CHECK(contains(error_of([&] { run_op(cpu, "rotary_bwd", {{"x", x}}, {}); }), "unknown op 'rotary_bwd'"));
}

// ================================ op table ========================================

TEST_CASE("layer ops: every op, tensor and attribute is documented, and both dtypes have CPU kernels") {
  Backend& cpu = get_backend("cpu");
  for (const char* name : {"embedding_fwd", "embedding_bwd", "norm_fwd", "norm_bwd", "linear_fwd", "linear_bwd",
                           "swiglu_fwd", "swiglu_bwd", "rotary_fwd"}) {
    INFO(name);
    const OpDef& op = find_op(name);
    CHECK(!op.doc.empty());
    for (const auto& t : op.signature.inputs) CHECK_MESSAGE(!t.doc.empty(), "input " << t.name);
    for (const auto& t : op.signature.outputs) CHECK_MESSAGE(!t.doc.empty(), "output " << t.name);
    for (const auto& a : op.attrs) CHECK_MESSAGE(!a.doc.empty(), "attribute " << a.name);
    for (DType d : {DType::f32, DType::f64}) CHECK(cpu.kernel(name, d) != nullptr);
  }
}
