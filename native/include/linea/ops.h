// The op table: every op's inputs, attributes and outputs, declared once.
//
// An op declares its tensors with symbolic shapes ("B,T,H,K"): the dispatcher
// binds each symbol from the first tensor that carries it and checks every
// other tensor against it, so a kernel never sees a mis-shaped input and an
// error always names the tensor, its shape and the expected one. Attributes
// are typed, with defaults, enum values and ranges. A `specialize` hook lets
// attributes (and which inputs were given) change the signature (e.g. gate kind "vector" makes `g` a
// required [B,T,H,K] input). A call is first planned without tensors or a
// backend (plan_op), then launched on a backend that accepts the plan; a
// backend refuses an op it lacks instead of falling back.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "linea/tensor.h"

namespace linea {

// Thrown for every caller mistake (bad shape, dtype, attribute, op name).
// The message names the bad value and what would be valid.
struct OpError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Presence : uint8_t { required, optional, absent };

// A tensor of an op's signature. `shape` lists symbolic dims, comma
// separated ("B,T,H,K"); a leading "*S" binds any number of leading dims to
// the shape symbol S ("*S" alone: any shape; "*S,D": any shape, last dim D).
// Index tensors (token ids, labels) are i32 whatever the op's dtype; `stats`
// tensors are f32 in a bf16 or f16 op.
struct TensorSig {
  std::string name;
  std::string shape;
  Presence presence = Presence::required;
  std::string doc;
  std::string absent_reason;  // set by `specialize` when it makes a tensor absent
  bool index = false;
  // Statistics and losses (row rstd, log-sum-exp, nll, a sum of squares):
  // f32 when the op runs in bf16 or f16, the op's dtype otherwise, so a
  // backward that reads them back loses nothing to 16-bit rounding.
  bool stats = false;
};

// The dtype of a `stats` tensor in an op running in `dtype`.
inline DType stats_dtype(DType dtype) { return is_16bit(dtype) ? DType::f32 : dtype; }

using AttrValue = std::variant<int64_t, double, bool, std::string>;

enum class AttrType : uint8_t { int_, float_, bool_, enum_ };

struct AttrDef {
  std::string name;
  AttrType type;
  AttrValue default_value;
  std::vector<std::string> choices;  // enum_ only
  double min = -1e300, max = 1e300;  // int_ / float_ only, inclusive
  std::string doc;
};

class Attrs {
 public:
  int64_t i(const std::string& name) const;
  double f(const std::string& name) const;
  bool b(const std::string& name) const;
  const std::string& s(const std::string& name) const;
  const std::map<std::string, AttrValue>& all() const { return values_; }
  void set(const std::string& name, AttrValue value) { values_[name] = std::move(value); }

 private:
  const AttrValue& get(const std::string& name) const;
  std::map<std::string, AttrValue> values_;
};

struct Signature {
  std::vector<TensorSig> inputs;
  std::vector<TensorSig> outputs;
  TensorSig* input(const std::string& name);
  TensorSig* output(const std::string& name);
};

using Dims = std::map<std::string, int64_t>;
using ShapeSymbols = std::map<std::string, Shape>;

struct OpDef {
  std::string name;
  std::string doc;
  Signature signature;
  std::vector<AttrDef> attrs;
  std::vector<DType> dtypes;
  // Adjusts the signature to the attributes and to which inputs were given
  // (presence, shapes). May throw OpError.
  std::function<void(const Attrs&, const std::set<std::string>& given, Signature&)> specialize;
  // Checks relations the symbolic shapes cannot express and binds dims that
  // come from attributes rather than inputs. May throw OpError.
  std::function<void(const Attrs&, Dims&)> check;
  // The dtype of the value outputs, when it is not the inputs' (cast). Index
  // outputs are i32 regardless.
  std::function<DType(const Attrs&, DType inputs)> output_dtype;
};

const std::vector<OpDef>& op_table();
// Throws OpError listing the known ops. The name is a string_view so that a
// literal creates no temporary std::string the result could seem to refer to
// (GCC 13's -Wdangling-reference).
const OpDef& find_op(std::string_view name);

// Named tensors in and out of one op call. Absent optional inputs are missing keys.
using TensorMap = std::map<std::string, Tensor>;

// What planning needs of an input: its shape and dtype, no memory.
struct TensorDesc {
  Shape shape;
  DType dtype = DType::f32;
};

// One output a call produces: its name, shape and dtype.
struct OutputPlan {
  std::string name;
  Shape shape;
  DType dtype = DType::f32;
};

// A call validated against its OpDef, with no tensors and no backend: the
// resolved attributes (defaults filled), the signature as `specialize` left it,
// the bound dims and shape symbols, the op's dtype and the outputs to allocate
// (in signature order).
struct OpPlan {
  const OpDef* op = nullptr;
  Attrs attrs;
  Signature signature;
  Dims dims;
  ShapeSymbols shapes;
  DType dtype = DType::f32;
  std::map<std::string, TensorDesc> inputs;
  std::vector<OutputPlan> outputs;
};

// Everything run_op checks that needs no tensor and no backend: attributes,
// `specialize`, input presence, dtypes and shapes, `check`, the requested
// outputs and their shapes. Throws the same OpError run_op would.
OpPlan plan_op(const std::string& op_name, const std::map<std::string, TensorDesc>& inputs,
               const std::map<std::string, AttrValue>& attrs, const std::vector<std::string>& want_outputs = {});

struct OpCall {
  const OpDef* op = nullptr;
  Attrs attrs;
  Dims dims;
  ShapeSymbols shapes;  // bound "*S" symbols
  TensorMap inputs;
  TensorMap outputs;
  DType dtype = DType::f32;

  const Tensor* input(const std::string& name) const;  // nullptr when absent
  Tensor* output(const std::string& name);             // nullptr when not requested
};

class Backend;

// Plans the call (plan_op; the tensors must be live and on `backend`), asks
// the backend whether it accepts the plan (Backend::accepts), allocates the
// planned outputs and launches the kernel (Backend::launch). `want_outputs`
// names optional outputs the caller asks for; required outputs are always
// produced.
TensorMap run_op(Backend& backend, const std::string& op_name, const TensorMap& inputs,
                 const std::map<std::string, AttrValue>& attrs, const std::vector<std::string>& want_outputs = {});

// When on, every output is filled with NaN before its kernel runs, so an
// element a kernel forgets to write shows up in tests.
void set_poison_outputs(bool on);
bool poison_outputs();

}  // namespace linea
