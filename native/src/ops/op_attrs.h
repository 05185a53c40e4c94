// Attribute values whose meaning both the op table and the kernels of every
// backend need, defined once: the `scale` default of the mixer and softmax
// attention ops, and every enum attribute (its C++ enum and the one table of
// its names). Header-only, so CUDA sources can include it as well.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "linea/ops.h"

namespace linea {

// ---- scale -------------------------------------------------------------------

// The `scale` attribute's default, which means "head_dim^-1/2".
constexpr double kDefaultScale = 0.0;

// The `scale` attribute of an op whose query/key head dim is the shape symbol
// `head_dim` ("K" for the mixers, "D" for softmax attention).
inline AttrDef scale_attr(const std::string& what, const std::string& head_dim, double max) {
  return {"scale", AttrType::float_, kDefaultScale, {}, 0.0, max, what + "; 0 means " + head_dim + "^-1/2"};
}

// The scale a kernel applies: the attribute, or head_dim^-1/2 for its default.
inline double resolve_scale(double scale, int64_t head_dim) {
  return scale == kDefaultScale ? 1.0 / std::sqrt(static_cast<double>(head_dim)) : scale;
}

// ---- enum attributes ---------------------------------------------------------
//
// Every enum attribute is a C++ enum E plus AttrEnum<E>: the attribute's name
// (`attr`), what its values are (`what`, for messages) and `names`, indexed by
// E. That one table is where each name <-> value pair is written: the op table
// takes the attribute's choices and the spelling of its default from it
// (enum_attr<E> in op_families.h), the dispatcher validates calls against
// those choices, and each family's params (mixer_params.h, op_params.h) turn
// the call's string into E with attr_enum<E> for the kernels.
// Adding a value is one edit here (append it to the enum and to `names`, and
// make it `last`), plus the kernels that implement it.

template <class E>
struct AttrEnum;  // specialized below, once per enum attribute

// Number of values of E; every value, 0 to last, has exactly one name.
template <class E>
constexpr size_t attr_enum_count() {
  constexpr size_t n = std::size(AttrEnum<E>::names);
  static_assert(n == size_t(AttrEnum<E>::last) + 1, "AttrEnum<E>::names needs one name per value of E");
  return n;
}

template <class E>
const char* attr_enum_name(E value) {
  static_assert(attr_enum_count<E>() > 0);
  return AttrEnum<E>::names[size_t(value)];
}

// The attribute's choices, in enum order.
template <class E>
std::vector<std::string> attr_enum_names() {
  static_assert(attr_enum_count<E>() > 0);
  return {std::begin(AttrEnum<E>::names), std::end(AttrEnum<E>::names)};
}

// The call's value of E's attribute. The dispatcher has already checked it
// against the op's choices, which come from this table, so a miss is a bug (a
// params function reading an attribute its op declares with another table),
// not a caller's mistake.
template <class E>
E attr_enum(const Attrs& attrs) {
  const std::string& name = attrs.s(AttrEnum<E>::attr);
  for (size_t i = 0; i < attr_enum_count<E>(); ++i)
    if (name == AttrEnum<E>::names[i]) return E(i);
  std::string valid;
  for (const char* n : AttrEnum<E>::names) valid += (valid.empty() ? "" : ", ") + std::string(n);
  throw std::logic_error(std::string("attribute ") + AttrEnum<E>::attr + " = '" + name +
                         "' passed the op table's check but is not a " + AttrEnum<E>::what + "; valid: " + valid);
}

// ---- feature maps (feature_map_fwd / feature_map_bwd) ------------------------

enum class FeatureMapKind : uint8_t { identity, elu1, relu, silu, l2norm, silu_l2norm, taylor2 };
template <>
struct AttrEnum<FeatureMapKind> {
  static constexpr const char* attr = "kind";
  static constexpr const char* what = "feature map kind";
  static constexpr const char* names[] = {"identity", "elu1", "relu", "silu", "l2norm", "silu_l2norm", "taylor2"};
  static constexpr FeatureMapKind last = FeatureMapKind::taylor2;
};

// Features out of a map of D features in: E = 1 + D + D² for taylor2, else D.
inline int64_t feature_map_out_dim(FeatureMapKind kind, int64_t D) {
  return kind == FeatureMapKind::taylor2 ? 1 + D + D * D : D;
}

// ---- short convolution (short_conv_fwd / short_conv_bwd) ---------------------

enum class ConvActivation : uint8_t { none, silu };
template <>
struct AttrEnum<ConvActivation> {
  static constexpr const char* attr = "activation";
  static constexpr const char* what = "short conv activation";
  static constexpr const char* names[] = {"none", "silu"};
  static constexpr ConvActivation last = ConvActivation::silu;
};

// The dtype `cast` converts to (values only: indices stay i32).
enum class CastTarget : uint8_t { f32, f64, bf16, f16 };
template <>
struct AttrEnum<CastTarget> {
  static constexpr const char* attr = "to";
  static constexpr const char* what = "cast target dtype";
  static constexpr const char* names[] = {"f32", "f64", "bf16", "f16"};
  static constexpr CastTarget last = CastTarget::f16;
};
inline DType cast_target_dtype(CastTarget to) {
  switch (to) {
    case CastTarget::f64: return DType::f64;
    case CastTarget::bf16: return DType::bf16;
    case CastTarget::f16: return DType::f16;
    case CastTarget::f32: break;
  }
  return DType::f32;
}

// ---- mixer switches (mixer_fwd / mixer_bwd) ----------------------------------

enum class MixerForm : uint8_t { recurrent, chunked };
template <>
struct AttrEnum<MixerForm> {
  static constexpr const char* attr = "form";
  static constexpr const char* what = "mixer form";
  static constexpr const char* names[] = {"recurrent", "chunked"};
  static constexpr MixerForm last = MixerForm::chunked;
};

// The forget gate g (log decay): none, per head, per step, or per key dim.
enum class MixerGate : uint8_t { none, fixed, scalar, vector };
template <>
struct AttrEnum<MixerGate> {
  static constexpr const char* attr = "gate";
  static constexpr const char* what = "mixer gate";
  static constexpr const char* names[] = {"none", "fixed", "scalar", "vector"};
  static constexpr MixerGate last = MixerGate::vector;
};

// The input gate's write weight w = f(i).
enum class MixerInputGate : uint8_t { none, sigmoid, softplus, exp };
template <>
struct AttrEnum<MixerInputGate> {
  static constexpr const char* attr = "input_gate";
  static constexpr const char* what = "mixer input gate";
  static constexpr const char* names[] = {"none", "sigmoid", "softplus", "exp"};
  static constexpr MixerInputGate last = MixerInputGate::exp;
};

// The output's denominator.
enum class MixerNormalize : uint8_t { none, sum, max1 };
template <>
struct AttrEnum<MixerNormalize> {
  static constexpr const char* attr = "normalize";
  static constexpr const char* what = "mixer normalize";
  static constexpr const char* names[] = {"none", "sum", "max1"};
  static constexpr MixerNormalize last = MixerNormalize::max1;
};

// ---- norms (norm_fwd / norm_bwd) ---------------------------------------------

enum class NormKind : uint8_t { rms, layer };
template <>
struct AttrEnum<NormKind> {
  static constexpr const char* attr = "kind";
  static constexpr const char* what = "norm kind";
  static constexpr const char* names[] = {"rms", "layer"};
  static constexpr NormKind last = NormKind::layer;
};

// ---- elementwise (unary_fwd / unary_bwd, binary_fwd / binary_bwd) ------------

enum class UnaryKind : uint8_t { identity, silu, sigmoid, softplus, logsigmoid, exp, neg_exp };
template <>
struct AttrEnum<UnaryKind> {
  static constexpr const char* attr = "kind";
  static constexpr const char* what = "unary kind";
  static constexpr const char* names[] = {"identity", "silu", "sigmoid", "softplus", "logsigmoid", "exp", "neg_exp"};
  static constexpr UnaryKind last = UnaryKind::neg_exp;
};

enum class BinaryKind : uint8_t { add, mul };
template <>
struct AttrEnum<BinaryKind> {
  static constexpr const char* attr = "kind";
  static constexpr const char* what = "binary kind";
  static constexpr const char* names[] = {"add", "mul"};
  static constexpr BinaryKind last = BinaryKind::mul;
};

}  // namespace linea
