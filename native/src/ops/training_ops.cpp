// Training: cross-entropy, row gather/scatter, elementwise ops, reductions, AdamW.
#include "op_families.h"

namespace linea {

std::vector<OpDef> training_ops() { return {}; }

}  // namespace linea
