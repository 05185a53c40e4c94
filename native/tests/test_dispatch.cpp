// The op table's dispatcher: every caller mistake is an OpError naming the
// bad value and what would be valid, raised before any kernel runs.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "../src/ops/op_attrs.h"
#include "linea/backend.h"
#include "test_util.h"

using namespace linea;
using namespace linea::test;

TEST_CASE("the op table declares mixer_fwd with its signature") {
  const OpDef& op = find_op("mixer_fwd");
  CHECK(op.signature.inputs.size() >= 3);
  CHECK(op.signature.inputs[0].shape == "B,T,H,K");
  CHECK(get_backend("cpu").kernel("mixer_fwd", DType::f32) != nullptr);
  CHECK(get_backend("cpu").kernel("mixer_fwd", DType::f64) != nullptr);
}

TEST_CASE("unknown op, backend, input and attribute are named in the error") {
  Backend& cpu = get_backend("cpu");
  auto q = random_tensor<float>(cpu, {1, 4, 2, 8}, 1);
  auto v = random_tensor<float>(cpu, {1, 4, 2, 6}, 2);
  const auto e1 = error_of([&] { run_op(cpu, "mixr_fwd", {}, {}); });
  CHECK(contains(e1, "unknown op 'mixr_fwd'"));
  CHECK(contains(e1, "mixer_fwd"));
  const auto e2 = error_of([&] { get_backend("tpu"); });
  CHECK(contains(e2, "backend 'tpu' is not available; available: cpu"));
  const auto e3 = error_of([&] { run_op(cpu, "mixer_fwd", {{"q", q}, {"k", q}, {"v", v}, {"x", q}}, {}); });
  CHECK(contains(e3, "unknown input 'x'"));
  const auto e4 = error_of([&] { run_op(cpu, "mixer_fwd", {{"q", q}, {"k", q}, {"v", v}}, {{"sclae", 1.0}}); });
  CHECK(contains(e4, "unknown attribute 'sclae'"));
  CHECK(contains(e4, "scale"));
}

TEST_CASE("a mis-shaped input names the tensor, its shape and the expected one") {
  Backend& cpu = get_backend("cpu");
  auto q = random_tensor<float>(cpu, {2, 8, 4, 16}, 1);
  auto k = random_tensor<float>(cpu, {2, 8, 4, 16}, 2);
  auto v_bad = random_tensor<float>(cpu, {2, 9, 4, 16}, 3);
  const auto e = error_of([&] { run_op(cpu, "mixer_fwd", {{"q", q}, {"k", k}, {"v", v_bad}}, {}); });
  CHECK(contains(e, "mixer_fwd: v has shape [2, 9, 4, 16], expected [B=2, T=8, H=4, V]"));
  CHECK(contains(e, "T is 8 from q, got 9"));

  auto k_rank3 = random_tensor<float>(cpu, {2, 8, 4}, 4);
  const auto e2 = error_of([&] { run_op(cpu, "mixer_fwd", {{"q", q}, {"k", k_rank3}, {"v", q}}, {}); });
  CHECK(contains(e2, "k has shape [2, 8, 4]"));
  CHECK(contains(e2, "expected rank 4"));

  auto s0_bad = random_tensor<float>(cpu, {2, 4, 16, 15}, 5);
  const auto e3 = error_of([&] { run_op(cpu, "mixer_fwd", {{"q", q}, {"k", k}, {"v", q}, {"s0", s0_bad}}, {}); });
  CHECK(contains(e3, "s0 has shape [2, 4, 16, 15], expected [B=2, H=4, K=16, V=16]"));
}

TEST_CASE("missing inputs, mixed dtypes and bad attribute values are refused") {
  Backend& cpu = get_backend("cpu");
  auto q = random_tensor<float>(cpu, {1, 4, 2, 8}, 1);
  auto q64 = random_tensor<double>(cpu, {1, 4, 2, 8}, 1);
  const auto e1 = error_of([&] { run_op(cpu, "mixer_fwd", {{"q", q}, {"k", q}}, {}); });
  CHECK(contains(e1, "missing input v [B,T,H,V]"));
  const auto e2 = error_of([&] { run_op(cpu, "mixer_fwd", {{"q", q}, {"k", q64}, {"v", q}}, {}); });
  CHECK(contains(e2, "k has dtype f64, but q has f32"));
  const auto e3 = error_of([&] {
    run_op(cpu, "mixer_fwd", {{"q", q}, {"k", q}, {"v", q}}, {{"form", std::string("parallel")}});
  });
  CHECK(contains(e3, "attribute form = 'parallel' is not valid; valid: recurrent"));
  const auto e4 = error_of([&] { run_op(cpu, "mixer_fwd", {{"q", q}, {"k", q}, {"v", q}}, {{"scale", -1.0}}); });
  CHECK(contains(e4, "attribute scale = -1 is out of range"));
  const auto e5 = error_of([&] { run_op(cpu, "mixer_fwd", {{"q", q}, {"k", q}, {"v", q}}, {}, {"state"}); });
  CHECK(contains(e5, "unknown output 'state'; outputs: o, s_final"));
}

TEST_CASE("memory accounting follows tensors") {
  Backend& cpu = get_backend("cpu");
  const auto before = cpu.memory().bytes_in_use;
  {
    Tensor t = cpu.empty({1000}, DType::f64);
    CHECK(cpu.memory().bytes_in_use == before + 8000);
  }
  CHECK(cpu.memory().bytes_in_use == before);
}

TEST_CASE("freed blocks stay cached until trim_cache gives them back") {
  Backend& cpu = get_backend("cpu");
  { Tensor t = cpu.empty({1 << 16}, DType::f32); }
  CHECK(cpu.cached_bytes() >= (int64_t{1} << 18));
  cpu.trim_cache();
  CHECK(cpu.cached_bytes() == 0);
}

TEST_CASE("running out of memory is a clear error, not a crash") {
  Backend& cpu = get_backend("cpu");
  std::string message;
  try {
    // 2^62 bytes: no machine has it
    cpu.empty({int64_t(1) << 60}, DType::f32);
  } catch (const OpError& e) {
    message = e.what();
  }
  CHECK(message.find("out of memory on the CPU: asked for") != std::string::npos);
  CHECK(message.find("use a smaller batch") != std::string::npos);
}

TEST_CASE("a shape whose element count overflows int64 is refused before anything is allocated") {
  Backend& cpu = get_backend("cpu");
  const auto before = cpu.memory().bytes_in_use;
  auto refused = [&](const Shape& shape) {
    std::string message;
    try {
      cpu.empty(shape, DType::f32);
    } catch (const OpError& e) {
      message = e.what();
    }
    return message;
  };
  // 2^32 · 2^32 = 2^64 wraps to 0 in int64: without the check this allocated an empty buffer.
  const std::string wrap = refused({int64_t(1) << 32, int64_t(1) << 32});
  CHECK(wrap.find("tensor shape [4294967296, 4294967296]") != std::string::npos);
  CHECK(wrap.find("elements") != std::string::npos);
  CHECK(refused({std::numeric_limits<int64_t>::max(), 2}).find("elements") != std::string::npos);
  CHECK(refused({3, -1}).find("negative") != std::string::npos);
  CHECK(cpu.memory().bytes_in_use == before);
  // A zero dim makes an empty tensor whatever the others are, even when their product would overflow.
  Tensor empty = cpu.empty({int64_t(1) << 40, int64_t(1) << 40, 0}, DType::f32);
  CHECK(empty.numel() == 0);
}

namespace {

// Every name of E parses back to its value, and a name outside the table is a
// logic_error naming it and the valid ones.
template <class E>
void check_attr_enum() {
  const std::vector<std::string> names = attr_enum_names<E>();
  REQUIRE(names.size() == attr_enum_count<E>());
  std::string valid;
  for (size_t i = 0; i < names.size(); ++i) {
    CHECK(names[i] == attr_enum_name(E(i)));
    Attrs attrs;
    attrs.set(AttrEnum<E>::attr, names[i]);
    CHECK(attr_enum<E>(attrs) == E(i));
    valid += (i ? ", " : "") + names[i];
  }
  Attrs bad;
  bad.set(AttrEnum<E>::attr, std::string("no_such_value"));
  std::string message;
  try {
    attr_enum<E>(bad);
  } catch (const std::logic_error& e) {
    message = e.what();
  }
  CHECK(contains(message, "'no_such_value'"));
  CHECK(contains(message, valid));
}

// The tables of every enum attribute: each op-table enum attribute must use one.
template <class... E>
std::vector<std::vector<std::string>> attr_enum_tables() {
  (check_attr_enum<E>(), ...);
  return {attr_enum_names<E>()...};
}

}  // namespace

TEST_CASE("every enum attribute takes its choices from one name table in op_attrs.h") {
  const auto tables = attr_enum_tables<FeatureMapKind, ConvActivation, MixerForm, MixerGate, MixerInputGate,
                                       MixerNormalize, NormKind, UnaryKind, BinaryKind, CastTarget>();
  for (const OpDef& op : op_table())
    for (const AttrDef& a : op.attrs) {
      if (a.type != AttrType::enum_) continue;
      CAPTURE(op.name);
      CAPTURE(a.name);
      bool found = false;
      for (const auto& names : tables) found |= names == a.choices;
      CHECK(found);
    }
}
