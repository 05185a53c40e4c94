// The collective calls (linea/collective.h) through NCCL: a thin wrapper,
// built only where nccl.h and libnccl are found (native/CMakeLists.txt); the
// build machine has neither, so CI compiles it only when the header is there
// (scripts/check-cuda-compiles.sh) and the GPU box builds and runs it.
//
// Each rank's sums run on its own communication stream: a bucket waits (on
// the device) for the work its backend enqueued before it, then its
// all-reduces go out as one NCCL group while the backend's stream goes on
// with the rest of the backward; wait() makes the backend's stream wait for
// the last bucket before the optimizer reads the gradients.
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstring>
#include <string>

#include "../cuda_check.h"
#include "../cuda_context.h"
#include "linea/collective.h"

namespace linea {
namespace {

void check_nccl(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw OpError(std::string("NCCL ") + what + ": " + ncclGetErrorString(r));
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::bf16: return ncclBfloat16;
    default: break;
  }
  throw OpError(std::string("NCCL all-reduce: dtype ") + dtype_name(dtype) + " is not summed (f32, f64, bf16 are)");
}

class NcclCollective final : public Collective {
 public:
  NcclCollective(Backend& backend, const std::vector<uint8_t>& id, int world, int rank)
      : backend_(backend), context_(cuda_context_of(backend)) {
    if (id.size() != sizeof(ncclUniqueId)) throw OpError("NCCL id: expected 128 bytes");
    if (world < 1 || rank < 0 || rank >= world)
      throw OpError("NCCL: rank " + std::to_string(rank) + " is not in 0.." + std::to_string(world - 1));
    ncclUniqueId uid;
    std::memcpy(&uid, id.data(), sizeof(uid));
    LINEA_CUDA_CHECK(cudaSetDevice(context_.device));
    LINEA_CUDA_CHECK(cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking));
    LINEA_CUDA_CHECK(cudaEventCreateWithFlags(&produced_, cudaEventDisableTiming));
    LINEA_CUDA_CHECK(cudaEventCreateWithFlags(&reduced_, cudaEventDisableTiming));
    check_nccl(ncclCommInitRank(&comm_, world, uid, rank), "ncclCommInitRank");
  }

  ~NcclCollective() override {
    cudaSetDevice(context_.device);
    cudaStreamSynchronize(comm_stream_);
    ncclCommDestroy(comm_);
    cudaEventDestroy(produced_);
    cudaEventDestroy(reduced_);
    cudaStreamDestroy(comm_stream_);
  }

  void all_reduce_sum(const std::vector<Tensor>& tensors) override {
    LINEA_CUDA_CHECK(cudaSetDevice(context_.device));
    LINEA_CUDA_CHECK(cudaEventRecord(produced_, context_.stream));
    LINEA_CUDA_CHECK(cudaStreamWaitEvent(comm_stream_, produced_, 0));
    check_nccl(ncclGroupStart(), "ncclGroupStart");
    for (const Tensor& t : tensors) {
      if (t.backend != &backend_) throw OpError("NCCL all-reduce: a tensor of another backend");
      void* p = t.buffer->data;
      check_nccl(ncclAllReduce(p, p, static_cast<size_t>(t.numel()), nccl_type(t.dtype), ncclSum, comm_, comm_stream_),
                 "ncclAllReduce");
    }
    check_nccl(ncclGroupEnd(), "ncclGroupEnd");
    LINEA_CUDA_CHECK(cudaEventRecord(reduced_, comm_stream_));
    pending_ = true;
  }

  void wait() override {
    if (!pending_) return;
    LINEA_CUDA_CHECK(cudaSetDevice(context_.device));
    LINEA_CUDA_CHECK(cudaStreamWaitEvent(context_.stream, reduced_, 0));
    pending_ = false;
  }

 private:
  Backend& backend_;
  const CudaContext& context_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t comm_stream_ = nullptr;
  cudaEvent_t produced_ = nullptr, reduced_ = nullptr;
  bool pending_ = false;
};

}  // namespace

bool collective_available() { return true; }

std::vector<uint8_t> collective_unique_id() {
  ncclUniqueId uid;
  check_nccl(ncclGetUniqueId(&uid), "ncclGetUniqueId");
  std::vector<uint8_t> out(sizeof(uid));
  std::memcpy(out.data(), &uid, sizeof(uid));
  return out;
}

std::unique_ptr<Collective> make_collective(Backend& backend, const std::vector<uint8_t>& id, int world, int rank) {
  return std::make_unique<NcclCollective>(backend, id, world, rank);
}

}  // namespace linea
