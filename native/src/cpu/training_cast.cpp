// cast on the CPU: every value dtype to every other, element by element.
// bf16 and f16 are held as their 16-bit patterns (tensor.h); narrowing
// rounds to nearest even, widening is exact.
//
// x: *S in the op's dtype   y: *S in dtype `to`
#include <algorithm>
#include <cstdint>

#include "cpu_backend.h"
#include "parallel.h"

namespace linea {
namespace {

// One element as double (exact for every value dtype), and back.
double load(const void* p, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::bf16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::f16: return f16_to_float(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const double*>(p)[i];
  }
}

void store(void* p, DType dtype, int64_t i, double x) {
  switch (dtype) {
    case DType::f32: static_cast<float*>(p)[i] = static_cast<float>(x); break;
    // Through f32: exact for f32 and bf16 inputs; an f64 input whose f32
    // rounding lands on a bf16 tie can end one bf16 ulp from direct rounding.
    case DType::bf16: static_cast<uint16_t*>(p)[i] = bf16_from_float(static_cast<float>(x)); break;
    case DType::f16: static_cast<uint16_t*>(p)[i] = f16_from_float(static_cast<float>(x)); break;
    default: static_cast<double*>(p)[i] = x; break;
  }
}

void cast_kernel(OpCall& call) {
  const Tensor& x = *call.input("x");
  Tensor& y = *call.output("y");
  const int64_t n = x.numel();
  constexpr int64_t kBlock = 1 << 16;
  parallel_for((n + kBlock - 1) / kBlock, [&](int64_t block) {
    const int64_t end = std::min(n, (block + 1) * kBlock);
    for (int64_t i = block * kBlock; i < end; ++i) store(y.buffer->data, y.dtype, i, load(x.buffer->data, x.dtype, i));
  });
}

}  // namespace

void register_cpu_cast_kernels(Backend& backend) {
  for (DType dtype : {DType::f32, DType::f64, DType::bf16, DType::f16}) backend.add_kernel("cast", dtype, cast_kernel);
}

}  // namespace linea
