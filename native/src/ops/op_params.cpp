// The per-family parameter structs of op_params.h, resolved from a call's
// attributes and dims.
#include "op_params.h"

namespace linea {

AttentionParams attention_params(const Attrs& a, const Dims& dims) {
  AttentionParams p;
  p.scale = resolve_scale(a.f("scale"), dims.at("D"));
  p.window = a.i("window");
  return p;
}

NormParams norm_params(const Attrs& a, const Dims&) {
  NormParams p;
  p.kind = attr_enum<NormKind>(a);
  p.eps = a.f("eps");
  return p;
}

RotaryParams rotary_params(const Attrs& a, const Dims&) {
  RotaryParams p;
  p.base = a.f("base");
  p.offset = a.i("offset");
  p.inverse = a.b("inverse");
  return p;
}

FeatureMapParams feature_map_params(const Attrs& a, const Dims&) {
  FeatureMapParams p;
  p.kind = attr_enum<FeatureMapKind>(a);
  p.eps = a.f("eps");
  return p;
}

ShortConvParams short_conv_params(const Attrs& a, const Dims&) {
  ShortConvParams p;
  p.activation = attr_enum<ConvActivation>(a);
  return p;
}

LinearParams linear_params(const Attrs& a, const Dims&) {
  LinearParams p;
  p.trans_w = a.b("trans_w");
  return p;
}

UnaryParams unary_params(const Attrs& a, const Dims&) {
  UnaryParams p;
  p.kind = attr_enum<UnaryKind>(a);
  p.alpha = a.f("alpha");
  return p;
}

BinaryParams binary_params(const Attrs& a, const Dims&) {
  BinaryParams p;
  p.kind = attr_enum<BinaryKind>(a);
  p.broadcast = a.b("broadcast");
  return p;
}

AccumulateParams accumulate_params(const Attrs& a, const Dims&) {
  AccumulateParams p;
  p.alpha = a.f("alpha");
  return p;
}

CrossEntropyParams cross_entropy_params(const Attrs& a, const Dims&) {
  CrossEntropyParams p;
  p.scale = a.f("scale");
  return p;
}

AdamWParams adamw_params(const Attrs& a, const Dims&) {
  AdamWParams p;
  p.lr = a.f("lr");
  p.beta1 = a.f("beta1");
  p.beta2 = a.f("beta2");
  p.eps = a.f("eps");
  p.weight_decay = a.f("weight_decay");
  p.grad_scale = a.f("grad_scale");
  p.max_norm = a.f("max_norm");
  p.step = a.i("step");
  return p;
}

}  // namespace linea
