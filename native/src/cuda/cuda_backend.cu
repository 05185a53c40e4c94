#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <string>

#include "cuda_backend.h"
#include "cuda_check.h"

namespace linea {
namespace {

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
  ~DeviceGuard() { cudaSetDevice(previous_); }

 private:
  int previous_ = 0;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    LINEA_CUDA_CHECK(cudaGetDeviceProperties(&props_, device));
    register_cuda_mixer_kernels(*this);
  }

  std::string name() const override { return "cuda:" + std::to_string(device_); }
  DeviceKind device() const override { return DeviceKind::cuda; }

  DeviceInfo info() const override {
    DeviceInfo d;
    d.backend = "cuda";
    d.index = device_;
    d.name = props_.name;
    d.memory_bytes = static_cast<int64_t>(props_.totalGlobalMem);
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
    const cudaError_t err = cudaMalloc(&data, bytes == 0 ? 1 : bytes);
    if (err != cudaSuccess) {
      size_t free_bytes = 0, total = 0;
      cudaGetLastError();
      cudaMemGetInfo(&free_bytes, &total);
      throw OpError("CUDA out of memory on " + name() + ": asked for " + std::to_string(bytes) +
                    " bytes for a tensor of shape " + shape_str(shape) + ", " + std::to_string(free_bytes) + " of " +
                    std::to_string(total) + " bytes free");
    }
    auto buffer = std::make_shared<Buffer>();
    buffer->data = data;
    buffer->bytes = bytes;
    buffer->device = DeviceKind::cuda;
    buffer->release = [this](void* p, size_t n) {
      DeviceGuard g(device_);
      cudaFree(p);
      count_free(n);
    };
    count_alloc(bytes);
    t.buffer = std::move(buffer);
    return t;
  }

  void copy_from_host(Tensor& dst, const void* src, size_t bytes) override {
    check_copy_size(dst, bytes);
    DeviceGuard guard(device_);
    if (bytes) LINEA_CUDA_CHECK(cudaMemcpy(dst.buffer->data, src, bytes, cudaMemcpyHostToDevice));
  }

  void copy_to_host(const Tensor& src, void* dst, size_t bytes) override {
    check_copy_size(src, bytes);
    DeviceGuard guard(device_);
    if (bytes) LINEA_CUDA_CHECK(cudaMemcpy(dst, src.buffer->data, bytes, cudaMemcpyDeviceToHost));
  }

  void fill(Tensor& dst, double value) override {
    DeviceGuard guard(device_);
    const int64_t n = dst.numel();
    if (n == 0) return;
    const int threads = 256;
    const int blocks = static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 4096));
    if (dst.dtype == DType::f32) fill_kernel<<<blocks, threads>>>(dst.data<float>(), n, static_cast<float>(value));
    else if (dst.dtype == DType::i32)
      fill_kernel<<<blocks, threads>>>(dst.data<int32_t>(), n,
                                       std::isnan(value) ? INT32_MIN : static_cast<int32_t>(value));
    else fill_kernel<<<blocks, threads>>>(dst.data<double>(), n, value);
    LINEA_CUDA_CHECK_LAUNCH("fill_kernel");
  }

  void synchronize() override {
    DeviceGuard guard(device_);
    LINEA_CUDA_CHECK(cudaDeviceSynchronize());
  }

 private:
  int device_;
  cudaDeviceProp props_{};
};

}  // namespace

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
