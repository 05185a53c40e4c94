// The one registry of ops, assembled from the op families (op_families.h).
// Adding an op: declare it in its family's file, then give each backend a
// kernel for it (src/<backend>/...). Shapes use the symbols
//   B batch, T time, H heads, K key/query head dim, V value head dim,
//   D head dim (softmax attention) or features in (feature maps), E features
//   out, C channels, W convolution taps.
#include <set>

#include "op_families.h"

namespace linea {
namespace {

std::vector<OpDef> build_table() {
  std::vector<OpDef> table;
  for (auto family : {mixer_ops, feature_map_ops, attention_ops, layer_ops, training_ops})
    for (auto& op : family()) table.push_back(std::move(op));
  std::set<std::string> names;
  for (const auto& op : table)
    if (!names.insert(op.name).second) throw OpError("op " + op.name + " is declared twice");
  return table;
}

}  // namespace

const std::vector<OpDef>& op_table() {
  static const std::vector<OpDef> table = build_table();
  return table;
}

}  // namespace linea
