// Prints what this build of the native engine is and what it found, without
// Node (for the GPU box and for bug reports).
#include <cstdio>

#include "linea/engine_info.h"

int main() {
  const auto info = linea::engine_info();
  std::printf("Linea engine %s (%s)\n", info.version.c_str(), info.compiler.c_str());
  std::printf("backends compiled:");
  for (const auto& b : info.backends_compiled) std::printf(" %s", b.c_str());
  std::printf("\nCUDA: %s\nBLAS: %s\ndevices:\n", info.cuda_status.c_str(), info.blas.c_str());
  for (const auto& d : info.devices)
    std::printf("  %-8s %s, %.1f GiB, %s\n",
                (d.backend == "cpu" ? std::string("cpu") : d.backend + ":" + std::to_string(d.index)).c_str(),
                d.name.c_str(), d.memory_bytes / 1073741824.0, d.detail.c_str());
  std::printf("ops:\n");
  for (const auto& op : linea::op_table()) {
    std::printf("  %-24s", op.name.c_str());
    for (const auto& b : linea::backend_names()) {
      std::printf(" %s:", b.c_str());
      for (auto dt : op.dtypes)
        if (linea::get_backend(b).kernel(op.name, dt)) std::printf(" %s", linea::dtype_name(dt));
    }
    std::printf("\n");
  }
  return 0;
}
