// Training ops on the CPU: cross-entropy, rows, elementwise, reductions, AdamW.
#include "cpu_backend.h"

namespace linea {

void register_cpu_training_kernels(Backend&) {}

}  // namespace linea
