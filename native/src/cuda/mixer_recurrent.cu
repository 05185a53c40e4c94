// Recurrent linear-attention mixer on CUDA: the straightforward port of the
// CPU reference (src/cpu/mixer_recurrent.cpp), one thread per value column.
//
// q, k: (B, T, H, K)   v, o: (B, T, H, V)   s0, s_final: (B, H, K, V)
#include <cmath>

#include "../ops/mixer_params.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "mixer_support.h"

namespace linea {
namespace {

// The call's parameters (resolved once, src/ops/mixer_params.h) and its tensors.
template <class T>
struct MixerArgs {
  MixerParams params;
  const T *q, *k, *v, *s0;  // s0: nullptr when absent
  T *o, *state;             // state: (B, H, K, V) working state, left as the final state
};

// Kernel: grid (B*H, ceil(V/32)), block 32. Each thread owns column c of S
// (K values, kept in global memory: K is unbounded here), and per step
// computes o_t[c] = sum_a q_a (S[a,c] + k_a v_c) in one pass.
template <class T>
__global__ void mixer_recurrent_kernel(MixerArgs<T> args) {
  const MixerParams& p = args.params;
  const int64_t bh = blockIdx.x;
  const int64_t b = bh / p.H, h = bh % p.H;
  const int64_t c = blockIdx.y * int64_t(blockDim.x) + threadIdx.x;
  if (c >= p.V) return;
  T* S = args.state + bh * p.K * p.V;
  const T* s0 = p.has_s0 ? args.s0 + bh * p.K * p.V : nullptr;
  const T scale = static_cast<T>(p.scale);
  for (int64_t a = 0; a < p.K; ++a) S[a * p.V + c] = s0 ? s0[a * p.V + c] : T(0);
  for (int64_t t = 0; t < p.T; ++t) {
    const int64_t row = (b * p.T + t) * p.H + h;
    const T* q = args.q + row * p.K;
    const T* k = args.k + row * p.K;
    const T vc = args.v[row * p.V + c];
    T acc = 0;
    for (int64_t a = 0; a < p.K; ++a) {
      const T s = S[a * p.V + c] + k[a] * vc;
      S[a * p.V + c] = s;
      acc += q[a] * s;
    }
    args.o[row * p.V + c] = acc * scale;
  }
}

template <class T>
void mixer_fwd_recurrent(OpCall& call) {
  MixerArgs<T> args{};
  args.params = mixer_params(call);
  const MixerParams& p = args.params;
  args.q = call.input("q")->data<T>();
  args.k = call.input("k")->data<T>();
  args.v = call.input("v")->data<T>();
  args.s0 = p.has_s0 ? call.input("s0")->data<T>() : nullptr;
  args.o = call.output("o")->data<T>();
  Tensor scratch;
  if (p.want_s_final) {
    args.state = call.output("s_final")->data<T>();
  } else {
    scratch = call.input("q")->backend->empty(Shape{p.B, p.H, p.K, p.V}, call.dtype);
    args.state = scratch.data<T>();
  }
  const dim3 grid(static_cast<unsigned>(p.B * p.H), static_cast<unsigned>((p.V + 31) / 32));
  mixer_recurrent_kernel<T><<<grid, 32>>>(args);
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
