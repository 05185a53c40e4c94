// What a CUDA kernel's host code gets from the backend while it launches: the
// stream every op enqueues on, the device's properties, scratch memory, and
// the device-side error record for checks that need device data (an index
// out of range), reported at the next host read instead of by a sync here.
//
// The backend sets the context for the duration of each launch
// (CudaBackend::launch); `cuda_context()` outside a launch is a bug.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "linea/backend.h"

namespace linea {

// Written by kernels (first error wins: `flag` goes 0 -> 1 with atomicCAS),
// read and cleared by the backend when the host next waits for the device.
struct CudaErrorRecord {
  int flag;
  int tag;           // which check: an index into the backend's tag table
  long long where;   // element position of the bad value
  long long value;   // the bad value
  long long lowest;  // the valid range, inclusive
  long long highest;
};

#ifdef __CUDACC__
// Records an index outside lowest..highest, once per device (the first wins).
__device__ inline void report_index_error(CudaErrorRecord* rec, int tag, long long where, long long value,
                                          long long lowest, long long highest) {
  if (atomicCAS(&rec->flag, 0, 1) == 0) {
    rec->tag = tag;
    rec->where = where;
    rec->value = value;
    rec->lowest = lowest;
    rec->highest = highest;
    __threadfence();
  }
}
#endif

struct CudaContext {
  Backend* backend = nullptr;
  cudaStream_t stream = nullptr;
  int device = 0;
  int sm_count = 0;
  int max_shared_per_block = 0;       // opt-in maximum, bytes
  int compute_capability = 0;         // 90 for sm_90
  CudaErrorRecord* errors = nullptr;  // device memory
  // The tag a kernel passes to report_index_error for "op: tensor" (e.g.
  // "gather_rows: idx"); the message names the op, the tensor, the position,
  // the value and the valid range.
  int (*error_tag)(const std::string& what) = nullptr;

  // Device memory for the duration of the op: stream-ordered, so it may be
  // dropped as soon as the kernels that use it are enqueued.
  Tensor scratch(const Shape& shape, DType dtype) const { return backend->empty(shape, dtype); }
};

// The context of the launch in progress on this thread.
const CudaContext& cuda_context();
// A CUDA backend's context outside a launch (its stream and device, for the
// NCCL collective); throws an OpError for another backend.
const CudaContext& cuda_context_of(Backend& backend);

// Launch geometry for a grid-stride loop over n elements.
inline unsigned grid_for(int64_t n, int threads = 256) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 4 ? 65535 * 4 : blocks));
}

// An optional tensor's data, or null where the call has no such tensor.
template <class T>
T* data_or_null(Tensor* t) {
  return t ? t->data<T>() : nullptr;
}

}  // namespace linea
