// Tensors: a shape, a dtype and a buffer that lives on one backend's device.
// The host never reads device memory directly: data crosses through the
// backend's explicit copy functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace linea {

// f32 and f64 for values; i32 for indices (token ids, labels, positions);
// bf16 and f16 for values on GPUs (storage only: kernels accumulate in f32;
// bf16 on CUDA, f16 on WebGPU adapters with shader-f16). The host side sees
// them as raw 16-bit patterns (bf16_from_float / f16_from_float and back).
enum class DType : uint8_t { f32, f64, i32, bf16, f16 };

// The 16-bit storage dtypes: their statistics tensors stay f32 (ops.h).
inline bool is_16bit(DType dtype) { return dtype == DType::bf16 || dtype == DType::f16; }

const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);
// Parses "f32" / "f64" / "i32"; throws naming the value and the valid ones.
DType parse_dtype(const std::string& name);

// bfloat16 bit patterns on the host: round to nearest even (NaN stays NaN).
uint16_t bf16_from_float(float x);
float bf16_to_float(uint16_t bits);
// IEEE binary16 bit patterns on the host: round to nearest even, past 65504
// to infinity, below 2^-14 to subnormals (NaN stays NaN).
uint16_t f16_from_float(float x);
float f16_to_float(uint16_t bits);

using Shape = std::vector<int64_t>;

// Elements of a tensor of this shape. Throws OpError for a negative dim or a
// count above kMaxElements (so bytes = numel · dtype size never overflows):
// shapes come from JavaScript and from symbols bound at run time.
int64_t numel(const Shape& shape);
constexpr int64_t kMaxElements = int64_t(1) << 60;
std::string shape_str(const Shape& shape);  // "[2, 8, 4, 16]"

enum class DeviceKind : uint8_t { cpu, cuda };

// One allocation on one device. The deleter is the owning backend's free,
// so a buffer can outlive nothing it depends on except its backend.
struct Buffer {
  void* data = nullptr;
  size_t bytes = 0;
  DeviceKind device = DeviceKind::cpu;
  std::function<void(void*, size_t)> release;

  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() {
    if (data && release) release(data, bytes);
  }
};

class Backend;

struct Tensor {
  std::shared_ptr<Buffer> buffer;
  Shape shape;
  DType dtype = DType::f32;
  Backend* backend = nullptr;

  bool defined() const { return buffer != nullptr; }
  int64_t numel() const { return linea::numel(shape); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int64_t dim(size_t i) const { return shape.at(i); }
  size_t rank() const { return shape.size(); }

  template <class T>
  T* data() const {
    return static_cast<T*>(buffer->data);
  }
};

}  // namespace linea
