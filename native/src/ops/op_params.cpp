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

}  // namespace linea
