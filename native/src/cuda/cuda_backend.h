// The CUDA backend: one Backend per visible device, device memory from
// cudaMalloc, kernels registered per op family.
#pragma once

#include <memory>
#include <vector>

#include "linea/backend.h"

namespace linea {

// One backend per CUDA device found; empty when there is no driver or device.
std::vector<std::unique_ptr<Backend>> make_cuda_backends();

void register_cuda_mixer_kernels(Backend& backend);

}  // namespace linea
