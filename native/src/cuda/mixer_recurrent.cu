// Recurrent linear-attention mixer on CUDA: the straightforward port of the
// CPU reference (src/cpu/mixer_recurrent.cpp), one thread per value column.
//
// q, k: (B, T, H, K)   v, o: (B, T, H, V)   s0, s_final: (B, H, K, V)
#include <cmath>

#include "../ops/op_attrs.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "mixer_support.h"

namespace linea {
namespace {

template <class T>
struct MixerParams {
  const T *q, *k, *v, *s0;
  T *o, *state;  // state: (B, H, K, V) working state, left as the final state
  int64_t B, Tn, H, K, V;
  T scale;
};

// Kernel: grid (B*H, ceil(V/32)), block 32. Each thread owns column c of S
// (K values, kept in global memory: K is unbounded here), and per step
// computes o_t[c] = sum_a q_a (S[a,c] + k_a v_c) in one pass.
template <class T>
__global__ void mixer_recurrent_kernel(MixerParams<T> p) {
  const int64_t bh = blockIdx.x;
  const int64_t b = bh / p.H, h = bh % p.H;
  const int64_t c = blockIdx.y * int64_t(blockDim.x) + threadIdx.x;
  if (c >= p.V) return;
  T* S = p.state + bh * p.K * p.V;
  const T* s0 = p.s0 ? p.s0 + bh * p.K * p.V : nullptr;
  for (int64_t a = 0; a < p.K; ++a) S[a * p.V + c] = s0 ? s0[a * p.V + c] : T(0);
  for (int64_t t = 0; t < p.Tn; ++t) {
    const int64_t row = (b * p.Tn + t) * p.H + h;
    const T* q = p.q + row * p.K;
    const T* k = p.k + row * p.K;
    const T vc = p.v[row * p.V + c];
    T acc = 0;
    for (int64_t a = 0; a < p.K; ++a) {
      const T s = S[a * p.V + c] + k[a] * vc;
      S[a * p.V + c] = s;
      acc += q[a] * s;
    }
    p.o[row * p.V + c] = acc * p.scale;
  }
}

template <class T>
void mixer_fwd_recurrent(OpCall& call) {
  MixerParams<T> p{};
  p.q = call.input("q")->data<T>();
  p.k = call.input("k")->data<T>();
  p.v = call.input("v")->data<T>();
  p.s0 = call.input("s0") ? call.input("s0")->data<T>() : nullptr;
  p.o = call.output("o")->data<T>();
  p.B = call.dims.at("B");
  p.Tn = call.dims.at("T");
  p.H = call.dims.at("H");
  p.K = call.dims.at("K");
  p.V = call.dims.at("V");
  p.scale = static_cast<T>(resolve_scale(call.attrs.f("scale"), p.K));
  Tensor scratch;
  if (Tensor* s_final = call.output("s_final")) {
    p.state = s_final->data<T>();
  } else {
    scratch = call.input("q")->backend->empty(Shape{p.B, p.H, p.K, p.V}, call.dtype);
    p.state = scratch.data<T>();
  }
  const dim3 grid(static_cast<unsigned>(p.B * p.H), static_cast<unsigned>((p.V + 31) / 32));
  mixer_recurrent_kernel<T><<<grid, 32>>>(p);
  LINEA_CUDA_CHECK_LAUNCH("mixer_recurrent_kernel");
  // The scratch state is freed when this returns; wait so it is not freed in use.
  if (scratch.defined()) LINEA_CUDA_CHECK(cudaDeviceSynchronize());
}

}  // namespace

void register_cuda_mixer_kernels(Backend& backend) {
  // Plain additive mixer only: other switches are refused before allocation (mixer_support.h).
  backend.add_kernel("mixer_fwd", DType::f32, mixer_fwd_recurrent<float>, cuda_mixer_fwd_accepts);
  backend.add_kernel("mixer_fwd", DType::f64, mixer_fwd_recurrent<double>, cuda_mixer_fwd_accepts);
}

}  // namespace linea
