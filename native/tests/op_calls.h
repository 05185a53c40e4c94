// One valid call builder per op of the table, shared by test_plan.cpp (plan
// against run, at tiny shapes) and test_cross_backend.cpp (every backend
// against the CPU in float64, at awkward shapes). A builder lists the op's
// variants (attributes, optional inputs, outputs), the awkward shapes it is
// run at, and how its input values are drawn so that the call is valid and
// realistic: indices in range, log-space gates <= 0 (strong ones included),
// positive values where the op needs them, forward outputs where a backward
// takes them. An op of the table without a builder here fails both tests.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "linea/backend.h"
#include "mixer_harness.h"
#include "test_util.h"

namespace linea::test {

using AttrMap = std::map<std::string, AttrValue>;
using DescMap = std::map<std::string, TensorDesc>;

// Small, distinct sizes for every dim symbol of the table, and [2, 3] for "*S".
inline const Dims kDims = {{"B", 2}, {"T", 3}, {"H", 2}, {"K", 4}, {"V", 5}, {"D", 4}, {"E", 4},
                           {"C", 3}, {"W", 2}, {"R", 5}, {"M", 3}, {"N", 4}, {"S", 3}};
inline const Shape kLeading = {2, 3};

// One valid call of an op, its input shapes derived from the signature patterns.
struct Case {
  std::string op;
  AttrMap attrs;
  std::set<std::string> optional_inputs;  // optional inputs to give
  std::vector<std::string> outputs;       // optional outputs to ask for
  Dims dims;                              // overrides of the small default dims
  Shape leading = kLeading;               // the leading dims "*S" stands for
};

// An awkward shape to run an op at: dim overrides and the leading dims of "*S".
struct ShapeCase {
  Dims dims;
  Shape leading = kLeading;
};

// How an input's values are drawn (in double).
enum class Draw {
  normal,    // N(0, scale²)
  positive,  // |N(0, scale²)| + 0.1
  index,     // integers 0..dims[range]-1, repeats likely
  labels,    // integers 0..dims[range]-1, about one in eight -1 (ignored rows)
};
struct ValueRule {
  Draw draw = Draw::normal;
  double scale = 1.0;
  std::string range;  // the dim symbol bounding an index
};

struct OpCalls {
  std::vector<Case> variants;  // the first has the default attributes and required inputs only
  std::vector<ShapeCase> shapes;
  std::map<std::string, ValueRule> values;  // by input name; normal(1) when absent
  // Binds dims that follow from others (feature maps: E from D and kind).
  std::function<void(const Case&, Dims&)> bind;
  // Draws the inputs instead of `values` (the mixer: its own harness).
  std::function<HostTensors(const Case&, const DescMap&, uint32_t seed)> draw;
  // Replaces inputs that are a forward's outputs by that forward's outputs (CPU, float64).
  std::function<void(const Case&, HostTensors&)> derive;
};

// The attributes as resolve_attrs leaves them for a valid call: defaults, then the case's values.
inline Attrs resolved(const OpDef& def, const AttrMap& given) {
  Attrs attrs;
  for (const auto& a : def.attrs) attrs.set(a.name, a.default_value);
  for (const auto& [name, value] : given) attrs.set(name, value);
  return attrs;
}

inline Shape shape_of(const std::string& pattern, const Dims& dims, const Shape& leading = kLeading) {
  Shape shape;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    if (cur[0] == '*') shape.insert(shape.end(), leading.begin(), leading.end());
    else if (std::isdigit(static_cast<unsigned char>(cur[0]))) shape.push_back(std::stoll(cur));
    else shape.push_back(dims.at(cur));
    cur.clear();
  };
  for (char c : pattern) {
    if (c == ',') flush();
    else if (c != ' ') cur += c;
  }
  flush();
  return shape;
}

const std::map<std::string, OpCalls>& op_calls();

// The case's dims: the small defaults, its overrides, then what its builder binds.
inline Dims dims_of(const Case& c) {
  Dims dims = kDims;
  for (const auto& [name, n] : c.dims) dims[name] = n;
  auto it = op_calls().find(c.op);
  if (it != op_calls().end() && it->second.bind) it->second.bind(c, dims);
  return dims;
}

// The inputs of a valid call: the required ones of the specialized signature and the case's optional ones.
inline DescMap descs_for(const Case& c, DType dtype) {
  const OpDef& def = find_op(c.op);
  const Attrs attrs = resolved(def, c.attrs);
  std::set<std::string> given = c.optional_inputs;
  Signature sig = def.signature;
  if (def.specialize) def.specialize(attrs, given, sig);
  for (const auto& s : sig.inputs)
    if (s.presence == Presence::required) given.insert(s.name);
  sig = def.signature;
  if (def.specialize) def.specialize(attrs, given, sig);
  const Dims dims = dims_of(c);
  DescMap out;
  for (const auto& s : sig.inputs)
    if (given.count(s.name))
      out[s.name] = TensorDesc{shape_of(s.shape, dims, c.leading), s.index   ? DType::i32
                                                                   : s.stats ? stats_dtype(dtype)
                                                                             : dtype};
  return out;
}

inline std::string attr_str(const AttrValue& v) {
  if (auto p = std::get_if<std::string>(&v)) return *p;
  if (auto b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto f = std::get_if<double>(&v)) return std::to_string(*f);
  return "?";
}

inline std::string case_name(const Case& c, DType dtype) {
  std::string name = c.op + " " + dtype_name(dtype);
  for (const auto& [k, v] : c.attrs) name += " " + k + "=" + attr_str(v);
  for (const auto& in : c.optional_inputs) name += " +" + in;
  return name;
}

// Host values (in double) for every input of the case, drawn by its builder's rules.
inline HostTensors draw_inputs(const Case& c, uint32_t seed) {
  const OpCalls& calls = op_calls().at(c.op);
  const DescMap descs = descs_for(c, DType::f64);
  HostTensors in;
  if (calls.draw) {
    in = calls.draw(c, descs, seed);
  } else {
    const Dims dims = dims_of(c);
    std::mt19937 rng(seed);
    for (const auto& [name, d] : descs) {
      auto rule = calls.values.count(name) ? calls.values.at(name) : ValueRule{};
      std::vector<double> v = normal_vector(rng, numel(d.shape), 0, rule.scale);
      if (rule.draw == Draw::positive) {
        for (auto& x : v) x = std::abs(x) + 0.1;
      } else if (rule.draw == Draw::index || rule.draw == Draw::labels) {
        const int64_t n = dims.at(rule.range);
        std::uniform_int_distribution<int64_t> pick(0, n - 1), ignore(0, 7);
        for (auto& x : v) x = double(rule.draw == Draw::labels && ignore(rng) == 0 ? -1 : pick(rng));
      }
      in[name] = {d.shape, std::move(v)};
    }
  }
  if (calls.derive) calls.derive(c, in);
  return in;
}

// Uploads host values to `backend` in `dtype` (index inputs in i32).
inline TensorMap upload_inputs(Backend& backend, const Case& c, const HostTensors& in, DType dtype) {
  const DescMap descs = descs_for(c, dtype);
  TensorMap out;
  for (const auto& [name, value] : in) {
    const DType dt = descs.at(name).dtype;
    if (dt == DType::i32) {
      std::vector<int32_t> v(value.second.size());
      for (size_t j = 0; j < v.size(); ++j) v[j] = static_cast<int32_t>(value.second[j]);
      out[name] = backend.from_host(value.first, dt, v.data());
    } else if (dt == DType::f32) {
      out[name] = upload<float>(backend, value.first, std::vector<float>(value.second.begin(), value.second.end()));
    } else if (is_16bit(dt)) {
      std::vector<uint16_t> bits(value.second.size());
      for (size_t j = 0; j < bits.size(); ++j)
        bits[j] = dt == DType::bf16 ? bf16_from_float(static_cast<float>(value.second[j]))
                                    : f16_from_float(static_cast<float>(value.second[j]));
      out[name] = backend.from_host(value.first, dt, bits.data());
    } else {
      out[name] = upload<double>(backend, value.first, value.second);
    }
  }
  return out;
}

// Reads a value tensor back as doubles.
inline std::vector<double> download_double(const Tensor& t) {
  if (t.dtype == DType::f32) {
    const auto v = download<float>(t);
    return {v.begin(), v.end()};
  }
  if (t.dtype == DType::i32) {
    const auto v = download<int32_t>(t);
    return {v.begin(), v.end()};
  }
  if (t.dtype == DType::bf16) {
    const auto bits = download<uint16_t>(t);
    std::vector<double> v(bits.size());
    for (size_t j = 0; j < bits.size(); ++j) v[j] = bf16_to_float(bits[j]);
    return v;
  }
  return download<double>(t);
}

namespace calls_detail {

inline AttrValue s(const char* v) { return std::string(v); }

// Runs a forward on the CPU in float64 and copies its outputs named in `take` into `in`.
inline void from_forward(const std::string& fwd, const AttrMap& attrs, const std::vector<std::string>& fwd_inputs,
                         const std::map<std::string, std::string>& take, HostTensors& in) {
  Backend& cpu = get_backend("cpu");
  TensorMap tensors;
  for (const auto& name : fwd_inputs)
    if (in.count(name)) tensors[name] = upload<double>(cpu, in.at(name).first, in.at(name).second);
  if (fwd == "cross_entropy_fwd") {
    std::vector<int32_t> labels(in.at("labels").second.begin(), in.at("labels").second.end());
    tensors["labels"] = cpu.from_host(in.at("labels").first, DType::i32, labels.data());
  }
  const TensorMap out = run_op(cpu, fwd, tensors, attrs);
  for (const auto& [from, to] : take) in[to] = {out.at(from).shape, download<double>(out.at(from))};
}

// The mixer's inputs as its harness draws them (log gates logsigmoid of N(1, 1.5²) clamped at -8,
// and strong for vector gates; l2-normalized keys for delta; positive q, k for sum), plus upstream
// gradients.
inline HostTensors mixer_draw(const Case& c, const DescMap& descs, uint32_t seed) {
  const Attrs a = resolved(find_op(c.op), c.attrs);
  Switches sw;
  sw.gate = a.s("gate");
  sw.input_gate = a.s("input_gate");
  sw.normalize = a.s("normalize");
  sw.delta = a.b("delta");
  const Dims dims = dims_of(c);
  const MixerDims md{dims.at("B"), dims.at("T"), dims.at("H"), dims.at("K"), dims.at("V")};
  HostTensors all = mixer_inputs(sw, md, seed, true);
  if (sw.gate == "vector") {
    // Strong gates, as in test_mixer_family.cpp: every third log gate at -5 (a decay of 7e-3 per step).
    auto& g = all.at("g").second;
    for (size_t n = 0; n < g.size(); n += 3) g[n] = -5;
  }
  for (auto& [name, value] : upstream(sw, md, seed + 1000)) all[name] = value;
  if (descs.count("dz_final") && !all.count("dz_final"))
    all["dz_final"] = {descs.at("dz_final").shape, random_vector<double>(numel(descs.at("dz_final").shape), seed)};
  HostTensors in;
  for (const auto& [name, d] : descs) in[name] = all.at(name);
  return in;
}

inline std::vector<Case> with_op(const std::string& op, std::vector<Case> cases) {
  for (auto& c : cases) c.op = op;
  return cases;
}

}  // namespace calls_detail

inline const std::map<std::string, OpCalls>& op_calls() {
  using namespace calls_detail;
  static const std::map<std::string, OpCalls> calls = [] {
    std::map<std::string, OpCalls> m;
    const std::string sf = "s_final";
    // The mixer at dk = 64, dv = 128: one step with several heads, then H = 1 over T = 63 and
    // T = 1000 (neither a multiple of the chunk size 64); then dk = 128, dv = 64 over 130 steps,
    // and Based's dk = 273 (over the 256 rows per block of CUDA's recurrent path at 32 rows a warp).
    const std::vector<ShapeCase> mixer_shapes = {
        {{{"B", 2}, {"T", 1}, {"H", 3}, {"K", 64}, {"V", 128}}},
        {{{"B", 1}, {"T", 63}, {"H", 1}, {"K", 64}, {"V", 128}}},
        {{{"B", 1}, {"T", 1000}, {"H", 1}, {"K", 64}, {"V", 128}}},
        {{{"B", 2}, {"T", 130}, {"H", 2}, {"K", 128}, {"V", 64}}},
        {{{"B", 1}, {"T", 20}, {"H", 2}, {"K", 273}, {"V", 40}}},  // Based's taylor2 keys of 16 dims
        // Four key blocks and, with the denominator's column, two value blocks on CUDA's lowered path.
        {{{"B", 1}, {"T", 20}, {"H", 1}, {"K", 400}, {"V", 128}}},
        // The small recall models' head dims: on CUDA the delta rule's chunked path padded to 64.
        {{{"B", 2}, {"T", 70}, {"H", 2}, {"K", 32}, {"V", 48}}},
    };
    m["mixer_fwd"] = {
        with_op("mixer_fwd", {{"", {}, {}, {}, {}},
                              {"", {}, {"s0"}, {sf}, {}},
                              {"", {{"form", s("recurrent")}, {"gate", s("scalar")}}, {"s0"}, {sf}, {}},
                              {"", {{"gate", s("scalar")}}, {"s0"}, {sf}, {}},
                              {"", {{"gate", s("vector")}, {"delta", true}}, {}, {sf}, {}},
                              // The calls CUDA's chunked paths take: delta rule ungated and
                              // with a scalar gate (WY form); vector gate, additive.
                              {"", {{"delta", true}}, {}, {sf}, {}},
                              {"", {{"gate", s("scalar")}, {"delta", true}}, {"s0"}, {sf}, {}},
                              {"", {{"gate", s("vector")}}, {"s0"}, {sf}, {}},
                              {"", {{"gate", s("fixed")}}, {}, {sf}, {}},
                              {"",
                               {{"gate", s("fixed")}, {"input_gate", s("exp")}, {"normalize", s("max1")}},
                               {"z0", "m0"},
                               {sf, "z_final", "m_final"},
                               {}},
                              {"",
                               {{"gate", s("vector")},
                                {"input_gate", s("softplus")},
                                {"normalize", s("sum")},
                                {"chunk_size", int64_t{16}}},
                               {"s0", "z0"},
                               {sf, "z_final"},
                               {}},
                              // The Linear Transformer's and Based's denominator (CUDA's
                              // chunked kernels take it lowered: mixer_lowered.cu).
                              {"", {{"normalize", s("sum")}}, {"s0", "z0"}, {sf, "z_final"}, {}},
                              // The denominator's state alone, with a sigmoid input gate.
                              {"", {{"input_gate", s("sigmoid")}, {"normalize", s("sum")}}, {"z0"}, {"z_final"}, {}}}),
        mixer_shapes,
        {},
        nullptr,
        mixer_draw,
        nullptr};
    m["mixer_bwd"] = {
        with_op("mixer_bwd",
                {{"", {}, {}, {}, {}},
                 {"", {{"gate", s("fixed")}, {"normalize", s("sum")}}, {"s0", "z0"}, {"dg"}, {}},
                 // A constant fixed decay: no dg, so CUDA's chunked path takes it.
                 {"", {{"gate", s("fixed")}}, {"s0", "ds_final"}, {"ds0"}, {}},
                 {"", {{"input_gate", s("sigmoid")}}, {"ds_final"}, {"ds0"}, {}},
                 {"", {{"gate", s("vector")}, {"delta", true}}, {"s0", "ds_final"}, {"ds0"}, {}},
                 {"", {{"delta", true}}, {}, {}, {}},
                 {"", {{"gate", s("scalar")}, {"delta", true}}, {"s0", "ds_final"}, {"ds0"}, {}},
                 {"", {{"gate", s("scalar")}}, {"s0", "ds_final"}, {"ds0"}, {}},
                 {"", {{"gate", s("vector")}}, {"s0", "ds_final"}, {"ds0"}, {}},
                 {"",
                  {{"form", s("recurrent")},
                   {"gate", s("scalar")},
                   {"input_gate", s("softplus")},
                   {"normalize", s("max1")}},
                  {"s0", "z0", "ds_final", "dz_final"},
                  {"ds0", "dz0"},
                  {}},
                 // Chunked form with the denominator and an input gate (a softplus write
                 // weight as Mamba2's), max1 without the exp gate (floor 1), and the
                 // denominator's state alone.
                 {"",
                  {{"gate", s("scalar")}, {"input_gate", s("softplus")}, {"normalize", s("sum")}},
                  {"s0", "z0", "ds_final", "dz_final"},
                  {"ds0", "dz0"},
                  {}},
                 {"", {{"gate", s("vector")}, {"normalize", s("max1")}}, {"s0", "z0"}, {}, {}},
                 {"", {{"input_gate", s("sigmoid")}, {"normalize", s("sum")}}, {"z0", "dz_final"}, {"dz0"}, {}}}),
        mixer_shapes,
        {},
        nullptr,
        mixer_draw,
        nullptr};

    // Feature maps: E follows from D and the kind.
    std::vector<Case> fm_fwd, fm_bwd;
    for (const char* kind : {"identity", "elu1", "relu", "silu", "l2norm", "silu_l2norm", "taylor2"}) {
      fm_fwd.push_back({"feature_map_fwd", {{"kind", s(kind)}}, {}, {}, {}});
      fm_bwd.push_back({"feature_map_bwd", {{"kind", s(kind)}}, {}, {}, {}});
    }
    const auto bind_e = [](const Case& c, Dims& dims) {
      auto it = c.attrs.find("kind");
      const bool taylor = it != c.attrs.end() && std::get<std::string>(it->second) == "taylor2";
      dims["E"] = taylor ? 1 + dims.at("D") + dims.at("D") * dims.at("D") : dims.at("D");
    };
    const std::vector<ShapeCase> bthd_shapes = {{{{"B", 2}, {"T", 1}, {"H", 3}, {"D", 16}}},
                                                {{{"B", 1}, {"T", 63}, {"H", 1}, {"D", 16}}},
                                                {{{"B", 1}, {"T", 1000}, {"H", 1}, {"D", 8}}}};
    m["feature_map_fwd"] = {fm_fwd, bthd_shapes, {}, bind_e, nullptr, nullptr};
    m["feature_map_bwd"] = {fm_bwd, bthd_shapes, {}, bind_e, nullptr, nullptr};

    // The short convolution: W = 4 taps, longer than T = 1.
    // (B 3, T 70) crosses sequences and the CUDA sliding-window kernels' time slices mid-sequence;
    // C = 6 and W = 10 are shapes those kernels refuse (channels not in fours, more than 8 taps).
    const std::vector<ShapeCase> conv_shapes = {{{{"B", 2}, {"T", 1}, {"C", 24}, {"W", 4}}},
                                                {{{"B", 1}, {"T", 63}, {"C", 24}, {"W", 4}}},
                                                {{{"B", 1}, {"T", 1000}, {"C", 16}, {"W", 3}}},
                                                {{{"B", 3}, {"T", 70}, {"C", 40}, {"W", 4}}},
                                                {{{"B", 2}, {"T", 33}, {"C", 6}, {"W", 10}}}};
    m["short_conv_fwd"] = {
        with_op("short_conv_fwd", {{"", {}, {}, {}, {}}, {"", {{"activation", s("silu")}}, {"bias"}, {}, {}}}),
        conv_shapes,
        {{"weight", {Draw::normal, 0.5, ""}}},
        nullptr,
        nullptr,
        nullptr};
    m["short_conv_bwd"] = {with_op("short_conv_bwd", {{"", {}, {}, {}, {}},
                                                      {"", {}, {"bias"}, {}, {}},
                                                      {"", {{"activation", s("silu")}}, {"bias"}, {}, {}}}),
                           conv_shapes,
                           {{"weight", {Draw::normal, 0.5, ""}}},
                           nullptr,
                           nullptr,
                           nullptr};

    // Softmax attention: full causal and a sliding window; the backward takes the forward's o and lse.
    const std::vector<ShapeCase> attn_shapes = {{{{"B", 2}, {"T", 1}, {"H", 3}, {"D", 32}, {"V", 24}}},
                                                {{{"B", 1}, {"T", 63}, {"H", 1}, {"D", 32}, {"V", 24}}},
                                                {{{"B", 1}, {"T", 1000}, {"H", 1}, {"D", 16}, {"V", 8}}}};
    m["softmax_attn_fwd"] = {
        with_op("softmax_attn_fwd", {{"", {}, {}, {}, {}}, {"", {{"window", int64_t{7}}}, {}, {}, {}}}),
        attn_shapes,
        {},
        nullptr,
        nullptr,
        nullptr};
    m["softmax_attn_bwd"] = {
        with_op("softmax_attn_bwd", {{"", {}, {}, {}, {}}, {"", {{"window", int64_t{7}}}, {}, {}, {}}}),
        attn_shapes,
        {},
        nullptr,
        nullptr,
        [](const Case& c, HostTensors& in) {
          from_forward("softmax_attn_fwd", c.attrs, {"q", "k", "v"}, {{"o", "o"}, {"lse", "lse"}}, in);
        }};
    m["softmax_attn_decode"] = {
        with_op("softmax_attn_decode", {{"", {}, {}, {}, {}}, {"", {{"window", int64_t{7}}}, {}, {}, {}}}),
        {{{{"B", 2}, {"S", 1}, {"H", 3}, {"D", 32}, {"V", 24}}},
         {{{"B", 1}, {"S", 63}, {"H", 1}, {"D", 32}, {"V", 24}}},
         {{{"B", 1}, {"S", 1000}, {"H", 1}, {"D", 16}, {"V", 8}}}},
        {},
        nullptr,
        nullptr,
        nullptr};

    // Row ops over "*S": one row, 2 x 63 rows, 1000 rows.
    const auto rows = [](Dims dims) { return std::vector<ShapeCase>{{dims, {1}}, {dims, {2, 63}}, {dims, {1000}}}; };
    // Norms also at a model's width: rows longer than a warp's 16-byte vectors cover in one round
    // (1040 = 8 x 130 bf16 values: five rounds, the last partial); and D = 37, which no 16-byte
    // vector divides (the CUDA block-per-row kernels).
    const auto norm_rows = [&rows]() {
      auto shapes = rows({{"D", 48}});
      shapes.push_back({{{"D", 1040}}, {37}});
      shapes.push_back({{{"D", 37}}, {2, 5}});
      return shapes;
    };
    m["embedding_fwd"] = {{{"embedding_fwd", {}, {}, {}, {}}},
                          rows({{"R", 37}, {"D", 24}}),
                          {{"ids", {Draw::index, 1, "R"}}},
                          nullptr,
                          nullptr,
                          nullptr};
    m["embedding_bwd"] = {{{"embedding_bwd", {}, {}, {}, {}}},
                          rows({{"R", 37}, {"D", 24}}),
                          {{"ids", {Draw::index, 1, "R"}}},
                          nullptr,
                          nullptr,
                          nullptr};
    m["norm_fwd"] = {
        with_op("norm_fwd",
                {{"", {}, {}, {}, {}}, {"", {{"kind", s("layer")}}, {"weight"}, {}, {}}, {"", {}, {"weight"}, {}, {}}}),
        norm_rows(),
        {{"x", {Draw::normal, 2.0, ""}}},
        nullptr,
        nullptr,
        nullptr};
    m["norm_bwd"] = {
        with_op("norm_bwd",
                {{"", {}, {}, {}, {}}, {"", {{"kind", s("layer")}}, {"weight"}, {}, {}}, {"", {}, {"weight"}, {}, {}}}),
        norm_rows(),
        {{"x", {Draw::normal, 2.0, ""}}},
        nullptr,
        nullptr,
        [](const Case& c, HostTensors& in) {
          from_forward("norm_fwd", c.attrs, {"x", "weight"}, {{"rstd", "rstd"}}, in);
        }};
    m["linear_fwd"] = {with_op("linear_fwd", {{"", {}, {}, {}, {}}, {"", {{"trans_w", true}}, {"bias"}, {}, {}}}),
                       rows({{"K", 48}, {"M", 40}}),
                       {},
                       nullptr,
                       nullptr,
                       nullptr};
    m["linear_bwd"] = {with_op("linear_bwd", {{"", {}, {}, {}, {}}, {"", {{"trans_w", true}}, {"bias"}, {}, {}}}),
                       rows({{"K", 48}, {"M", 40}}),
                       {},
                       nullptr,
                       nullptr,
                       nullptr};
    m["swiglu_fwd"] = {
        {{"swiglu_fwd", {}, {}, {}, {}}}, rows({}), {{"gate", {Draw::normal, 3.0, ""}}}, nullptr, nullptr, nullptr};
    m["swiglu_bwd"] = {
        {{"swiglu_bwd", {}, {}, {}, {}}}, rows({}), {{"gate", {Draw::normal, 3.0, ""}}}, nullptr, nullptr, nullptr};
    m["rotary_fwd"] = {
        with_op("rotary_fwd", {{"", {}, {}, {}, {}}, {"", {{"inverse", true}, {"offset", int64_t{5}}}, {}, {}, {}}}),
        bthd_shapes,
        {},
        nullptr,
        nullptr,
        nullptr};

    // Training ops.
    // C = 64 and 4104 (multiples of 8): CUDA's 16-byte vector loads and stores, 4104 with a
    // partial last round of the unrolled loop.
    const std::vector<ShapeCase> ce_shapes = {{{{"N", 1}, {"C", 50}}},
                                              {{{"N", 63}, {"C", 50}}},
                                              {{{"N", 1000}, {"C", 50}}},
                                              {{{"N", 63}, {"C", 64}}},
                                              {{{"N", 5}, {"C", 4104}}}};
    m["cross_entropy_fwd"] = {{{"cross_entropy_fwd", {}, {}, {}, {}}},
                              ce_shapes,
                              {{"logits", {Draw::normal, 3.0, ""}}, {"labels", {Draw::labels, 1, "C"}}},
                              nullptr,
                              nullptr,
                              nullptr};
    m["cross_entropy_bwd"] = {with_op("cross_entropy_bwd", {{"", {}, {}, {}, {}}, {"", {{"scale", 0.5}}, {}, {}, {}}}),
                              ce_shapes,
                              {{"logits", {Draw::normal, 3.0, ""}}, {"labels", {Draw::labels, 1, "C"}}},
                              nullptr,
                              nullptr,
                              [](const Case&, HostTensors& in) {
                                from_forward("cross_entropy_fwd", {}, {"logits"}, {{"lse", "lse"}}, in);
                              }};
    const std::vector<ShapeCase> row_shapes = {
        {{{"M", 1}, {"N", 17}, {"D", 24}}}, {{{"M", 63}, {"N", 17}, {"D", 24}}}, {{{"M", 1000}, {"N", 17}, {"D", 24}}}};
    m["gather_rows"] = {
        {{"gather_rows", {}, {}, {}, {}}}, row_shapes, {{"idx", {Draw::index, 1, "N"}}}, nullptr, nullptr, nullptr};
    m["scatter_add_rows"] = {{{"scatter_add_rows", {}, {}, {}, {}}},
                             row_shapes,
                             {{"idx", {Draw::index, 1, "N"}}},
                             nullptr,
                             nullptr,
                             nullptr};
    std::vector<Case> un_fwd, un_bwd;
    for (const char* kind : {"identity", "silu", "sigmoid", "softplus", "logsigmoid", "exp", "neg_exp"}) {
      un_fwd.push_back({"unary_fwd", {{"kind", s(kind)}, {"alpha", -1.5}}, {}, {}, {}});
      un_bwd.push_back({"unary_bwd", {{"kind", s(kind)}, {"alpha", -1.5}}, {}, {}, {}});
    }
    un_fwd.insert(un_fwd.begin(), Case{"unary_fwd", {}, {}, {}, {}});
    un_bwd.insert(un_bwd.begin(), Case{"unary_bwd", {}, {}, {}, {}});
    m["unary_fwd"] = {un_fwd, rows({}), {{"x", {Draw::normal, 3.0, ""}}}, nullptr, nullptr, nullptr};
    m["unary_bwd"] = {un_bwd, rows({}), {{"x", {Draw::normal, 3.0, ""}}}, nullptr, nullptr, nullptr};
    m["binary_fwd"] = {with_op("binary_fwd", {{"", {}, {}, {}, {}},
                                              {"", {{"kind", s("mul")}}, {}, {}, {}},
                                              {"", {{"broadcast", true}}, {}, {}, {}},
                                              {"", {{"broadcast", true}, {"kind", s("mul")}}, {}, {}, {}}}),
                       rows({{"D", 24}}),
                       {},
                       nullptr,
                       nullptr,
                       nullptr};
    m["binary_bwd"] = {with_op("binary_bwd", {{"", {}, {}, {}, {}},
                                              {"", {{"kind", s("mul")}}, {}, {}, {}},
                                              {"", {{"broadcast", true}}, {}, {}, {}},
                                              {"", {{"broadcast", true}, {"kind", s("mul")}}, {}, {}, {}}}),
                       rows({{"D", 24}}),
                       {},
                       nullptr,
                       nullptr,
                       nullptr};
    m["sum_squares"] = {{{"sum_squares", {}, {}, {}, {}}}, rows({{"D", 24}}), {}, nullptr, nullptr, nullptr};
    m["accumulate"] = {with_op("accumulate", {{"", {}, {}, {}, {}}, {"", {{"alpha", -0.5}}, {}, {}, {}}}),
                       rows({{"D", 24}}),
                       {},
                       nullptr,
                       nullptr,
                       nullptr};
    m["adamw_step"] = {
        with_op("adamw_step",
                {{"", {}, {}, {}, {}},
                 {"", {{"step", int64_t{10}}, {"weight_decay", 0.1}, {"grad_scale", 0.5}, {"lr", 1e-2}}, {}, {}, {}},
                 // the device-side global-norm clip (a norm of about 1 clipped to 0.3)
                 {"", {{"max_norm", 0.3}, {"lr", 1e-2}}, {"grad_sq_sum"}, {}, {}}}),
        rows({{"D", 24}}),
        {{"v", {Draw::positive, 1e-2, ""}}, {"m", {Draw::normal, 0.1, ""}}, {"grad_sq_sum", {Draw::positive, 1.0, ""}}},
        nullptr,
        nullptr,
        nullptr};
    m["cast"] = {
        with_op("cast",
                {{"", {}, {}, {}, {}}, {"", {{"to", s("f64")}}, {}, {}, {}}, {"", {{"to", s("bf16")}}, {}, {}, {}}}),
        rows({{"D", 24}}),
        {},
        nullptr,
        nullptr,
        nullptr};
    return m;
  }();
  return calls;
}

}  // namespace linea::test
