// Model layers: embedding, RMS/layer norm, linear, SwiGLU, rotary positions.
#include "op_families.h"

namespace linea {

std::vector<OpDef> layer_ops() { return {}; }

}  // namespace linea
