// Feature maps on q and k, and the short causal depthwise convolution.
#include "op_families.h"

namespace linea {

std::vector<OpDef> feature_map_ops() { return {}; }

}  // namespace linea
