// Short causal depthwise convolution forward and backward.
#include "cpu_backend.h"

namespace linea {

void register_cpu_short_conv_kernels(Backend&) {}

}  // namespace linea
