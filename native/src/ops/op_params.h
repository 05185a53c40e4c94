// The parameters of one call for the op families other than the mixer
// (mixer_params.h), each resolved once from the call's plan: attribute values
// with the op table's defaults already filled, enums as enums, the scale with
// its head_dim^-1/2 default. Kernels of every backend take these structs and
// read no attribute themselves. Each family has `<family>_params(attrs, dims)`
// and the same from a plan or a call (both carry the resolved attrs and dims).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "linea/ops.h"
#include "op_attrs.h"

namespace linea {

// softmax_attn_fwd, softmax_attn_bwd, softmax_attn_decode
struct AttentionParams {
  double scale = 0;    // the score scale applied: the attribute, or D^-1/2 for its default
  int64_t window = 0;  // 0: full causal attention; w > 0: the last w positions
};
AttentionParams attention_params(const Attrs& attrs, const Dims& dims);

// norm_fwd, norm_bwd
struct NormParams {
  NormKind kind = NormKind::rms;
  double eps = 0;
};
NormParams norm_params(const Attrs& attrs, const Dims& dims);

// rotary_fwd
struct RotaryParams {
  double base = 0;
  int64_t offset = 0;    // position of the first step
  bool inverse = false;  // rotate by -theta
};
RotaryParams rotary_params(const Attrs& attrs, const Dims& dims);

// feature_map_fwd, feature_map_bwd
struct FeatureMapParams {
  FeatureMapKind kind = FeatureMapKind::identity;
  double eps = 0;  // inside the l2 norms
};
FeatureMapParams feature_map_params(const Attrs& attrs, const Dims& dims);

// short_conv_fwd, short_conv_bwd
struct ShortConvParams {
  ConvActivation activation = ConvActivation::none;
};
ShortConvParams short_conv_params(const Attrs& attrs, const Dims& dims);

// linear_fwd, linear_bwd
struct LinearParams {
  bool trans_w = false;  // w stored (out, in)
};
LinearParams linear_params(const Attrs& attrs, const Dims& dims);

// unary_fwd, unary_bwd
struct UnaryParams {
  UnaryKind kind = UnaryKind::identity;
  double alpha = 0;  // y = alpha * f(x)
};
UnaryParams unary_params(const Attrs& attrs, const Dims& dims);

// binary_fwd, binary_bwd
struct BinaryParams {
  BinaryKind kind = BinaryKind::add;
  bool broadcast = false;  // b is one row, broadcast over a's rows
};
BinaryParams binary_params(const Attrs& attrs, const Dims& dims);

// The kind (and broadcast) of a unary or binary call as compile-time
// constants, for the kernels of every backend: fn(std::integral_constant<...>).
template <class Fn>
void with_unary_kind(UnaryKind kind, Fn&& fn) {
  using K = UnaryKind;
  switch (kind) {
    case K::identity: return fn(std::integral_constant<K, K::identity>{});
    case K::silu: return fn(std::integral_constant<K, K::silu>{});
    case K::sigmoid: return fn(std::integral_constant<K, K::sigmoid>{});
    case K::softplus: return fn(std::integral_constant<K, K::softplus>{});
    case K::logsigmoid: return fn(std::integral_constant<K, K::logsigmoid>{});
    case K::exp: return fn(std::integral_constant<K, K::exp>{});
    case K::neg_exp: return fn(std::integral_constant<K, K::neg_exp>{});
  }
}

template <class Fn>
void with_binary_switches(BinaryKind kind, bool broadcast, Fn&& fn) {
  using K = BinaryKind;
  using yes = std::true_type;
  using no = std::false_type;
  if (kind == K::add) {
    if (broadcast) return fn(std::integral_constant<K, K::add>{}, yes{});
    return fn(std::integral_constant<K, K::add>{}, no{});
  }
  if (broadcast) return fn(std::integral_constant<K, K::mul>{}, yes{});
  return fn(std::integral_constant<K, K::mul>{}, no{});
}

// accumulate
struct AccumulateParams {
  double alpha = 0;  // dst += alpha * src
};
AccumulateParams accumulate_params(const Attrs& attrs, const Dims& dims);

// cross_entropy_bwd
struct CrossEntropyParams {
  double scale = 0;  // weight of every row's nll in the loss
};
CrossEntropyParams cross_entropy_params(const Attrs& attrs, const Dims& dims);

// adamw_step
struct AdamWParams {
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0, grad_scale = 0;
  double max_norm = 0;  // clip the global norm read from grad_sq_sum to this (0: no clip)
  int64_t step = 0;
};
AdamWParams adamw_params(const Attrs& attrs, const Dims& dims);
// The clip factor for a step whose gradients' squares sum to grad_sq_sum: 0 when
// their norm is not finite (nothing is updated), else max_norm / norm or 1.
// Host and device (CUDA) code alike.
#ifdef __CUDACC__
__host__ __device__
#endif
    inline double
    adamw_clip_factor(double max_norm, double grad_sq_sum) {
  const double norm = sqrt(grad_sq_sum);
  if (!(norm - norm == 0)) return 0;  // inf or NaN
  return max_norm > 0 && norm > max_norm ? max_norm / norm : 1;
}

// The same from an OpPlan or an OpCall.
template <class PlanOrCall>
AttentionParams attention_params(const PlanOrCall& c) {
  return attention_params(c.attrs, c.dims);
}
template <class PlanOrCall>
NormParams norm_params(const PlanOrCall& c) {
  return norm_params(c.attrs, c.dims);
}
template <class PlanOrCall>
RotaryParams rotary_params(const PlanOrCall& c) {
  return rotary_params(c.attrs, c.dims);
}
template <class PlanOrCall>
FeatureMapParams feature_map_params(const PlanOrCall& c) {
  return feature_map_params(c.attrs, c.dims);
}
template <class PlanOrCall>
ShortConvParams short_conv_params(const PlanOrCall& c) {
  return short_conv_params(c.attrs, c.dims);
}
template <class PlanOrCall>
LinearParams linear_params(const PlanOrCall& c) {
  return linear_params(c.attrs, c.dims);
}
template <class PlanOrCall>
UnaryParams unary_params(const PlanOrCall& c) {
  return unary_params(c.attrs, c.dims);
}
template <class PlanOrCall>
BinaryParams binary_params(const PlanOrCall& c) {
  return binary_params(c.attrs, c.dims);
}
template <class PlanOrCall>
AccumulateParams accumulate_params(const PlanOrCall& c) {
  return accumulate_params(c.attrs, c.dims);
}
template <class PlanOrCall>
CrossEntropyParams cross_entropy_params(const PlanOrCall& c) {
  return cross_entropy_params(c.attrs, c.dims);
}
template <class PlanOrCall>
AdamWParams adamw_params(const PlanOrCall& c) {
  return adamw_params(c.attrs, c.dims);
}

}  // namespace linea
