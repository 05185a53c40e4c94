// The parameter structs built once from a call's plan (src/ops/*_params.h):
// every default comes from the op table, so a default changed there shows up
// here, and the struct reads the same from a plan and from the call run_op
// launches.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "../src/ops/mixer_params.h"
#include "../src/ops/op_params.h"
#include "linea/backend.h"
#include "test_util.h"

using namespace linea;
using namespace linea::test;

namespace {

using AttrMap = std::map<std::string, AttrValue>;
using DescMap = std::map<std::string, TensorDesc>;

// The op table's default of an attribute.
const AttrValue& table_default(const std::string& op, const std::string& attr) {
  for (const AttrDef& a : find_op(op).attrs)
    if (a.name == attr) return a.default_value;
  FAIL("no attribute " << attr << " in " << op);
  throw 0;
}

template <class E>
E default_enum(const std::string& op) {
  const std::string name = std::get<std::string>(table_default(op, AttrEnum<E>::attr));
  for (size_t i = 0; i < attr_enum_count<E>(); ++i)
    if (name == AttrEnum<E>::names[i]) return E(i);
  FAIL("default " << name << " is not a " << AttrEnum<E>::what);
  throw 0;
}

constexpr int64_t B = 2, T = 5, H = 3, K = 4, V = 6;

// Descriptions of mixer inputs: q, k, v, plus the named optional ones, shaped for `gate`.
DescMap mixer_descs(const std::vector<std::string>& optional, const std::string& gate = "none",
                    DType dtype = DType::f32) {
  DescMap d = {{"q", {{B, T, H, K}, dtype}}, {"k", {{B, T, H, K}, dtype}}, {"v", {{B, T, H, V}, dtype}}};
  const std::map<std::string, Shape> shapes = {
      {"i", {B, T, H}}, {"beta", {B, T, H}},  {"s0", {B, H, K, V}},       {"z0", {B, H, K}},
      {"m0", {B, H}},   {"do", {B, T, H, V}}, {"ds_final", {B, H, K, V}}, {"dz_final", {B, H, K}},
  };
  for (const std::string& name : optional) d[name] = {shapes.at(name), dtype};
  if (gate == "fixed") d["g"] = {{H}, dtype};
  if (gate == "scalar") d["g"] = {{B, T, H}, dtype};
  if (gate == "vector") d["g"] = {{B, T, H, K}, dtype};
  return d;
}

// The OpCall run_op would launch for `plan` (tensor contents do not matter here).
OpCall call_of(const OpPlan& plan) {
  OpCall call;
  call.op = plan.op;
  call.attrs = plan.attrs;
  call.dims = plan.dims;
  call.shapes = plan.shapes;
  call.dtype = plan.dtype;
  for (const auto& [name, desc] : plan.inputs) call.inputs[name] = Tensor{};
  for (const OutputPlan& o : plan.outputs) call.outputs[o.name] = Tensor{};
  return call;
}

void check_same(const MixerParams& a, const MixerParams& b) {
  CHECK(a.form == b.form);
  CHECK(a.gate == b.gate);
  CHECK(a.input_gate == b.input_gate);
  CHECK(a.normalize == b.normalize);
  CHECK(a.delta == b.delta);
  CHECK(a.chunk_size == b.chunk_size);
  CHECK(a.scale == b.scale);
  CHECK(a.eps == b.eps);
  CHECK((a.B == b.B && a.T == b.T && a.H == b.H && a.K == b.K && a.V == b.V));
  CHECK((a.has_s0 == b.has_s0 && a.has_z0 == b.has_z0 && a.has_m0 == b.has_m0));
  CHECK((a.want_s_final == b.want_s_final && a.want_z_final == b.want_z_final && a.want_m_final == b.want_m_final));
  CHECK((a.has_ds_final == b.has_ds_final && a.has_dz_final == b.has_dz_final && a.want_ds0 == b.want_ds0 &&
         a.want_dz0 == b.want_dz0));
}

}  // namespace

TEST_CASE("mixer_params: the defaults are the op table's, scale 0 resolved to K^-1/2") {
  for (const char* op : {"mixer_fwd", "mixer_bwd"}) {
    CAPTURE(op);
    const bool bwd = std::string(op) == "mixer_bwd";
    const OpPlan plan = plan_op(op, mixer_descs(bwd ? std::vector<std::string>{"do"} : std::vector<std::string>{}), {});
    const MixerParams p = mixer_params(plan);
    CHECK(p.form == default_enum<MixerForm>(op));
    CHECK(p.gate == default_enum<MixerGate>(op));
    CHECK(p.input_gate == default_enum<MixerInputGate>(op));
    CHECK(p.normalize == default_enum<MixerNormalize>(op));
    CHECK(p.delta == std::get<bool>(table_default(op, "delta")));
    CHECK(p.chunk_size == std::get<int64_t>(table_default(op, "chunk_size")));
    CHECK(p.eps == std::get<double>(table_default(op, "eps")));
    REQUIRE(std::get<double>(table_default(op, "scale")) == 0.0);
    CHECK(p.scale == 1.0 / std::sqrt(double(K)));
    CHECK((p.B == B && p.T == T && p.H == H && p.K == K && p.V == V));
    // No optional input given, no optional output asked for.
    CHECK((!p.has_s0 && !p.has_z0 && !p.has_m0 && !p.has_ds_final && !p.has_dz_final));
    CHECK((!p.want_s_final && !p.want_z_final && !p.want_m_final && !p.want_ds0 && !p.want_dz0));
    CHECK(p.plain());
    CHECK(p.gate_dims() == 0);
    CHECK((!p.has_write_weight() && !p.has_denominator()));
    check_same(mixer_params(call_of(plan)), p);
  }
}

TEST_CASE("mixer_params: given attributes win, and a scale other than 0 is kept") {
  const AttrMap attrs = {{"form", std::string("recurrent")},
                         {"chunk_size", int64_t(32)},
                         {"scale", 0.25},
                         {"eps", 1e-3},
                         {"normalize", std::string("sum")}};
  const OpPlan plan = plan_op("mixer_fwd", mixer_descs({"s0", "z0"}), attrs, {"s_final", "z_final"});
  const MixerParams p = mixer_params(plan);
  CHECK(p.form == MixerForm::recurrent);
  CHECK(!p.chunked());
  CHECK(p.chunk_size == 32);
  CHECK(p.scale == 0.25);
  CHECK(p.eps == 1e-3);
  CHECK(p.normalize == MixerNormalize::sum);
  CHECK(p.has_denominator());
  CHECK(!p.plain());
  CHECK((p.has_s0 && p.has_z0 && !p.has_m0));
  CHECK((p.want_s_final && p.want_z_final && !p.want_m_final));
  check_same(mixer_params(call_of(plan)), p);
}

TEST_CASE("mixer_params: each gate, input gate and the delta rule") {
  const std::map<std::string, MixerGate> gates = {{"none", MixerGate::none},
                                                  {"fixed", MixerGate::fixed},
                                                  {"scalar", MixerGate::scalar},
                                                  {"vector", MixerGate::vector}};
  REQUIRE(gates.size() == attr_enum_count<MixerGate>());
  for (const auto& [name, gate] : gates) {
    CAPTURE(name);
    const AttrMap attrs = {{"gate", name}};
    const MixerParams p = mixer_params(plan_op("mixer_fwd", mixer_descs({}, name), attrs));
    CHECK(p.gate == gate);
    CHECK(p.gate_dims() == (gate == MixerGate::vector ? K : gate == MixerGate::none ? 0 : 1));
    CHECK(p.plain() == (gate == MixerGate::none));
    const MixerParams pb = mixer_params(plan_op("mixer_bwd", mixer_descs({"do"}, name), attrs));
    CHECK(pb.gate == gate);
  }

  const std::map<std::string, MixerInputGate> input_gates = {{"none", MixerInputGate::none},
                                                             {"sigmoid", MixerInputGate::sigmoid},
                                                             {"softplus", MixerInputGate::softplus},
                                                             {"exp", MixerInputGate::exp}};
  REQUIRE(input_gates.size() == attr_enum_count<MixerInputGate>());
  for (const auto& [name, input_gate] : input_gates) {
    CAPTURE(name);
    const bool exp = input_gate == MixerInputGate::exp;
    AttrMap attrs = {{"input_gate", name}};
    if (exp) attrs["normalize"] = std::string("max1");  // the exp gate needs max1
    std::vector<std::string> optional;
    if (input_gate != MixerInputGate::none) optional.push_back("i");
    if (exp) optional.push_back("m0");
    const OpPlan plan = plan_op("mixer_fwd", mixer_descs(optional), attrs,
                                exp ? std::vector<std::string>{"m_final"} : std::vector<std::string>{});
    const MixerParams p = mixer_params(plan);
    CHECK(p.input_gate == input_gate);
    CHECK(p.has_write_weight() == (input_gate != MixerInputGate::none));
    CHECK(p.gate_dims() == (exp ? 1 : 0));
    CHECK(p.has_m0 == exp);
    CHECK(p.want_m_final == exp);
    CHECK(p.normalize == (exp ? MixerNormalize::max1 : MixerNormalize::none));
    check_same(mixer_params(call_of(plan)), p);
  }

  const AttrMap delta = {{"delta", true}};
  const OpPlan plan =
      plan_op("mixer_bwd", mixer_descs({"beta", "s0", "do", "ds_final"}, "none", DType::f64), delta, {"ds0"});
  const MixerParams p = mixer_params(plan);
  CHECK(p.delta);
  CHECK(!p.plain());
  CHECK((p.has_s0 && p.has_ds_final && !p.has_dz_final && p.want_ds0 && !p.want_dz0));
  check_same(mixer_params(call_of(plan)), p);
}

TEST_CASE("attention_params: the table's defaults, scale 0 resolved to D^-1/2, for every attention op") {
  const int64_t D = 16;
  const std::map<std::string, DescMap> calls = {
      {"softmax_attn_fwd", {{"q", {{B, T, H, D}}}, {"k", {{B, T, H, D}}}, {"v", {{B, T, H, V}}}}},
      {"softmax_attn_bwd",
       {{"q", {{B, T, H, D}}},
        {"k", {{B, T, H, D}}},
        {"v", {{B, T, H, V}}},
        {"o", {{B, T, H, V}}},
        {"lse", {{B, H, T}}},
        {"do", {{B, T, H, V}}}}},
      {"softmax_attn_decode", {{"q", {{B, H, D}}}, {"k", {{B, T, H, D}}}, {"v", {{B, T, H, V}}}}},
  };
  for (const auto& [op, descs] : calls) {
    CAPTURE(op);
    REQUIRE(std::get<double>(table_default(op, "scale")) == 0.0);
    const AttentionParams p = attention_params(plan_op(op, descs, {}));
    CHECK(p.scale == 1.0 / std::sqrt(double(D)));
    CHECK(p.window == std::get<int64_t>(table_default(op, "window")));
    const AttentionParams q = attention_params(plan_op(op, descs, {{"scale", 0.5}, {"window", int64_t(3)}}));
    CHECK(q.scale == 0.5);
    CHECK(q.window == 3);
  }
}

TEST_CASE("norm, rotary, feature map and short conv params: the table's defaults, then each value") {
  const DescMap norm = {{"x", {{B, T, V}}}};
  for (const char* op : {"norm_fwd", "norm_bwd"}) {
    CAPTURE(op);
    const bool bwd = std::string(op) == "norm_bwd";
    DescMap d = norm;
    if (bwd) d["rstd"] = {{B, T}}, d["dy"] = {{B, T, V}};
    const NormParams p = norm_params(plan_op(op, d, {}));
    CHECK(p.kind == default_enum<NormKind>(op));
    CHECK(p.eps == std::get<double>(table_default(op, "eps")));
    CHECK(norm_params(plan_op(op, d, {{"kind", std::string("layer")}, {"eps", 1e-3}})).kind == NormKind::layer);
    CHECK(norm_params(plan_op(op, d, {{"kind", std::string("rms")}, {"eps", 1e-3}})).eps == 1e-3);
  }

  const DescMap rot = {{"x", {{B, T, H, 8}}}};
  const RotaryParams r = rotary_params(plan_op("rotary_fwd", rot, {}));
  CHECK(r.base == std::get<double>(table_default("rotary_fwd", "base")));
  CHECK(r.offset == std::get<int64_t>(table_default("rotary_fwd", "offset")));
  CHECK(r.inverse == std::get<bool>(table_default("rotary_fwd", "inverse")));
  const RotaryParams r2 =
      rotary_params(plan_op("rotary_fwd", rot, {{"base", 500.0}, {"offset", int64_t(7)}, {"inverse", true}}));
  CHECK((r2.base == 500.0 && r2.offset == 7 && r2.inverse));

  for (const char* op : {"feature_map_fwd", "feature_map_bwd"}) {
    CAPTURE(op);
    const bool bwd = std::string(op) == "feature_map_bwd";
    DescMap d = {{"x", {{B, T, H, K}}}};
    if (bwd) d["dy"] = {{B, T, H, K}};
    const FeatureMapParams p = feature_map_params(plan_op(op, d, {}));
    CHECK(p.kind == default_enum<FeatureMapKind>(op));
    CHECK(p.eps == std::get<double>(table_default(op, "eps")));
    for (const std::string& kind : attr_enum_names<FeatureMapKind>()) {
      CAPTURE(kind);
      if (kind == "taylor2") continue;  // E = 1 + D + D^2: dy would need another shape
      CHECK(attr_enum_name(feature_map_params(plan_op(op, d, {{"kind", kind}})).kind) == kind);
    }
  }

  for (const char* op : {"short_conv_fwd", "short_conv_bwd"}) {
    CAPTURE(op);
    const bool bwd = std::string(op) == "short_conv_bwd";
    DescMap d = {{"x", {{B, T, V}}}, {"weight", {{V, 3}}}};
    if (bwd) d["dy"] = {{B, T, V}};
    CHECK(short_conv_params(plan_op(op, d, {})).activation == default_enum<ConvActivation>(op));
    CHECK(short_conv_params(plan_op(op, d, {{"activation", std::string("silu")}})).activation == ConvActivation::silu);
  }
}

TEST_CASE("linear, elementwise, loss and optimizer params: the table's defaults, then each value") {
  const DescMap lin = {{"x", {{B, K}}}, {"w", {{K, V}}}};
  CHECK(linear_params(plan_op("linear_fwd", lin, {})).trans_w ==
        std::get<bool>(table_default("linear_fwd", "trans_w")));
  CHECK(linear_params(plan_op("linear_fwd", {{"x", {{B, K}}}, {"w", {{V, K}}}}, {{"trans_w", true}})).trans_w);

  for (const char* op : {"unary_fwd", "unary_bwd"}) {
    CAPTURE(op);
    DescMap d = {{"x", {{B, T}}}};
    if (std::string(op) == "unary_bwd") d["dy"] = {{B, T}};
    const UnaryParams p = unary_params(plan_op(op, d, {}));
    CHECK(p.kind == default_enum<UnaryKind>(op));
    CHECK(p.alpha == std::get<double>(table_default(op, "alpha")));
    for (const std::string& kind : attr_enum_names<UnaryKind>()) {
      CAPTURE(kind);
      const UnaryParams q = unary_params(plan_op(op, d, {{"kind", kind}, {"alpha", -2.0}}));
      CHECK(attr_enum_name(q.kind) == kind);
      CHECK(q.alpha == -2.0);
    }
  }

  for (const char* op : {"binary_fwd", "binary_bwd"}) {
    CAPTURE(op);
    const bool bwd = std::string(op) == "binary_bwd";
    DescMap d = {{"a", {{B, T}}}, {"b", {{B, T}}}};
    if (bwd) d["dy"] = {{B, T}};
    const BinaryParams p = binary_params(plan_op(op, d, {}));
    CHECK(p.kind == default_enum<BinaryKind>(op));
    CHECK(p.broadcast == std::get<bool>(table_default(op, "broadcast")));
    d["b"] = {{T}};
    const BinaryParams q = binary_params(plan_op(op, d, {{"kind", std::string("mul")}, {"broadcast", true}}));
    CHECK((q.kind == BinaryKind::mul && q.broadcast));
  }

  const DescMap acc = {{"dst", {{B, T}}}, {"src", {{B, T}}}};
  CHECK(accumulate_params(plan_op("accumulate", acc, {})).alpha ==
        std::get<double>(table_default("accumulate", "alpha")));
  CHECK(accumulate_params(plan_op("accumulate", acc, {{"alpha", 0.5}})).alpha == 0.5);

  const DescMap ce = {{"logits", {{B, V}}}, {"labels", {{B}, DType::i32}}, {"lse", {{B}}}};
  CHECK(cross_entropy_params(plan_op("cross_entropy_bwd", ce, {})).scale ==
        std::get<double>(table_default("cross_entropy_bwd", "scale")));
  CHECK(cross_entropy_params(plan_op("cross_entropy_bwd", ce, {{"scale", 0.125}})).scale == 0.125);

  const DescMap adam = {{"param", {{B, T}}}, {"grad", {{B, T}}}, {"m", {{B, T}}}, {"v", {{B, T}}}};
  const AdamWParams a = adamw_params(plan_op("adamw_step", adam, {}));
  CHECK(a.lr == std::get<double>(table_default("adamw_step", "lr")));
  CHECK(a.beta1 == std::get<double>(table_default("adamw_step", "beta1")));
  CHECK(a.beta2 == std::get<double>(table_default("adamw_step", "beta2")));
  CHECK(a.eps == std::get<double>(table_default("adamw_step", "eps")));
  CHECK(a.weight_decay == std::get<double>(table_default("adamw_step", "weight_decay")));
  CHECK(a.grad_scale == std::get<double>(table_default("adamw_step", "grad_scale")));
  CHECK(a.step == std::get<int64_t>(table_default("adamw_step", "step")));
  const AdamWParams b = adamw_params(plan_op("adamw_step", adam,
                                             {{"lr", 0.01},
                                              {"beta1", 0.5},
                                              {"beta2", 0.75},
                                              {"eps", 1e-4},
                                              {"weight_decay", 0.1},
                                              {"grad_scale", 0.25},
                                              {"step", int64_t(9)}}));
  CHECK((b.lr == 0.01 && b.beta1 == 0.5 && b.beta2 == 0.75 && b.eps == 1e-4 && b.weight_decay == 0.1 &&
         b.grad_scale == 0.25 && b.step == 9));
}
