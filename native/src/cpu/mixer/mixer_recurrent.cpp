// The recurrent form of the CPU mixer: one step at a time, the reference
// semantics the chunked form and every other backend are checked against.
//
// Per head: q, k (Tn x K); v, o (Tn x V); S (K x V); z (K); gates per step.
// The backward keeps every state S_t (Tn x K x V per head in flight); it is
// the reference, not the fast path.
#include <cmath>
#include <vector>

#include "mixer_forms.h"

namespace linea::mixer {
namespace {

// Decays S (K x V) and z (K) by step t's gate.
template <class T>
void decay(const HeadSeq<T>& s, int64_t t, T* S, T* z) {
  const int64_t K = s.K, V = s.V;
  if (s.gd == 0) return;
  for (int64_t a = 0; a < K; ++a) {
    const T f = std::exp(s.gk[t * s.gd + (s.gd == 1 ? 0 : a)]);
    for (int64_t c = 0; c < V; ++c) S[a * V + c] *= f;
    if (z) z[a] *= f;
  }
}

// Writes step t into the decayed state S' (becoming S_t); r gets v − S'ᵀk for the delta rule.
template <class T>
void write(const MixerParams& c, const HeadSeq<T>& s, int64_t t, T* S, T* z, T* r) {
  const int64_t K = s.K, V = s.V;
  const T* k = &s.k[t * K];
  const T* v = &s.v[t * V];
  if (c.delta) {
    for (int64_t col = 0; col < V; ++col) r[col] = v[col];
    for (int64_t a = 0; a < K; ++a)
      for (int64_t col = 0; col < V; ++col) r[col] -= S[a * V + col] * k[a];
    const T beta = s.beta[t];
    for (int64_t a = 0; a < K; ++a) {
      const T kb = k[a] * beta;
      for (int64_t col = 0; col < V; ++col) S[a * V + col] += kb * r[col];
    }
    return;
  }
  const T w = s.lw.empty() ? T(1) : std::exp(s.lw[t]);
  for (int64_t a = 0; a < K; ++a) {
    const T kw = k[a] * w;
    for (int64_t col = 0; col < V; ++col) S[a * V + col] += kw * v[col];
    if (z) z[a] += kw;
  }
}

// o_t from S_t, z_t; returns the raw denominator q̂ᵀz (0 without one).
template <class T>
T read(const MixerParams& c, const HeadSeq<T>& s, int64_t t, const T* S, const T* z, T* o) {
  const int64_t K = s.K, V = s.V;
  const T* q = &s.q[t * K];
  for (int64_t col = 0; col < V; ++col) o[col] = T(0);
  for (int64_t a = 0; a < K; ++a)
    for (int64_t col = 0; col < V; ++col) o[col] += q[a] * S[a * V + col];
  if (!c.has_denominator()) return T(0);
  T den = 0;
  for (int64_t a = 0; a < K; ++a) den += q[a] * z[a];
  const T dn = denominator(c.normalize, den, T(c.eps), s.floor.empty() ? T(1) : s.floor[t]);
  for (int64_t col = 0; col < V; ++col) o[col] /= dn;
  return den;
}

}  // namespace

template <class T>
void recurrent_forward(const MixerParams& c, const HeadSeq<T>& s, std::vector<T>& o, std::vector<T>& S,
                       std::vector<T>& z) {
  o.assign(s.Tn * s.V, T(0));
  S = s.s0;
  z = s.z0;
  std::vector<T> r(s.V);
  T* zp = z.empty() ? nullptr : z.data();
  for (int64_t t = 0; t < s.Tn; ++t) {
    decay(s, t, S.data(), zp);
    write(c, s, t, S.data(), zp, r.data());
    read(c, s, t, S.data(), zp, &o[t * s.V]);
  }
}

template <class T>
void recurrent_backward(const MixerParams& c, const HeadSeq<T>& s, HeadGrads<T>& d) {
  const int64_t Tn = s.Tn, K = s.K, V = s.V, KV = K * V;
  const bool den_on = c.has_denominator();
  // Forward, keeping every state.
  std::vector<T> states(Tn * KV), zs(den_on ? Tn * K : 0);
  {
    std::vector<T> S = s.s0, z = s.z0, r(V), o(V);
    for (int64_t t = 0; t < Tn; ++t) {
      decay(s, t, S.data(), den_on ? z.data() : nullptr);
      write(c, s, t, S.data(), den_on ? z.data() : nullptr, r.data());
      std::copy(S.begin(), S.end(), states.begin() + t * KV);
      if (den_on) std::copy(z.begin(), z.end(), zs.begin() + t * K);
    }
  }
  std::vector<T> dS = s.ds, dz = s.dz;
  std::vector<T> Sp(KV), zp(den_on ? K : 0), o(V), dnum(V), r(V), du(V), dr(V);
  for (int64_t t = Tn - 1; t >= 0; --t) {
    const T* St = &states[t * KV];
    const T* zt = den_on ? &zs[t * K] : nullptr;
    const T* q = &s.q[t * K];
    const T* k = &s.k[t * K];
    const T* v = &s.v[t * V];
    T* dq = &d.dq[t * K];
    T* dk = &d.dk[t * K];
    T* dv = &d.dv[t * V];

    // o_t = num / den'
    T dden = 0;
    if (den_on) {
      const T den = read(c, s, t, St, zt, o.data());
      dden = denominator_backward(c.normalize, den, T(c.eps), s.floor.empty() ? T(1) : s.floor[t], o.data(),
                                  &s.d_o[t * V], V, dnum.data());
    } else {
      std::copy(&s.d_o[t * V], &s.d_o[t * V] + V, dnum.begin());
    }
    for (int64_t a = 0; a < K; ++a) {
      T acc = 0;
      for (int64_t col = 0; col < V; ++col) acc += St[a * V + col] * dnum[col];
      dq[a] = acc + (den_on ? zt[a] * dden : T(0));
      for (int64_t col = 0; col < V; ++col) dS[a * V + col] += q[a] * dnum[col];
      if (den_on) dz[a] += q[a] * dden;
    }

    // S'_t = D_t S_{t-1}, recomputed.
    if (t > 0) std::copy(&states[(t - 1) * KV], &states[t * KV], Sp.begin());
    else std::copy(s.s0.begin(), s.s0.end(), Sp.begin());
    if (den_on) {
      if (t > 0) std::copy(&zs[(t - 1) * K], &zs[t * K], zp.begin());
      else std::copy(s.z0.begin(), s.z0.end(), zp.begin());
    }
    decay(s, t, Sp.data(), den_on ? zp.data() : nullptr);

    if (c.delta) {
      // S_t = S' + β k rᵀ, r = v − S'ᵀk
      const T beta = s.beta[t];
      for (int64_t col = 0; col < V; ++col) {
        T acc = v[col];
        for (int64_t a = 0; a < K; ++a) acc -= Sp[a * V + col] * k[a];
        r[col] = acc;
      }
      for (int64_t col = 0; col < V; ++col) du[col] = 0;
      for (int64_t a = 0; a < K; ++a) {
        T acc = 0;
        for (int64_t col = 0; col < V; ++col) {
          du[col] += dS[a * V + col] * k[a];
          acc += dS[a * V + col] * r[col];
        }
        dk[a] += beta * acc;  // from k uᵀ, u = β r
      }
      T dbeta = 0;
      for (int64_t col = 0; col < V; ++col) {
        dbeta += du[col] * r[col];
        dr[col] = beta * du[col];
        dv[col] = dr[col];
      }
      d.dbeta[t] = dbeta;
      for (int64_t a = 0; a < K; ++a) {
        T acc = 0;
        for (int64_t col = 0; col < V; ++col) {
          acc += Sp[a * V + col] * dr[col];
          dS[a * V + col] -= k[a] * dr[col];  // dS' = dS − k drᵀ
        }
        dk[a] -= acc;
      }
    } else {
      // S_t = S' + w k vᵀ, z_t = z' + w k
      const T w = s.lw.empty() ? T(1) : std::exp(s.lw[t]);
      T dw = 0;
      for (int64_t col = 0; col < V; ++col) dv[col] = 0;
      for (int64_t a = 0; a < K; ++a) {
        T dSv = 0;
        for (int64_t col = 0; col < V; ++col) {
          dSv += dS[a * V + col] * v[col];
          dv[col] += dS[a * V + col] * k[a] * w;
        }
        dk[a] += w * dSv + (den_on ? w * dz[a] : T(0));
        dw += k[a] * dSv + (den_on ? k[a] * dz[a] : T(0));
      }
      if (!s.lw.empty()) d.dlw[t] = w * dw;
    }

    // S' = D_t S_{t-1}: gate gradient, then carry dS to S_{t-1}.
    if (s.gd > 0) {
      T* dg = &d.dgk[t * s.gd];
      for (int64_t a = 0; a < K; ++a) {
        T acc = 0;
        for (int64_t col = 0; col < V; ++col) acc += dS[a * V + col] * Sp[a * V + col];
        if (den_on) acc += dz[a] * zp[a];
        dg[s.gd == 1 ? 0 : a] += acc;
        const T f = std::exp(s.gk[t * s.gd + (s.gd == 1 ? 0 : a)]);
        for (int64_t col = 0; col < V; ++col) dS[a * V + col] *= f;
        if (den_on) dz[a] *= f;
      }
    }
  }
  d.ds0 = dS;
  if (den_on) d.dz0 = dz;
}

template void recurrent_forward<float>(const MixerParams&, const HeadSeq<float>&, std::vector<float>&,
                                       std::vector<float>&, std::vector<float>&);
template void recurrent_forward<double>(const MixerParams&, const HeadSeq<double>&, std::vector<double>&,
                                        std::vector<double>&, std::vector<double>&);
template void recurrent_backward<float>(const MixerParams&, const HeadSeq<float>&, HeadGrads<float>&);
template void recurrent_backward<double>(const MixerParams&, const HeadSeq<double>&, HeadGrads<double>&);

}  // namespace linea::mixer
