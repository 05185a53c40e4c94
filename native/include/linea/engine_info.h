// What this build of the native engine is and what it found on this machine.
#pragma once

#include <string>
#include <vector>

#include "linea/backend.h"

namespace linea {

struct EngineInfo {
  std::string version;
  std::vector<std::string> backends_compiled;  // "cpu", "cuda"
  std::string cuda_status;                     // why CUDA is or is not there
  std::vector<DeviceInfo> devices;
  std::string blas;  // "OpenBLAS 0.3.21 (Haswell, 2 threads)", "Accelerate", "none"
  int cpu_threads = 1;
  std::string compiler;
};

EngineInfo engine_info();

}  // namespace linea
