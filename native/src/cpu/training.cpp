// Training ops on the CPU: cross-entropy, rows, elementwise, reductions, AdamW.
//
// The kernels live in training_loss.cpp, training_rows.cpp,
// training_elementwise.cpp, training_optimizer.cpp and training_cast.cpp; this file registers
// them and holds the index check they share (training_common.h).
#include "cpu_backend.h"
#include "training_common.h"

namespace linea {

namespace training {

void check_indices(const std::string& op, const std::string& tensor, const int32_t* idx, int64_t n, int64_t lowest,
                   int64_t highest, const std::string& note) {
  for (int64_t i = 0; i < n; ++i) {
    if (idx[i] >= lowest && idx[i] <= highest) continue;
    throw OpError(op + ": " + tensor + "[" + std::to_string(i) + "] = " + std::to_string(idx[i]) + " is outside " +
                  std::to_string(lowest) + ".." + std::to_string(highest) + (note.empty() ? "" : " " + note));
  }
}

}  // namespace training

void register_cpu_training_kernels(Backend& backend) {
  register_cpu_loss_kernels(backend);
  register_cpu_rows_kernels(backend);
  register_cpu_elementwise_kernels(backend);
  register_cpu_optimizer_kernels(backend);
  register_cpu_cast_kernels(backend);
}

}  // namespace linea
