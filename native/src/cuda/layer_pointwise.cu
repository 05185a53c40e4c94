// SwiGLU (forward, backward) and rotary position embedding on CUDA: the ports
// of src/cpu/layer_swiglu.cpp and src/cpu/layer_rotary.cpp. Both are
// elementwise grid-stride loops.
//
// SwiGLU: gate, up, y, dy, dgate, dup: (N), N = all dims flattened
//   s = sigmoid(gate), y = gate * s * up
//   dgate = dy * up * s * (1 + gate * (1 - s)), dup = dy * gate * s
// Math in acc_t (f32 for f32 / bf16, f64 for f64). bf16 and f32 tensors whose
// pointers are 16-byte aligned move in 16-byte vectors (8 bf16 or 4 f32 per
// load; the last N mod 8 (4) elements one by one): scalar 2-byte loads left a
// training step's SwiGLU at 1.3 TB/s on an H200.
//
// Rotary: x, y: (B, T, H, D), D even, half = D / 2
//   theta[t, i] = (offset + t) * base^(-2i / D)             i < half
//   y_i        = x_i cos(theta) - x_{i+half} sin(theta)
//   y_{i+half} = x_{i+half} cos(theta) + x_i sin(theta)
// inverse rotates by -theta. Angles, cos, sin and the rotation run in double
// for every dtype, as on the CPU (positions reach 2^31: a float angle would
// be meaningless there): a (T, half) table of cos and sin, then the rows.
#include <cstdint>
#include <type_traits>

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

// Values of T in one 16-byte vector.
template <class T>
constexpr int kVec16 = 16 / int(sizeof(T));

template <class T>
__device__ __forceinline__ void vec16_load(const T* p, acc_t<T> (&x)[kVec16<T>]) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const T* e = reinterpret_cast<const T*>(&u);
#pragma unroll
  for (int i = 0; i < kVec16<T>; ++i) x[i] = to_acc(e[i]);
}

template <class T>
__device__ __forceinline__ void vec16_store(T* p, const acc_t<T> (&x)[kVec16<T>]) {
  uint4 u;
  T* e = reinterpret_cast<T*>(&u);
#pragma unroll
  for (int i = 0; i < kVec16<T>; ++i) store(e, i, x[i]);
  *reinterpret_cast<uint4*>(p) = u;
}

// Grid-stride over the nv = n / kVec16 whole vectors; block 0 then takes the
// n mod kVec16 elements after them, one per thread.
template <class T>
__global__ void swiglu_fwd_vec_kernel(const T* gate, const T* up, T* y, int64_t n) {
  using A = acc_t<T>;
  constexpr int N = kVec16<T>;
  const int64_t nv = n / N;
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < nv; v += int64_t(gridDim.x) * blockDim.x) {
    A g[N], u[N];
    vec16_load(gate + v * N, g);
    vec16_load(up + v * N, u);
#pragma unroll
    for (int i = 0; i < N; ++i) u[i] *= g[i] * sigmoid_acc(g[i]);
    vec16_store(y + v * N, u);
  }
  const int64_t i = nv * N + threadIdx.x;
  if (blockIdx.x == 0 && i < n) {
    const A g = to_acc(gate[i]);
    store(y, i, g * sigmoid_acc(g) * to_acc(up[i]));
  }
}

template <class T>
__global__ void swiglu_bwd_vec_kernel(const T* gate, const T* up, const T* dy, T* dgate, T* dup, int64_t n) {
  using A = acc_t<T>;
  constexpr int N = kVec16<T>;
  const int64_t nv = n / N;
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < nv; v += int64_t(gridDim.x) * blockDim.x) {
    A g[N], u[N], d[N];
    vec16_load(gate + v * N, g);
    vec16_load(up + v * N, u);
    vec16_load(dy + v * N, d);
#pragma unroll
    for (int i = 0; i < N; ++i) {
      const A s = sigmoid_acc(g[i]);
      const A dg = d[i] * u[i] * s * (A(1) + g[i] * sigmoid_acc(-g[i]));
      u[i] = d[i] * g[i] * s;  // dup
      g[i] = dg;
    }
    vec16_store(dgate + v * N, g);
    vec16_store(dup + v * N, u);
  }
  const int64_t i = nv * N + threadIdx.x;
  if (blockIdx.x == 0 && i < n) {
    const A g = to_acc(gate[i]);
    const A s = sigmoid_acc(g);
    const A d = to_acc(dy[i]);
    store(dup, i, d * g * s);
    store(dgate, i, d * to_acc(up[i]) * s * (A(1) + g * sigmoid_acc(-g)));
  }
}

// Whether every pointer is 16-byte aligned (and T is one the vector kernels take).
template <class T, class... P>
bool vec16_ok(const P*... p) {
  if constexpr (std::is_same_v<T, double>) return false;
  return ((reinterpret_cast<uintptr_t>(p) % 16 == 0) && ...);
}

template <class T>
void swiglu_fwd(OpCall& call) {
  const int64_t n = call.input("gate")->numel();
  if (n == 0) return;
  const T* gate = call.input("gate")->data<T>();
  const T* up = call.input("up")->data<T>();
  T* y = call.output("y")->data<T>();
  const cudaStream_t stream = cuda_context().stream;
  if (vec16_ok<T>(gate, up, y)) {
    swiglu_fwd_vec_kernel<T><<<layer_grid(n / kVec16<T> + 1), kLayerThreads, 0, stream>>>(gate, up, y, n);
    LINEA_CUDA_CHECK_LAUNCH("swiglu_fwd_vec_kernel");
    return;
  }
  swiglu_fwd_kernel<T><<<layer_grid(n), kLayerThreads, 0, stream>>>(gate, up, y, n);
  LINEA_CUDA_CHECK_LAUNCH("swiglu_fwd_kernel");
}

template <class T>
void swiglu_bwd(OpCall& call) {
  const int64_t n = call.input("gate")->numel();
  if (n == 0) return;
  const T* gate = call.input("gate")->data<T>();
  const T* up = call.input("up")->data<T>();
  const T* dy = call.input("dy")->data<T>();
  T* dgate = call.output("dgate")->data<T>();
  T* dup = call.output("dup")->data<T>();
  const cudaStream_t stream = cuda_context().stream;
  if (vec16_ok<T>(gate, up, dy, dgate, dup)) {
    swiglu_bwd_vec_kernel<T><<<layer_grid(n / kVec16<T> + 1), kLayerThreads, 0, stream>>>(gate, up, dy, dgate, dup, n);
    LINEA_CUDA_CHECK_LAUNCH("swiglu_bwd_vec_kernel");
    return;
  }
  swiglu_bwd_kernel<T><<<layer_grid(n), kLayerThreads, 0, stream>>>(gate, up, dy, dgate, dup, n);
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
