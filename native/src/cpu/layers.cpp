// Model layers on the CPU: embedding, norms, linear, SwiGLU, rotary.
#include "cpu_backend.h"

namespace linea {

void register_cpu_layer_kernels(Backend&) {}

}  // namespace linea
