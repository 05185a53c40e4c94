// Each op family declares its ops in its own file; op_table.cpp assembles
// them into the one registry.
#pragma once

#include <vector>

#include "linea/ops.h"

namespace linea {

std::vector<OpDef> mixer_ops();        // mixer_ops.cpp: linear-attention mixers
std::vector<OpDef> feature_map_ops();  // feature_map_ops.cpp: feature maps, short convolution
std::vector<OpDef> attention_ops();    // attention_ops.cpp: softmax attention
std::vector<OpDef> layer_ops();        // layer_ops.cpp: embedding, norms, linear, SwiGLU, rotary
std::vector<OpDef> training_ops();     // training_ops.cpp: loss, rows, elementwise, reductions, AdamW

}  // namespace linea
