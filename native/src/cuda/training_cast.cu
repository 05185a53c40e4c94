// cast on CUDA: every value dtype to every other, element by element; the
// port of the CPU reference (src/cpu/training_cast.cpp).
//
// x: *S in the op's dtype (the kernel's registration)   y: *S in dtype `to` (the planned output's dtype)
//
// Each element goes through double (exact for every value dtype) and is
// rounded once to nearest even, except that a bf16 target is reached through
// f32, as on the CPU: exact for f32 and bf16 inputs; an f64 input whose f32
// rounding lands on a bf16 tie can end one bf16 ulp from direct rounding.
// One kernel per (input, output) pair, a grid-stride loop (strided_unrolled).
#include <cstdint>
#include <string>

#include "cuda_backend.h"
#include "training_common.cuh"

namespace linea {
namespace {

template <class In, class Out>
__global__ void cast_kernel(const In* x, Out* y, int64_t n) {
  // store<bf16, double> rounds through f32 (cuda_types.cuh).
  cuda_training::elementwise(
      n, [&](int64_t i) { return double(load(x, i)); }, [&](int64_t i, double v) { store(y, i, v); });
}

template <class In, class Out>
void launch_cast(const Tensor& x, Tensor& y) {
  const int64_t n = x.numel();
  if (n == 0) return;
  cast_kernel<In, Out>
      <<<cuda_training::elementwise_blocks(n), 256, 0, cuda_context().stream>>>(x.data<In>(), y.data<Out>(), n);
  LINEA_CUDA_CHECK_LAUNCH("cast_kernel");
}

// Registered once per input dtype In; the output's dtype is the planned y's.
template <class In>
void cast(OpCall& call) {
  const Tensor& x = *call.input("x");
  Tensor& y = *call.output("y");
  switch (y.dtype) {
    case DType::f32: return launch_cast<In, float>(x, y);
    case DType::f64: return launch_cast<In, double>(x, y);
    case DType::bf16: return launch_cast<In, bf16>(x, y);
    default: break;
  }
  throw OpError(call.op->name + ": output dtype " + dtype_name(y.dtype) + " is not a value dtype (f32, f64, bf16)");
}

}  // namespace

void register_cuda_training_cast_kernels(Backend& backend) {
  backend.add_kernel("cast", DType::f32, cast<float>);
  backend.add_kernel("cast", DType::f64, cast<double>);
  backend.add_kernel("cast", DType::bf16, cast<bf16>);
}

}  // namespace linea
