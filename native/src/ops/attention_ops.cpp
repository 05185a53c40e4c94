// Softmax attention (hybrid layers): causal, optionally sliding-window.
#include "op_families.h"

namespace linea {

std::vector<OpDef> attention_ops() { return {}; }

}  // namespace linea
