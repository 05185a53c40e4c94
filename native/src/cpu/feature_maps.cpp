// Feature maps (identity, elu+1, relu, silu, silu+l2norm, taylor2) forward and backward.
#include "cpu_backend.h"

namespace linea {

void register_cpu_feature_map_kernels(Backend&) {}

}  // namespace linea
