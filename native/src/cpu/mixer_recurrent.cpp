// Recurrent (one step at a time) linear-attention mixer on the CPU: the
// reference semantics every other form and backend is checked against.
//
// q, k: (B, T, H, K)   v, o: (B, T, H, V)   s0, s_final: (B, H, K, V)
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace linea {
namespace {

template <class T>
struct MixerParams {
  const T *q, *k, *v, *s0;
  T *o, *s_final;
  int64_t B, Tn, H, K, V;
  T scale;
};

// One (batch, head) row: S is the K x V state, updated in place.
template <class T>
void recurrent_row(const MixerParams<T>& p, int64_t b, int64_t h, std::vector<T>& S) {
  const int64_t K = p.K, V = p.V;
  const T* s0 = p.s0 ? p.s0 + (b * p.H + h) * K * V : nullptr;
  for (int64_t i = 0; i < K * V; ++i) S[i] = s0 ? s0[i] : T(0);
  for (int64_t t = 0; t < p.Tn; ++t) {
    const int64_t row = (b * p.Tn + t) * p.H + h;
    const T* q = p.q + row * K;
    const T* k = p.k + row * K;
    const T* v = p.v + row * V;
    T* o = p.o + row * V;
    for (int64_t a = 0; a < K; ++a) {
      T* s = &S[a * V];
      const T ka = k[a];
      for (int64_t c = 0; c < V; ++c) s[c] += ka * v[c];
    }
    for (int64_t c = 0; c < V; ++c) o[c] = T(0);
    for (int64_t a = 0; a < K; ++a) {
      const T* s = &S[a * V];
      const T qa = q[a] * p.scale;
      for (int64_t c = 0; c < V; ++c) o[c] += qa * s[c];
    }
  }
  if (p.s_final) {
    T* out = p.s_final + (b * p.H + h) * K * V;
    for (int64_t i = 0; i < K * V; ++i) out[i] = S[i];
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
  p.s_final = call.output("s_final") ? call.output("s_final")->data<T>() : nullptr;
  p.B = call.dims.at("B");
  p.Tn = call.dims.at("T");
  p.H = call.dims.at("H");
  p.K = call.dims.at("K");
  p.V = call.dims.at("V");
  const double scale = call.attrs.f("scale");
  p.scale = static_cast<T>(scale == 0.0 ? 1.0 / std::sqrt(static_cast<double>(p.K)) : scale);
  parallel_for(p.B * p.H, [&](int64_t bh) {
    std::vector<T> S(static_cast<size_t>(p.K * p.V));
    recurrent_row(p, bh / p.H, bh % p.H, S);
  });
}

}  // namespace

void register_cpu_mixer_kernels(Backend& backend) {
  backend.add_kernel("mixer_fwd", DType::f32, mixer_fwd_recurrent<float>);
  backend.add_kernel("mixer_fwd", DType::f64, mixer_fwd_recurrent<double>);
}

}  // namespace linea
