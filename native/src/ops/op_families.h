// Each op family declares its ops in its own file; op_table.cpp assembles
// them into the one registry.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "linea/ops.h"
#include "op_attrs.h"

namespace linea {

// Attribute declarations, one helper per type: name, default, then the
// range (inclusive), then the doc. An enum attribute's name and choices come
// from its AttrEnum table (op_attrs.h): only its default and doc are given.
inline AttrDef int_attr(std::string name, int64_t value, double min, double max, std::string doc) {
  return {std::move(name), AttrType::int_, value, {}, min, max, std::move(doc)};
}
inline AttrDef float_attr(std::string name, double value, double min, double max, std::string doc) {
  return {std::move(name), AttrType::float_, value, {}, min, max, std::move(doc)};
}
inline AttrDef bool_attr(std::string name, bool value, std::string doc) {
  return {std::move(name), AttrType::bool_, value, {}, 0, 0, std::move(doc)};
}
template <class E>
AttrDef enum_attr(E value, std::string doc) {
  return {AttrEnum<E>::attr, AttrType::enum_, std::string(attr_enum_name(value)), attr_enum_names<E>(), 0, 0,
          std::move(doc)};
}

std::vector<OpDef> mixer_ops();        // mixer_ops.cpp: linear-attention mixers
std::vector<OpDef> feature_map_ops();  // feature_map_ops.cpp: feature maps, short convolution
std::vector<OpDef> attention_ops();    // attention_ops.cpp: softmax attention
std::vector<OpDef> layer_ops();        // layer_ops.cpp: embedding, norms, linear, SwiGLU, rotary
std::vector<OpDef> training_ops();     // training_ops.cpp: loss, rows, elementwise, reductions, AdamW

}  // namespace linea
