#include "linea/backend.h"

#include <chrono>
#include <mutex>
#include <vector>

#include "../cpu/cpu_backend.h"
#ifdef LINEA_WITH_CUDA
#include "../cuda/cuda_backend.h"
#endif

namespace linea {

Tensor Backend::from_host(const Shape& shape, DType dtype, const void* src) {
  Tensor t = empty(shape, dtype);
  copy_from_host(t, src, t.bytes());
  return t;
}

namespace {
// The copy already made: what a synchronous backend's copy_to_host_later returns.
class HostCopy final : public PendingCopy {
 public:
  explicit HostCopy(size_t bytes) : bytes_(bytes) {}
  const void* wait() override { return bytes_.data(); }
  unsigned char* data() { return bytes_.data(); }

 private:
  std::vector<unsigned char> bytes_;
};
}  // namespace

namespace {
// The host's steady clock: a synchronous backend's work is done when its call returns.
class HostEvent final : public TimingEvent {
 public:
  HostEvent() : at_(std::chrono::steady_clock::now()) {}
  double elapsed_ms_since(const TimingEvent& start) override {
    const auto* s = dynamic_cast<const HostEvent*>(&start);
    if (!s) throw OpError("elapsed_ms_since: the start event is of another backend");
    return std::chrono::duration<double, std::milli>(at_ - s->at_).count();
  }

 private:
  std::chrono::steady_clock::time_point at_;
};
}  // namespace

std::shared_ptr<TimingEvent> Backend::record_event() { return std::make_shared<HostEvent>(); }

std::unique_ptr<PendingCopy> Backend::copy_to_host_later(const Tensor& src, size_t bytes) {
  auto copy = std::make_unique<HostCopy>(bytes);
  copy_to_host(src, copy->data(), bytes);
  return copy;
}

const Kernel* Backend::kernel(const std::string& op, DType dtype) const {
  auto it = kernels_.find({op, dtype});
  return it == kernels_.end() ? nullptr : &it->second.kernel;
}

void Backend::add_kernel(const std::string& op, DType dtype, Kernel kernel, KernelPredicate accepts) {
  find_op(op);  // a kernel for an op the table does not declare is a build mistake
  kernels_[{op, dtype}] = KernelEntry{std::move(kernel), std::move(accepts)};
}

std::optional<std::string> Backend::accepts(const OpPlan& plan) const {
  auto it = kernels_.find({plan.op->name, plan.dtype});
  if (it == kernels_.end())
    return "backend " + name() + " has no kernel for " + plan.op->name + " in " + dtype_name(plan.dtype);
  if (it->second.accepts) return it->second.accepts(plan);
  return std::nullopt;
}

std::vector<std::pair<std::string, DType>> Backend::kernels() const {
  std::vector<std::pair<std::string, DType>> out;
  for (const auto& [key, _] : kernels_) out.push_back(key);
  return out;
}

void Backend::count_alloc(size_t bytes) {
  stats_.bytes_in_use += static_cast<int64_t>(bytes);
  stats_.allocations += 1;
  if (stats_.bytes_in_use > stats_.peak_bytes) stats_.peak_bytes = stats_.bytes_in_use;
}

void Backend::check_copy_size(const Tensor& t, size_t bytes) {
  if (bytes != t.bytes())
    throw OpError("copy of " + std::to_string(bytes) + " bytes into a tensor of " + std::to_string(t.bytes()) +
                  " bytes (shape " + shape_str(t.shape) + ", " + dtype_name(t.dtype) + ")");
}

void Backend::count_free(size_t bytes) { stats_.bytes_in_use -= static_cast<int64_t>(bytes); }

namespace {

struct Registry {
  std::vector<std::unique_ptr<Backend>> backends;
  Registry() {
    backends.push_back(make_cpu_backend());
#ifdef LINEA_WITH_CUDA
    for (auto& b : make_cuda_backends()) backends.push_back(std::move(b));
#endif
  }
};

Registry& registry() {
  // Never destroyed: tensors held by JS may be finalized after static
  // destructors would have run, and they call back into their backend.
  static Registry* r = new Registry();
  return *r;
}

}  // namespace

std::vector<std::string> backend_names() {
  std::vector<std::string> names;
  for (const auto& b : registry().backends) names.push_back(b->name());
  return names;
}

Backend& get_backend(const std::string& name) {
  const std::string wanted = name == "cuda" ? "cuda:0" : name;
  for (const auto& b : registry().backends)
    if (b->name() == wanted) return *b;
  std::string valid;
  for (const auto& n : backend_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw OpError("backend '" + name + "' is not available; available: " + valid);
}

}  // namespace linea
