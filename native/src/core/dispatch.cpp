// plan_op: validate a call against the op table, with no tensors and no backend.
// run_op: plan it, ask the backend, allocate the outputs, launch the kernel.
#include <atomic>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>

#include "linea/backend.h"
#include "linea/ops.h"

namespace linea {
namespace {

std::atomic<bool> g_poison{false};

std::vector<std::string> split_dims(const std::string& pattern) {
  std::vector<std::string> dims;
  std::string cur;
  for (char c : pattern) {
    if (c == ',') {
      dims.push_back(cur);
      cur.clear();
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      cur += c;
    }
  }
  if (!cur.empty()) dims.push_back(cur);
  return dims;
}

bool is_literal(const std::string& dim) { return !dim.empty() && std::isdigit(static_cast<unsigned char>(dim[0])); }

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string attr_str(const AttrValue& v) {
  std::ostringstream out;
  if (auto p = std::get_if<int64_t>(&v)) out << *p;
  else if (auto p = std::get_if<double>(&v)) out << *p;
  else if (auto p = std::get_if<bool>(&v)) out << (*p ? "true" : "false");
  else out << '\'' << std::get<std::string>(v) << '\'';
  return out.str();
}

const char* attr_type_name(AttrType t) {
  switch (t) {
    case AttrType::int_: return "an integer";
    case AttrType::float_: return "a number";
    case AttrType::bool_: return "a boolean";
    case AttrType::enum_: return "a string";
  }
  return "?";
}

Attrs resolve_attrs(const OpDef& def, const std::map<std::string, AttrValue>& given) {
  Attrs attrs;
  for (const auto& [name, value] : given) {
    bool known = false;
    for (const auto& a : def.attrs) known |= a.name == name;
    if (!known) {
      std::vector<std::string> names;
      for (const auto& a : def.attrs) names.push_back(a.name);
      throw OpError(def.name + ": unknown attribute '" + name + "'; valid: " + join(names));
    }
  }
  for (const auto& a : def.attrs) {
    auto it = given.find(a.name);
    AttrValue v = it == given.end() ? a.default_value : it->second;
    const std::string where = def.name + ": attribute " + a.name + " = " + attr_str(v);
    switch (a.type) {
      case AttrType::int_: {
        if (auto d = std::get_if<double>(&v)) {  // JS numbers arrive as doubles
          if (std::floor(*d) != *d) throw OpError(where + " is not an integer");
          v = static_cast<int64_t>(*d);
        }
        auto p = std::get_if<int64_t>(&v);
        if (!p) throw OpError(where + " must be " + attr_type_name(a.type));
        if (*p < a.min || *p > a.max) {
          std::ostringstream m;
          m << where << " is out of range; valid: " << static_cast<int64_t>(a.min) << " to "
            << static_cast<int64_t>(a.max);
          throw OpError(m.str());
        }
        break;
      }
      case AttrType::float_: {
        if (auto p = std::get_if<int64_t>(&v)) v = static_cast<double>(*p);
        auto p = std::get_if<double>(&v);
        if (!p) throw OpError(where + " must be " + attr_type_name(a.type));
        if (!std::isfinite(*p) || *p < a.min || *p > a.max) {
          std::ostringstream m;
          m << where << " is out of range; valid: " << a.min << " to " << a.max;
          throw OpError(m.str());
        }
        break;
      }
      case AttrType::bool_:
        if (!std::get_if<bool>(&v)) throw OpError(where + " must be " + attr_type_name(a.type));
        break;
      case AttrType::enum_: {
        auto p = std::get_if<std::string>(&v);
        bool ok = p != nullptr;
        if (ok) {
          ok = false;
          for (const auto& c : a.choices) ok |= c == *p;
        }
        if (!ok) throw OpError(where + " is not valid; valid: " + join(a.choices));
        break;
      }
    }
    attrs.set(a.name, v);
  }
  return attrs;
}

// Splits "*S,D" into the shape symbol ("S", or "" when there is none) and the trailing dims.
std::pair<std::string, std::vector<std::string>> parse_pattern(const std::string& pattern) {
  auto dims = split_dims(pattern);
  if (!dims.empty() && dims[0][0] == '*') {
    std::string symbol = dims[0].substr(1);
    dims.erase(dims.begin());
    return {symbol, dims};
  }
  return {"", dims};
}

// Binds symbolic dims (and a leading shape symbol) from `t`, or checks them
// against earlier bindings.
void bind_dims(const OpDef& def, const TensorSig& sig, const TensorDesc& t, OpPlan& call,
               std::map<std::string, std::string>& bound_by) {
  // Not a structured binding: `fail` captures these, and C++17 cannot capture bindings.
  const auto parsed = parse_pattern(sig.shape);
  const std::string& symbol = parsed.first;
  const auto& pattern = parsed.second;
  Dims& dims = call.dims;
  auto fail = [&](const std::string& why) {
    std::vector<std::string> expected;
    if (!symbol.empty()) {
      auto it = call.shapes.find(symbol);
      expected.push_back(it == call.shapes.end() ? "*" + symbol : "*" + symbol + "=" + shape_str(it->second));
    }
    for (const auto& d : pattern) {
      auto it = dims.find(d);
      expected.push_back(is_literal(d) || it == dims.end() ? d : d + "=" + std::to_string(it->second));
    }
    throw OpError(def.name + ": " + sig.name + " has shape " + shape_str(t.shape) + ", expected [" + join(expected) +
                  "]" + (why.empty() ? "" : " (" + why + ")"));
  };
  const size_t rank = t.shape.size();
  const size_t lead = rank >= pattern.size() ? rank - pattern.size() : 0;
  if (symbol.empty() ? rank != pattern.size() : rank < pattern.size())
    fail("rank " + std::to_string(rank) + ", expected rank " + (symbol.empty() ? "" : "at least ") +
         std::to_string(pattern.size()));
  for (int64_t d : t.shape)
    if (d <= 0) fail("every dim must be positive");
  if (!symbol.empty()) {
    const Shape leading(t.shape.begin(), t.shape.begin() + static_cast<int64_t>(lead));
    auto it = call.shapes.find(symbol);
    if (it == call.shapes.end()) {
      call.shapes[symbol] = leading;
      bound_by["*" + symbol] = sig.name;
    } else if (it->second != leading) {
      fail("its leading dims must be " + shape_str(it->second) + " as in " + bound_by["*" + symbol]);
    }
  }
  for (size_t i = 0; i < pattern.size(); ++i) {
    const auto& d = pattern[i];
    const int64_t got = t.shape[lead + i];
    if (is_literal(d)) {
      if (got != std::stoll(d)) fail("dim " + std::to_string(lead + i) + " must be " + d);
      continue;
    }
    auto it = dims.find(d);
    if (it == dims.end()) {
      dims[d] = got;
      bound_by[d] = sig.name;
    } else if (it->second != got) {
      const auto src = bound_by.count(d) ? bound_by[d] : std::string("the attributes");
      fail(d + " is " + std::to_string(it->second) + " from " + src + ", got " + std::to_string(got));
    }
  }
}

Shape output_shape(const OpDef& def, const TensorSig& sig, const OpPlan& call) {
  const auto [symbol, pattern] = parse_pattern(sig.shape);
  Shape shape;
  if (!symbol.empty()) {
    auto it = call.shapes.find(symbol);
    if (it == call.shapes.end())
      throw OpError(def.name + ": output " + sig.name + " needs shape *" + symbol + ", which no input binds");
    shape = it->second;
  }
  for (const auto& d : pattern) {
    if (is_literal(d)) {
      shape.push_back(std::stoll(d));
      continue;
    }
    auto it = call.dims.find(d);
    if (it == call.dims.end())
      throw OpError(def.name + ": output " + sig.name + " needs dim " + d + ", which no input or attribute binds");
    shape.push_back(it->second);
  }
  return shape;
}

// run_op's checks on the tensors themselves, called by plan_call at the
// points run_op always made them: `given` for each given input once its name
// and presence are known good, `bound` for each before its dtype and dims.
struct InputChecks {
  std::function<void(const OpDef&, const std::string& name)> given;
  std::function<void(const OpDef&, const TensorSig&)> bound;
};

OpPlan plan_call(const std::string& op_name, const std::map<std::string, TensorDesc>& inputs,
                 const std::map<std::string, AttrValue>& attr_values, const std::vector<std::string>& want_outputs,
                 const InputChecks* checks) {
  const OpDef& def = find_op(op_name);
  OpPlan call;
  call.op = &def;
  call.attrs = resolve_attrs(def, attr_values);
  Signature& sig = call.signature;
  sig = def.signature;
  std::set<std::string> given;
  for (const auto& [name, _] : inputs) given.insert(name);
  if (def.specialize) def.specialize(call.attrs, given, sig);

  for (const auto& [name, t] : inputs) {
    const TensorSig* s = sig.input(name);
    if (!s) {
      std::vector<std::string> names;
      for (const auto& in : sig.inputs) names.push_back(in.name);
      throw OpError(def.name + ": unknown input '" + name + "'; inputs: " + join(names));
    }
    if (s->presence == Presence::absent)
      throw OpError(def.name + ": input " + name + " must not be given" +
                    (s->absent_reason.empty() ? "" : " (" + s->absent_reason + ")"));
    if (checks && checks->given) checks->given(def, name);
  }

  bool have_dtype = false;
  std::string dtype_from;
  std::map<std::string, std::string> bound_by;
  for (const auto& s : sig.inputs) {
    auto it = inputs.find(s.name);
    if (it == inputs.end()) {
      if (s.presence == Presence::required)
        throw OpError(def.name + ": missing input " + s.name + " [" + s.shape + "]" +
                      (s.doc.empty() ? "" : ": " + s.doc));
      continue;
    }
    const TensorDesc& t = it->second;
    if (checks && checks->bound) checks->bound(def, s);
    if (s.index) {
      if (t.dtype != DType::i32)
        throw OpError(def.name + ": " + s.name + " has dtype " + dtype_name(t.dtype) + "; indices are i32");
    } else if (s.stats) {
      // checked below, against the dtype the other inputs set
    } else if (!have_dtype) {
      call.dtype = t.dtype;
      dtype_from = s.name;
      have_dtype = true;
      bool allowed = false;
      std::vector<std::string> names;
      for (DType d : def.dtypes) {
        allowed |= d == t.dtype;
        names.push_back(dtype_name(d));
      }
      if (!allowed)
        throw OpError(def.name + ": " + s.name + " has dtype " + dtype_name(t.dtype) + "; valid: " + join(names));
    } else if (t.dtype != call.dtype) {
      throw OpError(def.name + ": " + s.name + " has dtype " + dtype_name(t.dtype) + ", but " + dtype_from + " has " +
                    dtype_name(call.dtype) + "; all inputs share one dtype");
    }
    bind_dims(def, s, t, call, bound_by);
    call.inputs[s.name] = t;
  }
  for (const auto& s : sig.inputs) {
    auto it = inputs.find(s.name);
    if (!s.stats || it == inputs.end()) continue;
    const DType want = stats_dtype(call.dtype);
    if (it->second.dtype != want)
      throw OpError(def.name + ": " + s.name + " has dtype " + dtype_name(it->second.dtype) + "; in a " +
                    dtype_name(call.dtype) + " call it is " + dtype_name(want) + " (statistics stay f32 in " +
                    dtype_name(call.dtype) + ")");
  }
  if (def.check) def.check(call.attrs, call.dims);

  for (const auto& name : want_outputs) {
    const TensorSig* s = sig.output(name);
    if (!s) {
      std::vector<std::string> names;
      for (const auto& o : sig.outputs) names.push_back(o.name);
      throw OpError(def.name + ": unknown output '" + name + "'; outputs: " + join(names));
    }
    if (s->presence == Presence::absent)
      throw OpError(def.name + ": output " + name + " is not produced" +
                    (s->absent_reason.empty() ? "" : " (" + s->absent_reason + ")"));
  }

  for (const auto& s : sig.outputs) {
    bool wanted = s.presence == Presence::required;
    for (const auto& n : want_outputs) wanted |= n == s.name;
    if (!wanted || s.presence == Presence::absent) continue;
    const DType value_dtype = def.output_dtype ? def.output_dtype(call.attrs, call.dtype) : call.dtype;
    const DType dtype = s.index ? DType::i32 : s.stats ? stats_dtype(value_dtype) : value_dtype;
    call.outputs.push_back(OutputPlan{s.name, output_shape(def, s, call), dtype});
  }
  return call;
}

}  // namespace

void set_poison_outputs(bool on) { g_poison = on; }
bool poison_outputs() { return g_poison; }

TensorMap run_op(Backend& backend, const std::string& op_name, const TensorMap& inputs,
                 const std::map<std::string, AttrValue>& attr_values, const std::vector<std::string>& want_outputs) {
  std::map<std::string, TensorDesc> descs;
  for (const auto& [name, t] : inputs) descs[name] = TensorDesc{t.shape, t.dtype};
  // The tensor checks run where they always did, between the plan's own checks,
  // so a call with several mistakes is still told about the same one first.
  InputChecks checks;
  checks.given = [&](const OpDef& def, const std::string& name) {
    if (!inputs.at(name).defined()) throw OpError(def.name + ": input " + name + " is a disposed tensor");
  };
  checks.bound = [&](const OpDef& def, const TensorSig& s) {
    const Tensor& t = inputs.at(s.name);
    if (t.backend != &backend)
      throw OpError(def.name + ": " + s.name + " lives on backend " +
                    (t.backend ? t.backend->name() : std::string("?")) + ", the op runs on " + backend.name() +
                    "; copy it first");
  };
  OpPlan plan = plan_call(op_name, descs, attr_values, want_outputs, &checks);

  if (auto refused = backend.accepts(plan)) throw OpError(*refused);
  const Kernel* kernel = backend.kernel(plan.op->name, plan.dtype);
  if (!kernel)  // a backend whose accepts() said yes without a kernel
    throw OpError("backend " + backend.name() + " has no kernel for " + plan.op->name + " in " +
                  dtype_name(plan.dtype));

  OpCall call;
  call.op = plan.op;
  call.attrs = std::move(plan.attrs);
  call.dims = std::move(plan.dims);
  call.shapes = std::move(plan.shapes);
  call.dtype = plan.dtype;
  call.inputs = inputs;
  for (const auto& out : plan.outputs) {
    Tensor t = backend.empty(out.shape, out.dtype);
    if (poison_outputs()) backend.fill(t, std::numeric_limits<double>::quiet_NaN());
    call.outputs[out.name] = t;
  }
  backend.launch(*kernel, call);
  return call.outputs;
}

OpPlan plan_op(const std::string& op_name, const std::map<std::string, TensorDesc>& inputs,
               const std::map<std::string, AttrValue>& attr_values, const std::vector<std::string>& want_outputs) {
  return plan_call(op_name, inputs, attr_values, want_outputs, nullptr);
}

const Tensor* OpCall::input(const std::string& name) const {
  auto it = inputs.find(name);
  return it == inputs.end() ? nullptr : &it->second;
}

Tensor* OpCall::output(const std::string& name) {
  auto it = outputs.find(name);
  return it == outputs.end() ? nullptr : &it->second;
}

TensorSig* Signature::input(const std::string& name) {
  for (auto& s : inputs)
    if (s.name == name) return &s;
  return nullptr;
}

TensorSig* Signature::output(const std::string& name) {
  for (auto& s : outputs)
    if (s.name == name) return &s;
  return nullptr;
}

const AttrValue& Attrs::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw OpError("attribute " + name + " is not set");
  return it->second;
}
int64_t Attrs::i(const std::string& name) const { return std::get<int64_t>(get(name)); }
double Attrs::f(const std::string& name) const { return std::get<double>(get(name)); }
bool Attrs::b(const std::string& name) const { return std::get<bool>(get(name)); }
const std::string& Attrs::s(const std::string& name) const { return std::get<std::string>(get(name)); }

const OpDef& find_op(std::string_view name) {
  for (const auto& op : op_table())
    if (op.name == name) return op;
  std::vector<std::string> names;
  for (const auto& op : op_table()) names.push_back(op.name);
  throw OpError("unknown op '" + std::string(name) + "'; known ops: " + join(names));
}

}  // namespace linea
