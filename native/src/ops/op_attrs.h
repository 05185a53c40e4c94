// Attribute values whose meaning both the op table and the kernels of every
// backend need, defined once: the `scale` default of the mixer and softmax
// attention ops, and the feature-map kinds. Header-only, so CUDA sources can
// include it as well.
#pragma once

#include <cmath>
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

// ---- feature-map kinds -------------------------------------------------------

enum class FeatureMapKind : uint8_t { identity, elu1, relu, silu, l2norm, silu_l2norm, taylor2 };

// The `kind` attribute's values, indexed by FeatureMapKind.
inline constexpr const char* kFeatureMapKindNames[] = {"identity", "elu1",        "relu",   "silu",
                                                       "l2norm",   "silu_l2norm", "taylor2"};
static_assert(std::size(kFeatureMapKindNames) == size_t(FeatureMapKind::taylor2) + 1, "one name per FeatureMapKind");

inline const char* feature_map_kind_name(FeatureMapKind kind) { return kFeatureMapKindNames[size_t(kind)]; }

inline std::vector<std::string> feature_map_kind_names() {
  return {std::begin(kFeatureMapKindNames), std::end(kFeatureMapKindNames)};
}

// The call's `kind` attribute. The dispatcher has already checked it against
// feature_map_kind_names(), so a miss is a bug, not a caller's mistake.
inline FeatureMapKind feature_map_kind(const Attrs& attrs) {
  const std::string& name = attrs.s("kind");
  for (size_t i = 0; i < std::size(kFeatureMapKindNames); ++i)
    if (name == kFeatureMapKindNames[i]) return FeatureMapKind(i);
  throw std::logic_error("feature map kind '" + name + "' passed the op table but is not a FeatureMapKind");
}

// Features out of a map of D features in: E = 1 + D + D² for taylor2, else D.
inline int64_t feature_map_out_dim(FeatureMapKind kind, int64_t D) {
  return kind == FeatureMapKind::taylor2 ? 1 + D + D * D : D;
}

}  // namespace linea
