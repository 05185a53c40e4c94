// SwiGLU (forward, backward) and rotary position embedding on CUDA: the ports
// of src/cpu/layer_swiglu.cpp and src/cpu/layer_rotary.cpp. Both are
// elementwise grid-stride loops.
//
// SwiGLU: gate, up, y, dy, dgate, dup: (N), N = all dims flattened
//   s = sigmoid(gate), y = gate * s * up
//   dgate = dy * up * s * (1 + gate * (1 - s)), dup = dy * gate * s
// Math in acc_t (f32 for f32 / bf16, f64 for f64).
//
// Rotary: x, y: (B, T, H, D), D even, half = D / 2
//   theta[t, i] = (offset + t) * base^(-2i / D)             i < half
//   y_i        = x_i cos(theta) - x_{i+half} sin(theta)
//   y_{i+half} = x_{i+half} cos(theta) + x_i sin(theta)
// inverse rotates by -theta. Angles, cos, sin and the rotation run in double
// for every dtype, as on the CPU (positions reach 2^31: a float angle would
// be meaningless there): a (T, half) table of cos and sin, then the rows.
#include "../ops/op_params.h"
#include "cuda_backend.h"
#include "layer_common.cuh"

namespace linea {
namespace {

// ---- SwiGLU ------------------------------------------------------------------

template <class T>
__global__ void swiglu_fwd_kernel(const T* gate, const T* up, T* y, int64_t n) {
  using A = acc_t<T>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const A g = to_acc(gate[i]);
    store(y, i, g * sigmoid_acc(g) * to_acc(up[i]));
  }
}

template <class T>
__global__ void swiglu_bwd_kernel(const T* gate, const T* up, const T* dy, T* dgate, T* dup, int64_t n) {
  using A = acc_t<T>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const A g = to_acc(gate[i]);
    const A s = sigmoid_acc(g);
    const A d = to_acc(dy[i]);
    store(dup, i, d * g * s);
    store(dgate, i, d * to_acc(up[i]) * s * (A(1) + g * sigmoid_acc(-g)));
  }
}

template <class T>
void swiglu_fwd(OpCall& call) {
  const int64_t n = call.input("gate")->numel();
  if (n == 0) return;
  swiglu_fwd_kernel<T><<<layer_grid(n), kLayerThreads, 0, cuda_context().stream>>>(
      call.input("gate")->data<T>(), call.input("up")->data<T>(), call.output("y")->data<T>(), n);
  LINEA_CUDA_CHECK_LAUNCH("swiglu_fwd_kernel");
}

template <class T>
void swiglu_bwd(OpCall& call) {
  const int64_t n = call.input("gate")->numel();
  if (n == 0) return;
  swiglu_bwd_kernel<T><<<layer_grid(n), kLayerThreads, 0, cuda_context().stream>>>(
      call.input("gate")->data<T>(), call.input("up")->data<T>(), call.input("dy")->data<T>(),
      call.output("dgate")->data<T>(), call.output("dup")->data<T>(), n);
  LINEA_CUDA_CHECK_LAUNCH("swiglu_bwd_kernel");
}

// ---- rotary ------------------------------------------------------------------

// table: (2, T, half) doubles, cos then sin (sin times `sign`, -1 for the inverse).
__global__ void rotary_table_kernel(double* table, int64_t Tn, int64_t half, int64_t D, double base, int64_t offset,
                                    double sign) {
  const int64_t n = Tn * half;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = e / half, i = e - t * half;
    const double inv_freq = pow(base, -2.0 * double(i) / double(D));
    const double theta = double(offset + t) * inv_freq;
    double s, c;
    sincos(theta, &s, &c);
    table[e] = c;
    table[n + e] = sign * s;
  }
}

// Grid-stride over (rows, half) pairs, rows = B * T * H in (b, t, h) order.
template <class T>
__global__ void rotary_kernel(const T* x, T* y, const double* table, int64_t rows, int64_t Tn, int64_t H,
                              int64_t half) {
  const int64_t n = rows * half;
  const int64_t table_size = Tn * half;
  const int64_t D = 2 * half;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = e / half, i = e - r * half;
    const int64_t t = (r / H) % Tn;  // r = (b * T + t) * H + h
    const double c = table[t * half + i], s = table[table_size + t * half + i];
    const double lo = double(to_acc(x[r * D + i])), hi = double(to_acc(x[r * D + i + half]));
    store(y, r * D + i, lo * c - hi * s);
    store(y, r * D + i + half, hi * c + lo * s);
  }
}

template <class T>
void rotary_fwd(OpCall& call) {
  const CudaContext& ctx = cuda_context();
  const int64_t B = call.dims.at("B"), Tn = call.dims.at("T"), H = call.dims.at("H"), D = call.dims.at("D");
  const int64_t half = D / 2;
  const int64_t rows = B * Tn * H;
  if (rows * half == 0) return;
  const RotaryParams p = rotary_params(call);
  Tensor table = ctx.scratch(Shape{2, Tn, half}, DType::f64);
  rotary_table_kernel<<<layer_grid(Tn * half), kLayerThreads, 0, ctx.stream>>>(
      table.data<double>(), Tn, half, D, p.base, p.offset, p.inverse ? -1.0 : 1.0);
  LINEA_CUDA_CHECK_LAUNCH("rotary_table_kernel");
  rotary_kernel<T><<<layer_grid(rows * half), kLayerThreads, 0, ctx.stream>>>(
      call.input("x")->data<T>(), call.output("y")->data<T>(), table.data<double>(), rows, Tn, H, half);
  LINEA_CUDA_CHECK_LAUNCH("rotary_kernel");
}

}  // namespace

void register_cuda_swiglu_rotary_kernels(Backend& backend) {
  LINEA_REGISTER_ALL_DTYPES(backend, "swiglu_fwd", swiglu_fwd);
  LINEA_REGISTER_ALL_DTYPES(backend, "swiglu_bwd", swiglu_bwd);
  LINEA_REGISTER_ALL_DTYPES(backend, "rotary_fwd", rotary_fwd);
}

}  // namespace linea
