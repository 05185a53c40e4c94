// Pieces of the CPU mixer shared by the recurrent and the chunked forms: one
// head's sequence gathered into contiguous arrays with its effective gates, and
// the scatter of results back. The call's switches and dims come resolved, as
// MixerParams (src/ops/mixer_params.h).
//
// Effective gates: every form computes the same per-head recurrence
//   S_t = Diag(exp gk_t) S_{t-1} + (write),  write weight exp(lw_t),
// where gk (log decay, <= 0) has 0, 1 or K entries per step and lw (log
// write weight) exists only with an input gate. The exp input gate's
// stabilizer m is folded in here, once, so both forms agree exactly:
//   gk_t = g_t + m_{t-1} - m_t,  lw_t = i_t - m_t,  max1 floor_t = exp(-m_t).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../../ops/mixer_params.h"
#include "linea/ops.h"

namespace linea::mixer {

// The call's tensors as raw pointers; nullptr where absent or not requested.
template <class T>
struct Tensors {
  const T *q = nullptr, *k = nullptr, *v = nullptr, *g = nullptr, *i = nullptr, *beta = nullptr;
  const T *s0 = nullptr, *z0 = nullptr, *m0 = nullptr;
  const T *d_o = nullptr, *ds_final = nullptr, *dz_final = nullptr;
  T *o = nullptr, *s_final = nullptr, *z_final = nullptr, *m_final = nullptr;
  T *dq = nullptr, *dk = nullptr, *dv = nullptr, *dg = nullptr, *di = nullptr, *dbeta = nullptr;
  T *ds0 = nullptr, *dz0 = nullptr;

  static Tensors from(OpCall& call) {
    Tensors t;
    auto in = [&](const char* name) -> const T* {
      const Tensor* x = call.input(name);
      return x ? x->data<T>() : nullptr;
    };
    auto out = [&](const char* name) -> T* {
      Tensor* x = call.output(name);
      return x ? x->data<T>() : nullptr;
    };
    t.q = in("q"), t.k = in("k"), t.v = in("v"), t.g = in("g"), t.i = in("i"), t.beta = in("beta");
    t.s0 = in("s0"), t.z0 = in("z0"), t.m0 = in("m0");
    t.d_o = in("do"), t.ds_final = in("ds_final"), t.dz_final = in("dz_final");
    t.o = out("o"), t.s_final = out("s_final"), t.z_final = out("z_final"), t.m_final = out("m_final");
    t.dq = out("dq"), t.dk = out("dk"), t.dv = out("dv"), t.dg = out("dg"), t.di = out("di"), t.dbeta = out("dbeta");
    t.ds0 = out("ds0"), t.dz0 = out("dz0");
    return t;
  }
};

// One head's sequence, contiguous, with effective gates.
template <class T>
struct HeadSeq {
  int64_t Tn = 0, K = 0, V = 0, gd = 0;
  std::vector<T> q;      // Tn x K, already multiplied by scale
  std::vector<T> k;      // Tn x K
  std::vector<T> v;      // Tn x V
  std::vector<T> gk;     // Tn x gd: effective log decay (<= 0)
  std::vector<T> lw;     // Tn: effective log write weight (empty without input gate)
  std::vector<T> beta;   // Tn (empty without delta)
  std::vector<T> floor;  // Tn: max1 floor (empty unless normalize is max1)
  std::vector<T> s0;     // K x V
  std::vector<T> z0;     // K (empty without denominator)
  T m_final = 0;         // the exp gate's stabilizer after the last step
  // Upstream gradients (backward only)
  std::vector<T> d_o;  // Tn x V
  std::vector<T> ds;   // K x V, gradient of the final state
  std::vector<T> dz;   // K
};

// Gradients of one head, in the effective variables (scatter converts them).
template <class T>
struct HeadGrads {
  std::vector<T> dq, dk, dv, dgk, dlw, dbeta, ds0, dz0;
  void reset(const HeadSeq<T>& s, bool denominator) {
    dq.assign(s.Tn * s.K, T(0));
    dk.assign(s.Tn * s.K, T(0));
    dv.assign(s.Tn * s.V, T(0));
    dgk.assign(s.Tn * s.gd, T(0));
    dlw.assign(s.lw.empty() ? 0 : s.Tn, T(0));
    dbeta.assign(s.beta.empty() ? 0 : s.Tn, T(0));
    ds0.assign(s.K * s.V, T(0));
    dz0.assign(denominator ? s.K : 0, T(0));
  }
};

template <class T>
inline T log_sigmoid(T x) {
  // log(1 / (1 + e^-x)) without overflow for large |x|
  return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x));
}

// log(softplus(x)) = log(log1p(e^x)), finite for every finite x.
template <class T>
inline T log_softplus(T x) {
  if (x > T(20)) return std::log(x + std::log1p(std::exp(-x)));
  if (x < T(-20)) return x;  // softplus(x) ~ e^x
  return std::log(std::log1p(std::exp(x)));
}

template <class T>
inline T sigmoid(T x) {
  return x >= 0 ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
}

// Gathers head (b, h) of the call into `s`. `backward` also gathers the upstream gradients.
template <class T>
void gather_head(const MixerParams& c, const Tensors<T>& t, int64_t b, int64_t h, bool backward, HeadSeq<T>& s) {
  const int64_t Tn = c.T, K = c.K, V = c.V, H = c.H;
  s.Tn = Tn, s.K = K, s.V = V, s.gd = c.gate_dims();
  s.q.resize(Tn * K), s.k.resize(Tn * K), s.v.resize(Tn * V);
  const T scale = T(c.scale);
  for (int64_t t_ = 0; t_ < Tn; ++t_) {
    const int64_t row = (b * Tn + t_) * H + h;
    for (int64_t a = 0; a < K; ++a) {
      s.q[t_ * K + a] = t.q[row * K + a] * scale;
      s.k[t_ * K + a] = t.k[row * K + a];
    }
    std::copy(t.v + row * V, t.v + row * V + V, s.v.begin() + t_ * V);
  }

  // Raw log decay per step, then the exp gate's stabilizer on top.
  s.gk.assign(Tn * s.gd, T(0));
  for (int64_t t_ = 0; t_ < Tn && c.gate != MixerGate::none; ++t_) {
    const int64_t row = (b * Tn + t_) * H + h;
    if (c.gate == MixerGate::fixed) s.gk[t_] = t.g[h];
    else if (c.gate == MixerGate::scalar) s.gk[t_] = t.g[row];
    else std::copy(t.g + row * K, t.g + row * K + K, s.gk.begin() + t_ * K);
  }
  s.lw.clear();
  s.floor.clear();
  if (c.input_gate != MixerInputGate::none) {
    s.lw.resize(Tn);
    if (c.normalize == MixerNormalize::max1) s.floor.assign(Tn, T(1));
    T m = c.input_gate == MixerInputGate::exp && t.m0 ? t.m0[b * H + h] : T(0);
    for (int64_t t_ = 0; t_ < Tn; ++t_) {
      const T pre = t.i[(b * Tn + t_) * H + h];
      if (c.input_gate == MixerInputGate::sigmoid) {
        s.lw[t_] = log_sigmoid(pre);
        continue;
      }
      if (c.input_gate == MixerInputGate::softplus) {
        s.lw[t_] = log_softplus(pre);
        continue;
      }
      T* gk = s.gk.data() + t_ * s.gd;
      T gmax = gk[0];
      for (int64_t a = 1; a < s.gd; ++a) gmax = std::max(gmax, gk[a]);
      const T m_new = std::max(gmax + m, pre);
      for (int64_t a = 0; a < s.gd; ++a) gk[a] += m - m_new;
      s.lw[t_] = pre - m_new;
      if (!s.floor.empty()) s.floor[t_] = std::exp(-m_new);
      m = m_new;
    }
    s.m_final = m;
  }
  if (c.normalize == MixerNormalize::max1 && s.floor.empty()) s.floor.assign(Tn, T(1));
  s.beta.clear();
  if (c.delta) {
    s.beta.resize(Tn);
    for (int64_t t_ = 0; t_ < Tn; ++t_) s.beta[t_] = t.beta[(b * Tn + t_) * H + h];
  }
  const int64_t bh = b * H + h;
  if (t.s0) s.s0.assign(t.s0 + bh * K * V, t.s0 + (bh + 1) * K * V);
  else s.s0.assign(K * V, T(0));
  s.z0.clear();
  if (c.has_denominator()) {
    if (t.z0) s.z0.assign(t.z0 + bh * K, t.z0 + (bh + 1) * K);
    else s.z0.assign(K, T(0));
  }
  if (!backward) return;
  s.d_o.resize(Tn * V);
  for (int64_t t_ = 0; t_ < Tn; ++t_) {
    const int64_t row = (b * Tn + t_) * H + h;
    std::copy(t.d_o + row * V, t.d_o + row * V + V, s.d_o.begin() + t_ * V);
  }
  if (t.ds_final) s.ds.assign(t.ds_final + bh * K * V, t.ds_final + (bh + 1) * K * V);
  else s.ds.assign(K * V, T(0));
  s.dz.clear();
  if (c.has_denominator()) {
    if (t.dz_final) s.dz.assign(t.dz_final + bh * K, t.dz_final + (bh + 1) * K);
    else s.dz.assign(K, T(0));
  }
}

// Forward results of one head: o (Tn x V) and the final states.
template <class T>
void scatter_forward(const MixerParams& c, Tensors<T>& t, int64_t b, int64_t h, const HeadSeq<T>& s,
                     const std::vector<T>& o, const std::vector<T>& S, const std::vector<T>& z) {
  const int64_t Tn = c.T, V = c.V, K = c.K, H = c.H, bh = b * H + h;
  for (int64_t t_ = 0; t_ < Tn; ++t_)
    std::copy(o.begin() + t_ * V, o.begin() + (t_ + 1) * V, t.o + ((b * Tn + t_) * H + h) * V);
  if (t.s_final) std::copy(S.begin(), S.end(), t.s_final + bh * K * V);
  if (t.z_final) std::copy(z.begin(), z.end(), t.z_final + bh * K);
  if (t.m_final) t.m_final[bh] = s.m_final;
}

// Gradients of one head back to the call's inputs. The fixed gate's gradient
// is a sum over batch and time: it goes to fixed_dg[bh] and is reduced later.
template <class T>
void scatter_backward(const MixerParams& c, Tensors<T>& t, int64_t b, int64_t h, const HeadGrads<T>& d,
                      std::vector<T>& fixed_dg) {
  const int64_t Tn = c.T, V = c.V, K = c.K, H = c.H, bh = b * H + h;
  const T scale = T(c.scale);
  for (int64_t t_ = 0; t_ < Tn; ++t_) {
    const int64_t row = (b * Tn + t_) * H + h;
    for (int64_t a = 0; a < K; ++a) {
      t.dq[row * K + a] = d.dq[t_ * K + a] * scale;
      t.dk[row * K + a] = d.dk[t_ * K + a];
    }
    std::copy(d.dv.begin() + t_ * V, d.dv.begin() + (t_ + 1) * V, t.dv + row * V);
    if (c.gate == MixerGate::scalar) t.dg[row] = d.dgk[t_];
    if (c.gate == MixerGate::vector) std::copy(d.dgk.begin() + t_ * K, d.dgk.begin() + (t_ + 1) * K, t.dg + row * K);
    if (t.dbeta) t.dbeta[row] = d.dbeta[t_];
    if (c.input_gate == MixerInputGate::exp) t.di[row] = d.dlw[t_];
    if (c.input_gate == MixerInputGate::sigmoid)
      t.di[row] = d.dlw[t_] * sigmoid(-t.i[row]);  // d log sigmoid(x) = 1 - s = sigmoid(-x)
    if (c.input_gate == MixerInputGate::softplus) {
      // d log(softplus(x)) / dx = sigmoid(x) / softplus(x)
      const T x = t.i[row];
      const T sp = x > T(20) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
      t.di[row] = d.dlw[t_] * (x < T(-20) ? T(1) : sigmoid(x) / sp);
    }
  }
  if (c.gate == MixerGate::fixed) {
    T sum = 0;
    for (int64_t t_ = 0; t_ < Tn; ++t_) sum += d.dgk[t_];
    fixed_dg[bh] = sum;
  }
  if (t.ds0) std::copy(d.ds0.begin(), d.ds0.end(), t.ds0 + bh * K * V);
  if (t.dz0) std::copy(d.dz0.begin(), d.dz0.end(), t.dz0 + bh * K);
}

// Sums the per-(b, h) fixed-gate gradients into dg [H].
template <class T>
void reduce_fixed_gate_grad(const MixerParams& c, Tensors<T>& t, const std::vector<T>& fixed_dg) {
  if (c.gate != MixerGate::fixed || !t.dg) return;
  for (int64_t h = 0; h < c.H; ++h) {
    T sum = 0;
    for (int64_t b = 0; b < c.B; ++b) sum += fixed_dg[b * c.H + h];
    t.dg[h] = sum;
  }
}

// Output normalization, shared by both forms: o = num / den' with
// den' = den + eps (sum) or max(|den|, floor) (max1). Returns den'.
template <class T>
inline T denominator(MixerNormalize n, T den, T eps, T floor) {
  if (n == MixerNormalize::sum) return den + eps;
  return std::max(std::abs(den), floor);
}

// Backward of o = num / den' for one step: fills dnum (V) and returns dden.
template <class T>
inline T denominator_backward(MixerNormalize n, T den, T eps, T floor, const T* o, const T* d_o, int64_t V, T* dnum) {
  const T dn = denominator(n, den, eps, floor);
  T dot = 0;
  for (int64_t c = 0; c < V; ++c) {
    dnum[c] = d_o[c] / dn;
    dot += d_o[c] * o[c];
  }
  const T d_dn = -dot / dn;  // gradient w.r.t. den'
  if (n == MixerNormalize::sum) return d_dn;
  return std::abs(den) > floor ? (den >= 0 ? d_dn : -d_dn) : T(0);
}

}  // namespace linea::mixer
