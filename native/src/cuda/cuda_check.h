// Every CUDA call and every launch is checked; failures become OpErrors that
// name the call, the file and line, and CUDA's own message.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "linea/ops.h"

namespace linea {

inline void cuda_check(cudaError_t err, const char* what, const char* file, int line) {
  if (err != cudaSuccess)
    throw OpError(std::string("CUDA error in ") + what + " at " + file + ":" + std::to_string(line) + ": " +
                  cudaGetErrorString(err));
}

}  // namespace linea

#define LINEA_CUDA_CHECK(call) ::linea::cuda_check((call), #call, __FILE__, __LINE__)
#define LINEA_CUDA_CHECK_LAUNCH(name) ::linea::cuda_check(cudaGetLastError(), "launch of " name, __FILE__, __LINE__)
