// A backend owns device memory and the kernels that run on it.
//
// Kernels are registered per (op name, dtype) in the backend's kernel table;
// `run_op` (ops.h) validates a call against the op table before a kernel
// sees it, so kernels may assume well-formed shapes and attributes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "linea/ops.h"
#include "linea/tensor.h"

namespace linea {

using Kernel = std::function<void(OpCall&)>;

struct MemoryStats {
  int64_t bytes_in_use = 0;
  int64_t peak_bytes = 0;
  int64_t allocations = 0;
};

struct DeviceInfo {
  std::string backend;  // "cpu", "cuda"
  int index = 0;
  std::string name;
  int64_t memory_bytes = 0;
  std::string detail;  // e.g. "sm_90, 132 SMs" or "2 threads"
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "cpu", "cuda:0"
  virtual DeviceKind device() const = 0;
  virtual DeviceInfo info() const = 0;

  virtual Tensor empty(const Shape& shape, DType dtype) = 0;
  virtual void copy_from_host(Tensor& dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(const Tensor& src, void* dst, size_t bytes) = 0;
  virtual void fill(Tensor& dst, double value) = 0;
  virtual void synchronize() {}
  // Returns cached free memory to the system (backends that cache).
  virtual void trim_cache() {}

  Tensor from_host(const Shape& shape, DType dtype, const void* src);

  const Kernel* kernel(const std::string& op, DType dtype) const;
  void add_kernel(const std::string& op, DType dtype, Kernel kernel);
  std::vector<std::pair<std::string, DType>> kernels() const;

  MemoryStats memory() const { return stats_; }
  void reset_peak() { stats_.peak_bytes = stats_.bytes_in_use; }

 protected:
  void count_alloc(size_t bytes);
  void count_free(size_t bytes);
  // Throws unless `bytes` is exactly the tensor's size (copies in and out).
  static void check_copy_size(const Tensor& t, size_t bytes);

 private:
  std::map<std::pair<std::string, DType>, Kernel> kernels_;
  MemoryStats stats_;
};

// The backends this process can use: "cpu" always, "cuda:N" per device found.
std::vector<std::string> backend_names();
Backend& get_backend(const std::string& name);  // throws OpError naming valid ones

}  // namespace linea
