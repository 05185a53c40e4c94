// plan_op (a call checked without tensors or a backend) against run_op (the
// call made): the same outputs for every op of the table, the same refusals,
// and the backend hooks run_op goes through (accepts, launch), with output
// allocation and NaN poisoning as before.
#include <doctest/doctest.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "linea/backend.h"
#include "op_calls.h"
#include "test_util.h"

using namespace linea;
using namespace linea::test;

namespace {

// Tensors on `backend` for the descs: index tensors zero (a valid index for every op), values random.
TensorMap tensors_for(Backend& backend, const DescMap& descs) {
  TensorMap out;
  uint32_t seed = 1;
  for (const auto& [name, d] : descs) {
    if (d.dtype == DType::i32) {
      Tensor t = backend.empty(d.shape, DType::i32);
      backend.fill(t, 0);
      out[name] = t;
    } else if (d.dtype == DType::f32) {
      out[name] = random_tensor<float>(backend, d.shape, seed++, 0.5);
    } else {
      out[name] = random_tensor<double>(backend, d.shape, seed++, 0.5);
    }
  }
  return out;
}

DescMap descs_of(const TensorMap& tensors) {
  DescMap out;
  for (const auto& [name, t] : tensors) out[name] = TensorDesc{t.shape, t.dtype};
  return out;
}

// Every op's calls from its builder (op_calls.h), at the small default shapes:
// its default attributes and required inputs, then the switches that change
// its signature. An op without a builder fails here, by name.
std::vector<Case> valid_cases() {
  std::vector<Case> cases;
  for (const OpDef& op : op_table()) {
    auto calls = op_calls().find(op.name);
    if (calls == op_calls().end()) {
      FAIL_CHECK("op ", op.name, " has no call builder: add one to op_calls() in native/tests/op_calls.h");
      continue;
    }
    cases.insert(cases.end(), calls->second.variants.begin(), calls->second.variants.end());
  }
  return cases;
}

// A host backend of its own, for the hooks: zeroed memory, counted launches,
// and only the kernels a test gives it.
class TestBackend final : public Backend {
 public:
  std::string name() const override { return "test"; }
  DeviceKind device() const override { return DeviceKind::cpu; }
  DeviceInfo info() const override { return DeviceInfo{"test", 0, "test", 0, -1, ""}; }

  Tensor empty(const Shape& shape, DType dtype) override {
    Tensor t;
    t.shape = shape;
    t.dtype = dtype;
    t.backend = this;
    const size_t bytes = t.bytes();
    auto buffer = std::make_shared<Buffer>();
    buffer->data = std::calloc(bytes ? bytes : 1, 1);
    buffer->bytes = bytes;
    buffer->release = [this](void* p, size_t n) {
      std::free(p);
      count_free(n);
    };
    count_alloc(bytes);
    t.buffer = std::move(buffer);
    return t;
  }
  void copy_from_host(Tensor& dst, const void* src, size_t bytes) override {
    check_copy_size(dst, bytes);
    if (bytes) std::memcpy(dst.buffer->data, src, bytes);
  }
  void copy_to_host(const Tensor& src, void* dst, size_t bytes) override {
    check_copy_size(src, bytes);
    if (bytes) std::memcpy(dst, src.buffer->data, bytes);
  }
  void fill(Tensor& dst, double value) override {
    ++fills;
    for (int64_t i = 0; i < dst.numel(); ++i) {
      if (dst.dtype == DType::f32) dst.data<float>()[i] = static_cast<float>(value);
      else if (dst.dtype == DType::f64) dst.data<double>()[i] = value;
      else dst.data<int32_t>()[i] = std::isnan(value) ? -1 : static_cast<int32_t>(value);
    }
  }
  void launch(const Kernel& kernel, OpCall& call) override {
    ++launches;
    Backend::launch(kernel, call);
  }

  int launches = 0;
  int fills = 0;
};

}  // namespace

TEST_CASE("plan_op plans the outputs run_op makes on the CPU, for every op of the table") {
  Backend& cpu = get_backend("cpu");
  std::set<std::string> covered;
  for (const Case& c : valid_cases()) {
    const OpDef& def = find_op(c.op);
    for (DType dtype : def.dtypes) {
      CAPTURE(case_name(c, dtype));
      const DescMap descs = descs_for(c, dtype);
      const OpPlan plan = plan_op(c.op, descs, c.attrs, c.outputs);
      CHECK(plan.op == &def);
      CHECK(plan.dtype == dtype);
      CHECK(plan.inputs.size() == descs.size());
      // bf16 and f16 are GPU storage dtypes: the CPU runs only cast in them.
      if (is_16bit(dtype) && c.op != "cast") continue;
      CHECK(!cpu.accepts(plan).has_value());
      const TensorMap outputs = run_op(cpu, c.op, tensors_for(cpu, descs), c.attrs, c.outputs);
      CHECK(plan.outputs.size() == outputs.size());
      for (const OutputPlan& o : plan.outputs) {
        CAPTURE(o.name);
        REQUIRE(outputs.count(o.name) == 1);
        CHECK(shape_str(outputs.at(o.name).shape) == shape_str(o.shape));
        CHECK(outputs.at(o.name).dtype == o.dtype);
      }
      covered.insert(c.op);
    }
  }
  CHECK(covered.size() == op_table().size());
}

TEST_CASE("plan_op fills in default attributes and the specialized signature") {
  const DescMap descs = {{"q", {{2, 3, 2, 4}, DType::f64}},
                         {"k", {{2, 3, 2, 4}, DType::f64}},
                         {"v", {{2, 3, 2, 5}, DType::f64}},
                         {"g", {{2, 3, 2}, DType::f64}}};
  const OpPlan plan = plan_op("mixer_fwd", descs, {{"gate", std::string("scalar")}}, {"s_final"});
  CHECK(plan.attrs.s("gate") == "scalar");
  CHECK(plan.attrs.s("form") == "chunked");
  CHECK(plan.attrs.i("chunk_size") == 64);
  Signature sig = plan.signature;
  CHECK(sig.input("g")->shape == "B,T,H");
  CHECK(plan.dims == Dims{{"B", 2}, {"T", 3}, {"H", 2}, {"K", 4}, {"V", 5}});
  REQUIRE(plan.outputs.size() == 2);
  CHECK(plan.outputs[0].name == "o");
  CHECK(plan.outputs[0].shape == Shape{2, 3, 2, 5});
  CHECK(plan.outputs[1].name == "s_final");
  CHECK(plan.outputs[1].shape == Shape{2, 2, 4, 5});
  CHECK(plan.outputs[1].dtype == DType::f64);

  // "*S" symbols bind from the leading dims, index outputs and inputs stay i32.
  const OpPlan emb = plan_op("embedding_fwd", {{"ids", {{3, 7}, DType::i32}}, {"table", {{11, 6}, DType::f32}}}, {});
  CHECK(emb.shapes.at("S") == Shape{3, 7});
  CHECK(emb.dtype == DType::f32);
  REQUIRE(emb.outputs.size() == 1);
  CHECK(emb.outputs[0].shape == Shape{3, 7, 6});
}

TEST_CASE("plan_op refuses a bad call with run_op's message") {
  Backend& cpu = get_backend("cpu");
  auto q = random_tensor<float>(cpu, {2, 8, 4, 16}, 1);
  auto q64 = random_tensor<double>(cpu, {2, 8, 4, 16}, 2);
  auto v_bad = random_tensor<float>(cpu, {2, 9, 4, 16}, 3);
  auto k_rank3 = random_tensor<float>(cpu, {2, 8, 4}, 4);
  auto g = random_tensor<float>(cpu, {2, 8, 4}, 5);
  auto x_odd = random_tensor<float>(cpu, {1, 2, 1, 5}, 6);
  auto fm_dy = random_tensor<float>(cpu, {2, 8, 4, 17}, 7);
  Tensor ids_i32 = cpu.empty({2, 3}, DType::i32);
  cpu.fill(ids_i32, 0);
  Tensor q_i32 = cpu.empty({2, 8, 4, 16}, DType::i32);
  cpu.fill(q_i32, 0);
  auto table = random_tensor<float>(cpu, {5, 4}, 8);
  auto ids_f32 = random_tensor<float>(cpu, {2, 3}, 9);

  struct Bad {
    std::string op;
    TensorMap inputs;
    AttrMap attrs;
    std::vector<std::string> outputs;
    std::string expect;  // a part of the message
  };
  const std::vector<Bad> bad = {
      {"mixr_fwd", {}, {}, {}, "unknown op 'mixr_fwd'"},
      {"mixer_fwd", {{"q", q}, {"k", q}, {"v", q}}, {{"sclae", 1.0}}, {}, "unknown attribute 'sclae'"},
      {"mixer_fwd", {{"q", q}, {"k", q}, {"v", q}}, {{"scale", -1.0}}, {}, "attribute scale = -1 is out of range"},
      {"mixer_fwd", {{"q", q}, {"k", q}, {"v", q}}, {{"chunk_size", 17.0}}, {}, "chunk_size = 17 is not valid"},
      {"mixer_fwd", {{"q", q}, {"k", q}}, {}, {}, "missing input v [B,T,H,V]"},
      {"mixer_fwd", {{"q", q}, {"k", q}, {"v", q}, {"x", q}}, {}, {}, "unknown input 'x'"},
      {"mixer_fwd", {{"q", q}, {"k", q}, {"v", q}, {"g", g}}, {}, {}, "input g must not be given (gate is 'none')"},
      {"mixer_fwd", {{"q", q}, {"k", q64}, {"v", q}}, {}, {}, "k has dtype f64, but q has f32"},
      {"mixer_fwd", {{"q", q_i32}, {"k", q_i32}, {"v", q_i32}}, {}, {}, "q has dtype i32; valid: f32, f64"},
      {"mixer_fwd", {{"q", q}, {"k", q}, {"v", v_bad}}, {}, {}, "T is 8 from q, got 9"},
      {"mixer_fwd", {{"q", q}, {"k", k_rank3}, {"v", q}}, {}, {}, "expected rank 4"},
      {"mixer_fwd", {{"q", q}, {"k", q}, {"v", q}}, {}, {"state"}, "unknown output 'state'; outputs: o, s_final"},
      {"mixer_fwd", {{"q", q}, {"k", q}, {"v", q}}, {}, {"z_final"}, "output z_final is not produced"},
      {"embedding_fwd", {{"ids", ids_f32}, {"table", table}}, {}, {}, "ids has dtype f32; indices are i32"},
      {"rotary_fwd", {{"x", x_odd}}, {}, {}, "D must be even"},
      {"feature_map_bwd", {{"x", q}, {"dy", fm_dy}}, {}, {}, "dy has feature dim E=17, expected E=16"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.expect);
    const std::string planned = error_of([&] { plan_op(b.op, descs_of(b.inputs), b.attrs, b.outputs); });
    const std::string ran = error_of([&] { run_op(cpu, b.op, b.inputs, b.attrs, b.outputs); });
    CHECK(contains(planned, b.expect));
    CHECK(planned == ran);
  }
}

TEST_CASE("run_op still refuses disposed tensors and tensors of another backend, in the same order") {
  Backend& cpu = get_backend("cpu");
  TestBackend other;
  auto q = random_tensor<float>(cpu, {1, 4, 2, 8}, 1);
  auto q_other = random_tensor<float>(other, {1, 4, 2, 8}, 1);
  CHECK(error_of([&] {
          run_op(cpu, "mixer_fwd", {{"q", q}, {"k", Tensor()}, {"v", q}}, {});
        }) == "mixer_fwd: input k is a disposed tensor");
  // The name is checked before the tensor, as before.
  CHECK(contains(error_of([&] {
                   run_op(cpu, "mixer_fwd", {{"q", q}, {"k", q}, {"v", q}, {"x", Tensor()}}, {});
                 }),
                 "unknown input 'x'"));
  CHECK(error_of([&] {
          run_op(cpu, "mixer_fwd", {{"q", q}, {"k", q_other}, {"v", q}}, {});
        }) == "mixer_fwd: k lives on backend test, the op runs on cpu; copy it first");
  // An earlier input's shape is checked before a later input's backend, as before.
  auto v_bad = random_tensor<float>(cpu, {1, 5, 2, 8}, 2);
  CHECK(contains(error_of([&] {
                   run_op(cpu, "mixer_fwd", {{"q", q}, {"k", q}, {"v", v_bad}}, {});
                 }),
                 "T is 4 from q, got 5"));
}

TEST_CASE(
    "accepts: the CPU takes every (op, dtype) of the table but bf16 and f16 (cast only); a backend without the kernel "
    "names "
    "what it lacks") {
  Backend& cpu = get_backend("cpu");
  TestBackend bare;
  for (const OpDef& op : op_table())
    for (DType dtype : op.dtypes) {
      CAPTURE(op.name);
      CAPTURE(dtype_name(dtype));
      const OpPlan plan = plan_op(op.name, descs_for({op.name, {}, {}, {}, {}}, dtype), {});
      if (is_16bit(dtype) && op.name != "cast")
        CHECK(cpu.accepts(plan) ==
              std::optional<std::string>("backend cpu has no kernel for " + op.name + " in " + dtype_name(dtype)));
      else CHECK(!cpu.accepts(plan).has_value());
      CHECK(bare.accepts(plan) ==
            std::optional<std::string>("backend test has no kernel for " + op.name + " in " + dtype_name(dtype)));
    }

  bare.add_kernel("swiglu_fwd", DType::f32, [](OpCall&) {});
  auto gate64 = random_tensor<double>(bare, {3, 2}, 1);
  const auto before = bare.memory().allocations;
  CHECK(error_of([&] {
          run_op(bare, "swiglu_fwd", {{"gate", gate64}, {"up", gate64}}, {});
        }) == "backend test has no kernel for swiglu_fwd in f64");
  CHECK(bare.memory().allocations == before);
  CHECK(bare.launches == 0);
}

TEST_CASE("a kernel's predicate refuses a call before anything is allocated") {
  TestBackend be;
  be.add_kernel(
      "unary_fwd", DType::f32, [](OpCall&) {},
      [](const OpPlan& plan) -> std::optional<std::string> {
        if (plan.attrs.s("kind") == "identity") return std::nullopt;
        return "unary_fwd on test supports only kind 'identity'; got kind '" + plan.attrs.s("kind") + "'";
      });
  auto x = random_tensor<float>(be, {4, 3}, 1);
  const auto before = be.memory().allocations;
  const std::string refused = error_of([&] { run_op(be, "unary_fwd", {{"x", x}}, {{"kind", std::string("exp")}}); });
  CHECK(refused == "unary_fwd on test supports only kind 'identity'; got kind 'exp'");
  CHECK(be.memory().allocations == before);
  CHECK(be.launches == 0);
  const OpPlan plan = plan_op("unary_fwd", descs_of({{"x", x}}), {{"kind", std::string("exp")}});
  CHECK(be.accepts(plan) == std::optional<std::string>(refused));

  const TensorMap out = run_op(be, "unary_fwd", {{"x", x}}, {});
  CHECK(out.at("y").shape == Shape{4, 3});
  CHECK(be.memory().allocations == before + 1);
  CHECK(be.launches == 1);
}

TEST_CASE("outputs are allocated as planned and NaN-poisoned before the kernel only when asked") {
  TestBackend be;
  be.add_kernel("swiglu_fwd", DType::f32, [](OpCall&) {});  // writes nothing
  auto gate = random_tensor<float>(be, {2, 5}, 1);
  for (int poison = 0; poison < 2; ++poison) {
    CAPTURE(poison);
    set_poison_outputs(poison == 1);
    const auto allocations = be.memory().allocations;
    const int fills = be.fills;
    const TensorMap out = run_op(be, "swiglu_fwd", {{"gate", gate}, {"up", gate}}, {});
    set_poison_outputs(false);
    CHECK(be.memory().allocations == allocations + 1);
    CHECK(be.fills == fills + poison);
    const auto y = download<float>(out.at("y"));
    for (float v : y) CHECK(poison ? std::isnan(v) : v == 0.0f);
  }

  // On the CPU: a refused call allocates nothing, poisoning or not.
  Backend& cpu = get_backend("cpu");
  PoisonOutputs on;
  auto q = random_tensor<float>(cpu, {1, 4, 2, 8}, 1);
  auto v_bad = random_tensor<float>(cpu, {1, 5, 2, 8}, 2);
  const auto allocations = cpu.memory().allocations;
  CHECK(!error_of([&] { run_op(cpu, "mixer_fwd", {{"q", q}, {"k", q}, {"v", v_bad}}, {}); }).empty());
  CHECK(cpu.memory().allocations == allocations);
}

TEST_CASE("a bf16 call keeps its statistics in f32: planned so, and asked for so") {
  const Shape bthd = {1, 4, 2, 8}, bht = {1, 2, 4};
  const OpPlan fwd = plan_op("softmax_attn_fwd",
                             {{"q", {bthd, DType::bf16}}, {"k", {bthd, DType::bf16}}, {"v", {bthd, DType::bf16}}}, {});
  REQUIRE(fwd.outputs.size() == 2);
  CHECK(fwd.outputs[0].dtype == DType::bf16);  // o
  CHECK(fwd.outputs[1].name == "lse");
  CHECK(fwd.outputs[1].dtype == DType::f32);
  std::map<std::string, TensorDesc> bwd = {{"q", {bthd, DType::bf16}},  {"k", {bthd, DType::bf16}},
                                           {"v", {bthd, DType::bf16}},  {"o", {bthd, DType::bf16}},
                                           {"do", {bthd, DType::bf16}}, {"lse", {bht, DType::f32}}};
  CHECK(plan_op("softmax_attn_bwd", bwd, {}).dtype == DType::bf16);
  bwd["lse"].dtype = DType::bf16;
  CHECK(error_of([&] { plan_op("softmax_attn_bwd", bwd, {}); }) ==
        "softmax_attn_bwd: lse has dtype bf16; in a bf16 call it is f32 (statistics stay f32 in bf16)");
  // In f32 and f64 calls statistics share the op's dtype.
  const OpPlan f64 = plan_op("sum_squares", {{"x", {{3}, DType::f64}}}, {});
  CHECK(f64.outputs[0].dtype == DType::f64);
  CHECK(plan_op("sum_squares", {{"x", {{3}, DType::bf16}}}, {}).outputs[0].dtype == DType::f32);
}
