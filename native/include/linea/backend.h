// A backend owns device memory and the kernels that run on it.
//
// Kernels are registered per (op name, dtype) in the backend's kernel table,
// each optionally with a predicate saying which calls it takes. `run_op`
// (ops.h) plans a call against the op table, asks `accepts`, and only then
// allocates and `launch`es, so kernels may assume well-formed shapes and
// attributes they accept.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "linea/ops.h"
#include "linea/tensor.h"

namespace linea {

using Kernel = std::function<void(OpCall&)>;
// Which planned calls a kernel takes: nullopt when it takes the call, else the
// reason it does not (naming the op, the attributes at fault and the backend).
using KernelPredicate = std::function<std::optional<std::string>(const OpPlan&)>;

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
  int64_t free_bytes = -1;  // free device memory now, all processes counted (-1: the host reports it)
  std::string detail;       // e.g. "sm_90, 132 SMs" or "2 threads"
};

// A copy to the host enqueued after the work so far (Backend::copy_to_host_later).
// wait() blocks until the copy has landed, and not for work enqueued after it,
// so a training loop can read step k's loss while step k + 1 runs.
class PendingCopy {
 public:
  virtual ~PendingCopy() = default;
  // The copied bytes, valid while this object lives.
  virtual const void* wait() = 0;
};

// A point in a backend's stream of work (Backend::record_event), for timing
// ops where they run: the profiler brackets each op with two.
class TimingEvent {
 public:
  virtual ~TimingEvent() = default;
  // Milliseconds from `start` (an event of the same backend) to this one;
  // waits for this event's work to finish.
  virtual double elapsed_ms_since(const TimingEvent& start) = 0;
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
  // Starts copying `src` to the host after the work enqueued so far. The
  // default copies at once (backends whose ops are synchronous).
  virtual std::unique_ptr<PendingCopy> copy_to_host_later(const Tensor& src, size_t bytes);
  // An event after the work enqueued so far. The default is the host's clock
  // now (backends whose ops are synchronous); a GPU records one in its stream.
  virtual std::shared_ptr<TimingEvent> record_event();
  virtual void fill(Tensor& dst, double value) = 0;
  virtual void synchronize() {}
  // Returns cached free memory to the system (backends that cache).
  virtual void trim_cache() {}
  // Bytes freed by tensors but still held by this backend's cache (0 where
  // nothing is cached): memory another process cannot have until trim_cache.
  virtual int64_t cached_bytes() const { return 0; }

  Tensor from_host(const Shape& shape, DType dtype, const void* src);

  const Kernel* kernel(const std::string& op, DType dtype) const;
  // `accepts`, when given, limits the kernel to the calls it returns nullopt for.
  void add_kernel(const std::string& op, DType dtype, Kernel kernel, KernelPredicate accepts = nullptr);
  std::vector<std::pair<std::string, DType>> kernels() const;

  // Whether this backend runs the planned call: nullopt when it does, else the
  // reason. The default: a kernel is registered for (op, dtype) and its
  // predicate, if any, takes the call.
  virtual std::optional<std::string> accepts(const OpPlan& plan) const;
  // Runs a kernel on a call whose outputs are allocated. The default calls it;
  // a backend overrides this to set up per-call state (the CPU flushes
  // denormals on the calling thread).
  virtual void launch(const Kernel& kernel, OpCall& call) { kernel(call); }

  MemoryStats memory() const { return stats_; }
  void reset_peak() { stats_.peak_bytes = stats_.bytes_in_use; }

 protected:
  void count_alloc(size_t bytes);
  void count_free(size_t bytes);
  // Throws unless `bytes` is exactly the tensor's size (copies in and out).
  static void check_copy_size(const Tensor& t, size_t bytes);

 private:
  struct KernelEntry {
    Kernel kernel;
    KernelPredicate accepts;
  };
  std::map<std::pair<std::string, DType>, KernelEntry> kernels_;
  MemoryStats stats_;
};

// The backends this process can use: "cpu" always, "cuda:N" per device found.
std::vector<std::string> backend_names();
Backend& get_backend(const std::string& name);  // throws OpError naming valid ones

}  // namespace linea
