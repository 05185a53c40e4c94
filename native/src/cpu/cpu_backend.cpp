#include "cpu_backend.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <new>
#include <string>

#include "blas.h"
#include "block_cache.h"
#include "flush_denormals.h"
#include "parallel.h"

#if defined(__APPLE__)
#include <sys/sysctl.h>
#elif defined(_WIN32)
#include <windows.h>
#else
#include <unistd.h>
#endif

namespace linea {
namespace {

constexpr size_t kAlignment = 64;  // one cache line; also what AVX-512 loads like
// Freed blocks kept for reuse: an eighth of the machine's memory, at most 4 GiB.
constexpr size_t kMaxCacheBytes = size_t(4) << 30;

std::string cpu_model_name() {
#if defined(__APPLE__)
  char buf[256] = {0};
  size_t len = sizeof(buf);
  if (sysctlbyname("machdep.cpu.brand_string", buf, &len, nullptr, 0) == 0) return buf;
  return "Apple CPU";
#elif defined(_WIN32)
  return "CPU";
#else
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "CPU";
#endif
}

int64_t physical_memory_bytes() {
#if defined(__APPLE__)
  int64_t mem = 0;
  size_t len = sizeof(mem);
  if (sysctlbyname("hw.memsize", &mem, &len, nullptr, 0) == 0) return mem;
  return 0;
#elif defined(_WIN32)
  MEMORYSTATUSEX status;
  status.dwLength = sizeof(status);
  return GlobalMemoryStatusEx(&status) ? static_cast<int64_t>(status.ullTotalPhys) : 0;
#else
  return static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
#endif
}

class CpuBackend final : public Backend {
 public:
  CpuBackend() : cache_(kAlignment, std::min(kMaxCacheBytes, static_cast<size_t>(physical_memory_bytes() / 8))) {
    use_single_threaded_blas();
    register_cpu_mixer_kernels(*this);
    register_cpu_feature_map_kernels(*this);
    register_cpu_short_conv_kernels(*this);
    register_cpu_attention_kernels(*this);
    register_cpu_attention_decode_kernels(*this);
    register_cpu_layer_kernels(*this);
    register_cpu_training_kernels(*this);
  }

  std::string name() const override { return "cpu"; }
  DeviceKind device() const override { return DeviceKind::cpu; }

  DeviceInfo info() const override {
    DeviceInfo d;
    d.backend = "cpu";
    d.index = 0;
    d.name = cpu_model_name();
    d.memory_bytes = physical_memory_bytes();
    d.detail = std::to_string(cpu_threads()) + " threads";
    return d;
  }

  Tensor empty(const Shape& shape, DType dtype) override {
    Tensor t;
    t.shape = shape;
    t.dtype = dtype;
    t.backend = this;
    const size_t bytes = t.bytes();
    // Round up: aligned allocation wants a multiple of the alignment; 0 bytes still gets a block.
    const size_t padded = (bytes + kAlignment - 1) / kAlignment * kAlignment + kAlignment;
    void* data = cache_.take(padded);
    if (!data)
      throw OpError("out of memory on the CPU: asked for " + std::to_string(bytes) + " bytes for a tensor of shape " +
                    shape_str(shape) + " (" + dtype_name(dtype) + "), with " + std::to_string(memory().bytes_in_use) +
                    " bytes already in tensors; use a smaller batch, sequence or model");
    auto buffer = std::make_shared<Buffer>();
    buffer->data = data;
    buffer->bytes = bytes;
    buffer->device = DeviceKind::cpu;
    buffer->release = [this, padded](void* p, size_t n) {
      cache_.give(p, padded);
      count_free(n);
    };
    count_alloc(bytes);
    t.buffer = std::move(buffer);
    return t;
  }

  void copy_from_host(Tensor& dst, const void* src, size_t bytes) override {
    check_copy_size(dst, bytes);
    if (bytes) std::memcpy(dst.buffer->data, src, bytes);
  }

  void copy_to_host(const Tensor& src, void* dst, size_t bytes) override {
    check_copy_size(src, bytes);
    if (bytes) std::memcpy(dst, src.buffer->data, bytes);
  }

  void trim_cache() override { cache_.trim(); }
  int64_t cached_bytes() const override { return static_cast<int64_t>(cache_.cached_bytes()); }

  void launch(const Kernel& kernel, OpCall& call) override {
    FlushDenormals flush;  // this thread runs part of every CPU kernel too
    kernel(call);
  }

  void fill(Tensor& dst, double value) override {
    const int64_t n = dst.numel();
    if (dst.dtype == DType::f32) {
      auto* p = dst.data<float>();
      for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(value);
    } else if (dst.dtype == DType::i32) {
      // NaN (poisoning) becomes the most negative index, never a valid one
      const int32_t v = std::isnan(value) ? std::numeric_limits<int32_t>::min() : static_cast<int32_t>(value);
      auto* p = dst.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = v;
    } else if (is_16bit(dst.dtype)) {
      const uint16_t v = dst.dtype == DType::bf16 ? bf16_from_float(static_cast<float>(value))
                                                  : f16_from_float(static_cast<float>(value));
      auto* p = dst.data<uint16_t>();
      for (int64_t i = 0; i < n; ++i) p[i] = v;
    } else {
      auto* p = dst.data<double>();
      for (int64_t i = 0; i < n; ++i) p[i] = value;
    }
  }

 private:
  BlockCache cache_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace linea
