// The mixer_fwd and mixer_bwd kernels of the CPU backend: one task per
// (batch, head), each gathering its sequence, running the chosen form and
// scattering the results.
#include "../cpu_backend.h"
#include "../parallel.h"
#include "mixer_forms.h"

namespace linea {
namespace {

using namespace mixer;

template <class T>
void mixer_fwd_kernel(OpCall& call) {
  const MixerParams c = mixer_params(call);
  Tensors<T> t = Tensors<T>::from(call);
  parallel_for(c.B * c.H, [&](int64_t bh) {
    HeadSeq<T> s;
    gather_head(c, t, bh / c.H, bh % c.H, false, s);
    std::vector<T> o, S, z;
    if (c.chunked()) chunked_forward(c, s, o, S, z);
    else recurrent_forward(c, s, o, S, z);
    scatter_forward(c, t, bh / c.H, bh % c.H, s, o, S, z);
  });
}

template <class T>
void mixer_bwd_kernel(OpCall& call) {
  const MixerParams c = mixer_params(call);
  Tensors<T> t = Tensors<T>::from(call);
  std::vector<T> fixed_dg(c.B * c.H, T(0));
  parallel_for(c.B * c.H, [&](int64_t bh) {
    HeadSeq<T> s;
    gather_head(c, t, bh / c.H, bh % c.H, true, s);
    HeadGrads<T> d;
    d.reset(s, c.has_denominator());
    if (c.chunked()) chunked_backward(c, s, d);
    else recurrent_backward(c, s, d);
    scatter_backward(c, t, bh / c.H, bh % c.H, d, fixed_dg);
  });
  reduce_fixed_gate_grad(c, t, fixed_dg);
}

}  // namespace

void register_cpu_mixer_kernels(Backend& backend) {
  backend.add_kernel("mixer_fwd", DType::f32, mixer_fwd_kernel<float>);
  backend.add_kernel("mixer_fwd", DType::f64, mixer_fwd_kernel<double>);
  backend.add_kernel("mixer_bwd", DType::f32, mixer_bwd_kernel<float>);
  backend.add_kernel("mixer_bwd", DType::f64, mixer_bwd_kernel<double>);
}

}  // namespace linea
