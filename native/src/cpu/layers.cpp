// Model layers on the CPU: embedding, norms, linear, SwiGLU, rotary.
//
// One kernel family per file (layer_*.cpp), each with its own registration
// function; this file registers them all with the CPU backend.
#include "cpu_backend.h"

namespace linea {

// Defined in the layer_*.cpp files; only this file calls them.
void register_cpu_embedding_kernels(Backend& backend);  // layer_embedding.cpp
void register_cpu_norm_kernels(Backend& backend);       // layer_norm.cpp
void register_cpu_linear_kernels(Backend& backend);     // layer_linear.cpp
void register_cpu_swiglu_kernels(Backend& backend);     // layer_swiglu.cpp
void register_cpu_rotary_kernels(Backend& backend);     // layer_rotary.cpp

void register_cpu_layer_kernels(Backend& backend) {
  register_cpu_embedding_kernels(backend);
  register_cpu_norm_kernels(backend);
  register_cpu_linear_kernels(backend);
  register_cpu_swiglu_kernels(backend);
  register_cpu_rotary_kernels(backend);
}

}  // namespace linea
