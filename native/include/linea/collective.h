// Sums of tensors over the processes of a data-parallel run, one process per
// GPU (electron/engine/train/data-parallel.ts). NCCL does the work where the
// engine was built with it (native/src/cuda/nccl/nccl_collective.cu, built
// only where nccl.h and libnccl are found); elsewhere every call but
// collective_available() throws an OpError saying so.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "linea/backend.h"

namespace linea {

class Collective {
 public:
  virtual ~Collective() = default;
  // Sums the tensors (f32, bf16 or f64, on the collective's backend) over the
  // ranks, in place, on a communication stream after the work the backend
  // has enqueued so far; the backend's later work does not wait for it.
  virtual void all_reduce_sum(const std::vector<Tensor>& tensors) = 0;
  // The backend's stream waits (on the device) for every sum enqueued so far.
  virtual void wait() = 0;
};

bool collective_available();
// A new NCCL unique id (128 bytes), for rank 0 to hand to the others.
std::vector<uint8_t> collective_unique_id();
// Joins the run `id` as `rank` of `world` on a CUDA backend; returns once every rank has joined.
std::unique_ptr<Collective> make_collective(Backend& backend, const std::vector<uint8_t>& id, int world, int rank);

}  // namespace linea
