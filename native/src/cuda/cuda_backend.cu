#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_backend.h"
#include "cuda_check.h"
#include "cuda_context.h"
#include "cuda_types.cuh"

namespace linea {
namespace {

thread_local const CudaContext* g_current = nullptr;

// "op: tensor" strings kernels name their index checks by (CudaContext::error_tag).
std::mutex g_tags_mutex;
std::vector<std::string>& error_tags() {
  static auto* tags = new std::vector<std::string>();
  return *tags;
}

int error_tag(const std::string& what) {
  std::lock_guard<std::mutex> lock(g_tags_mutex);
  auto& tags = error_tags();
  for (size_t i = 0; i < tags.size(); ++i)
    if (tags[i] == what) return static_cast<int>(i);
  tags.push_back(what);
  return static_cast<int>(tags.size() - 1);
}

template <class T>
__global__ void fill_kernel(T* data, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    data[i] = value;
}

class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    cudaGetDevice(&previous_);
    if (previous_ != device) LINEA_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() {
    int now = 0;
    cudaGetDevice(&now);
    if (now != previous_) cudaSetDevice(previous_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    DeviceGuard guard(device_);
    LINEA_CUDA_CHECK(cudaGetDeviceProperties(&props_, device));
    LINEA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    // The device's default pool keeps what is freed (release threshold: all),
    // so steady-state training allocates from cache; trim_cache gives it back.
    LINEA_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&pool_, device_));
    uint64_t keep_all = UINT64_MAX;
    LINEA_CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep_all));
    LINEA_CUDA_CHECK(cudaMalloc(&errors_, sizeof(CudaErrorRecord)));
    LINEA_CUDA_CHECK(cudaMemset(errors_, 0, sizeof(CudaErrorRecord)));
    context_.backend = this;
    context_.stream = stream_;
    context_.device = device_;
    context_.sm_count = props_.multiProcessorCount;
    context_.max_shared_per_block = static_cast<int>(props_.sharedMemPerBlockOptin);
    context_.compute_capability = props_.major * 10 + props_.minor;
    context_.errors = errors_;
    context_.error_tag = &error_tag;
    register_cuda_mixer_kernels(*this);
    register_cuda_attention_kernels(*this);
    register_cuda_layer_kernels(*this);
    register_cuda_feature_map_kernels(*this);
    register_cuda_training_kernels(*this);
    register_cuda_linear_kernels(*this);
  }

  std::string name() const override { return "cuda:" + std::to_string(device_); }
  const CudaContext& context() const { return context_; }
  DeviceKind device() const override { return DeviceKind::cuda; }

  DeviceInfo info() const override {
    DeviceInfo d;
    d.backend = "cuda";
    d.index = device_;
    d.name = props_.name;
    d.memory_bytes = static_cast<int64_t>(props_.totalGlobalMem);
    {
      DeviceGuard guard(device_);
      size_t free = 0, total = 0;
      if (cudaMemGetInfo(&free, &total) == cudaSuccess) d.free_bytes = static_cast<int64_t>(free);
      else cudaGetLastError();  // unknown: left to the host
    }
    int runtime = 0, driver = 0;
    cudaRuntimeGetVersion(&runtime);
    cudaDriverGetVersion(&driver);
    d.detail = "sm_" + std::to_string(props_.major) + std::to_string(props_.minor) + ", " +
               std::to_string(props_.multiProcessorCount) + " SMs, runtime " + std::to_string(runtime / 1000) + "." +
               std::to_string(runtime % 1000 / 10) + ", driver " + std::to_string(driver / 1000) + "." +
               std::to_string(driver % 1000 / 10);
    return d;
  }

  Tensor empty(const Shape& shape, DType dtype) override {
    DeviceGuard guard(device_);
    Tensor t;
    t.shape = shape;
    t.dtype = dtype;
    t.backend = this;
    const size_t bytes = t.bytes();
    void* data = nullptr;
    cudaError_t err = cudaMallocAsync(&data, bytes == 0 ? 1 : bytes, pool_, stream_);
    if (err == cudaErrorMemoryAllocation) {
      // The pool may hold freed blocks of the wrong sizes: return them and try once more.
      cudaGetLastError();
      LINEA_CUDA_CHECK(cudaStreamSynchronize(stream_));
      LINEA_CUDA_CHECK(cudaMemPoolTrimTo(pool_, 0));
      err = cudaMallocAsync(&data, bytes == 0 ? 1 : bytes, pool_, stream_);
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      size_t free_bytes = 0, total = 0;
      cudaMemGetInfo(&free_bytes, &total);
      throw OpError(
          "CUDA out of memory on " + name() + ": asked for " + std::to_string(bytes) + " bytes for a tensor of shape " +
          shape_str(shape) + " (" + dtype_name(dtype) + "), with " + std::to_string(memory().bytes_in_use) +
          " bytes in Linea's tensors and " + std::to_string(free_bytes) + " of " + std::to_string(total) +
          " bytes free on the device; use a smaller batch, sequence or model (" + cudaGetErrorString(err) + ")");
    }
    auto buffer = std::make_shared<Buffer>();
    buffer->data = data;
    buffer->bytes = bytes;
    buffer->device = DeviceKind::cuda;
    buffer->release = [this](void* p, size_t n) {
      DeviceGuard g(device_);
      cudaFreeAsync(p, stream_);  // ordered after every kernel enqueued so far: no wait
      count_free(n);
    };
    count_alloc(bytes);
    t.buffer = std::move(buffer);
    return t;
  }

  void copy_from_host(Tensor& dst, const void* src, size_t bytes) override {
    check_copy_size(dst, bytes);
    DeviceGuard guard(device_);
    // From pageable memory the copy has read `src` when the call returns.
    if (bytes) LINEA_CUDA_CHECK(cudaMemcpyAsync(dst.buffer->data, src, bytes, cudaMemcpyHostToDevice, stream_));
  }

  void copy_to_host(const Tensor& src, void* dst, size_t bytes) override {
    check_copy_size(src, bytes);
    DeviceGuard guard(device_);
    if (bytes) LINEA_CUDA_CHECK(cudaMemcpyAsync(dst, src.buffer->data, bytes, cudaMemcpyDeviceToHost, stream_));
    wait();
  }

  // Into page-locked memory (a copy to pageable memory would wait for the whole
  // stream), followed by an event that wait() blocks on.
  std::unique_ptr<PendingCopy> copy_to_host_later(const Tensor& src, size_t bytes) override;

  // A CUDA event in the stream: the profiler's per-op time is the GPU's, with no sync per op.
  std::shared_ptr<TimingEvent> record_event() override;

  // Page-locked host buffers for copy_to_host_later, reused: cudaFreeHost would
  // synchronize the device.
  std::pair<void*, size_t> take_pinned(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(pinned_mutex_);
      for (size_t i = 0; i < pinned_free_.size(); ++i)
        if (pinned_free_[i].second >= bytes) {
          auto buf = pinned_free_[i];
          pinned_free_.erase(pinned_free_.begin() + static_cast<std::ptrdiff_t>(i));
          return buf;
        }
    }
    const size_t size = std::max<size_t>(bytes, 4096);
    void* p = nullptr;
    LINEA_CUDA_CHECK(cudaMallocHost(&p, size));
    return {p, size};
  }
  void give_pinned(std::pair<void*, size_t> buf) {
    std::lock_guard<std::mutex> lock(pinned_mutex_);
    pinned_free_.push_back(buf);
  }

  // Raises what a kernel recorded (an index out of range), without waiting for the stream.
  void raise_recorded_error() {
    DeviceGuard guard(device_);
    CudaErrorRecord rec{};
    LINEA_CUDA_CHECK(cudaMemcpy(&rec, errors_, sizeof(rec), cudaMemcpyDeviceToHost));
    if (!rec.flag) return;
    LINEA_CUDA_CHECK(cudaMemset(errors_, 0, sizeof(CudaErrorRecord)));
    std::string what = "an op";
    {
      std::lock_guard<std::mutex> lock(g_tags_mutex);
      if (rec.tag >= 0 && static_cast<size_t>(rec.tag) < error_tags().size()) what = error_tags()[rec.tag];
    }
    throw OpError(what + "[" + std::to_string(rec.where) + "] = " + std::to_string(rec.value) + " is outside " +
                  std::to_string(rec.lowest) + ".." + std::to_string(rec.highest) + " (found on " + name() +
                  " when the host next waited for it; the results of that op are not valid)");
  }

  void fill(Tensor& dst, double value) override {
    DeviceGuard guard(device_);
    const int64_t n = dst.numel();
    if (n == 0) return;
    const unsigned blocks = grid_for(n);
    if (dst.dtype == DType::f32) {
      fill_kernel<<<blocks, 256, 0, stream_>>>(dst.data<float>(), n, static_cast<float>(value));
    } else if (dst.dtype == DType::bf16) {
      fill_kernel<<<blocks, 256, 0, stream_>>>(dst.data<bf16>(), n, __float2bfloat16_rn(static_cast<float>(value)));
    } else if (dst.dtype == DType::i32) {
      fill_kernel<<<blocks, 256, 0, stream_>>>(dst.data<int32_t>(), n,
                                               std::isnan(value) ? INT32_MIN : static_cast<int32_t>(value));
    } else {
      fill_kernel<<<blocks, 256, 0, stream_>>>(dst.data<double>(), n, value);
    }
    LINEA_CUDA_CHECK_LAUNCH("fill_kernel");
  }

  void synchronize() override {
    DeviceGuard guard(device_);
    wait();
  }

  void trim_cache() override {
    DeviceGuard guard(device_);
    LINEA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    LINEA_CUDA_CHECK(cudaMemPoolTrimTo(pool_, 0));
  }

  int64_t cached_bytes() const override {
    // The pool's reservation beyond what live allocations use.
    uint64_t reserved = 0, used = 0;
    if (cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrReservedMemCurrent, &reserved) != cudaSuccess ||
        cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrUsedMemCurrent, &used) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return reserved > used ? static_cast<int64_t>(reserved - used) : 0;
  }

  void launch(const Kernel& kernel, OpCall& call) override {
    DeviceGuard guard(device_);
    struct Current {
      explicit Current(const CudaContext* c) : saved(g_current) { g_current = c; }
      ~Current() { g_current = saved; }
      const CudaContext* saved;
    } current(&context_);
    kernel(call);
  }

 private:
  // Waits for the stream, then raises what a kernel recorded.
  void wait() {
    LINEA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    raise_recorded_error();
  }

  int device_;
  cudaDeviceProp props_{};
  cudaStream_t stream_ = nullptr;
  cudaMemPool_t pool_ = nullptr;
  CudaErrorRecord* errors_ = nullptr;
  CudaContext context_;
  std::mutex pinned_mutex_;
  std::vector<std::pair<void*, size_t>> pinned_free_;
};

// A copy into a page-locked buffer of the backend's, and the event recorded after it.
class PinnedCopy final : public PendingCopy {
 public:
  PinnedCopy(CudaBackend& backend, int device, std::pair<void*, size_t> buffer)
      : backend_(backend), device_(device), buffer_(buffer) {}
  ~PinnedCopy() override {
    if (event_) {
      // The buffer goes back to the pool only once the copy into it is done.
      DeviceGuard guard(device_);
      cudaEventSynchronize(event_);
      cudaEventDestroy(event_);
      cudaGetLastError();
    }
    backend_.give_pinned(buffer_);
  }
  PinnedCopy(const PinnedCopy&) = delete;
  PinnedCopy& operator=(const PinnedCopy&) = delete;

  void start(const void* src, size_t bytes, cudaStream_t stream) {
    DeviceGuard guard(device_);
    if (bytes) LINEA_CUDA_CHECK(cudaMemcpyAsync(buffer_.first, src, bytes, cudaMemcpyDeviceToHost, stream));
    LINEA_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
    LINEA_CUDA_CHECK(cudaEventRecord(event_, stream));
  }

  const void* wait() override {
    {
      DeviceGuard guard(device_);
      LINEA_CUDA_CHECK(cudaEventSynchronize(event_));
    }
    backend_.raise_recorded_error();
    return buffer_.first;
  }

 private:
  CudaBackend& backend_;
  int device_;
  std::pair<void*, size_t> buffer_;
  cudaEvent_t event_ = nullptr;
};

class CudaTimingEvent final : public TimingEvent {
 public:
  CudaTimingEvent(int device, cudaStream_t stream) : device_(device) {
    DeviceGuard guard(device_);
    LINEA_CUDA_CHECK(cudaEventCreate(&event_));  // with timing (the default flags)
    LINEA_CUDA_CHECK(cudaEventRecord(event_, stream));
  }
  ~CudaTimingEvent() override {
    DeviceGuard guard(device_);
    cudaEventDestroy(event_);
    cudaGetLastError();
  }
  CudaTimingEvent(const CudaTimingEvent&) = delete;
  CudaTimingEvent& operator=(const CudaTimingEvent&) = delete;

  double elapsed_ms_since(const TimingEvent& start) override {
    const auto* s = dynamic_cast<const CudaTimingEvent*>(&start);
    if (!s || s->device_ != device_) throw OpError("elapsed_ms_since: the start event is of another backend");
    DeviceGuard guard(device_);
    LINEA_CUDA_CHECK(cudaEventSynchronize(event_));
    float ms = 0;
    LINEA_CUDA_CHECK(cudaEventElapsedTime(&ms, s->event_, event_));
    return ms;
  }

 private:
  int device_;
  cudaEvent_t event_ = nullptr;
};

std::shared_ptr<TimingEvent> CudaBackend::record_event() { return std::make_shared<CudaTimingEvent>(device_, stream_); }

std::unique_ptr<PendingCopy> CudaBackend::copy_to_host_later(const Tensor& src, size_t bytes) {
  check_copy_size(src, bytes);
  DeviceGuard guard(device_);
  auto copy = std::make_unique<PinnedCopy>(*this, device_, take_pinned(bytes));
  copy->start(src.buffer->data, bytes, stream_);
  return copy;
}

}  // namespace

const CudaContext& cuda_context() {
  if (!g_current) throw OpError("internal: a CUDA kernel ran outside CudaBackend::launch");
  return *g_current;
}

const CudaContext& cuda_context_of(Backend& backend) {
  auto* cuda = dynamic_cast<CudaBackend*>(&backend);
  if (!cuda) throw OpError("backend " + backend.name() + " is not a CUDA backend");
  return cuda->context();
}

std::vector<std::unique_ptr<Backend>> make_cuda_backends() {
  std::vector<std::unique_ptr<Backend>> out;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: CUDA is simply not there
    return out;
  }
  for (int i = 0; i < count; ++i) out.push_back(std::make_unique<CudaBackend>(i));
  return out;
}

}  // namespace linea
