// The chunked (chunkwise-parallel) form of the CPU mixer. Per chunk of L
// steps, with the state S (K x V) and z (K) entering it:
//
//   Q̃ = Q ⊙ e^{b}            K̂ = K ⊙ e^{b_L − b}           P = gated scores of (Q, K), j <= i
//   additive: U = w ⊙ V      delta: [Ũ | W] = T⁻¹ diag(β) [V | K ⊙ e^{b}], T = I + diag(β) A,
//                                   A = gated scores of (K, K), j < i;  U = Ũ − W S
//   O = Q̃ S + P U            den = Q̃ z + P w
//   S ← e^{b_L} ⊙ S + K̂ᵀ U   z ← e^{b_L} ⊙ z + K̂ᵀ w
//
// The delta rule thus becomes an additive recurrence with new values U (the
// WY form), and every gate shape shares one algorithm (chunk_gates.h). The
// only sequential loop is over chunks; products are GEMMs. The backward
// stores S and z at each chunk start and walks the chunks in reverse,
// recomputing each chunk's intermediates.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../blas.h"
#include "chunk_gates.h"
#include "mixer_forms.h"

namespace linea::mixer {
namespace {

// Per-head scratch, sized once for the chunk length.
template <class T>
struct ChunkWork {
  int64_t C, K, V;
  std::vector<T> Qt, Kt, Kh, P, A, Tm, U, X, O, den, w, scratch;
  // backward only
  std::vector<T> dO, dden, o_row, dQt, dP, dU, dKh, dw, db, dX, dY, dA, dT, newdS, newdz;

  ChunkWork(int64_t C_, int64_t K_, int64_t V_, bool backward) : C(C_), K(K_), V(V_) {
    Qt.resize(C * K), Kt.resize(C * K), Kh.resize(C * K), P.resize(C * C), A.resize(C * C), Tm.resize(C * C);
    U.resize(C * V);
    X.resize(C * (V + K)), O.resize(C * V), den.resize(C), w.resize(C);
    if (!backward) return;
    dO.resize(C * V), dden.resize(C), o_row.resize(V), dQt.resize(C * K), dP.resize(C * C), dU.resize(C * V),
        dKh.resize(C * K);
    dw.resize(C), dX.resize(C * (V + K)), dY.resize(C * (V + K)), dA.resize(C * C), dT.resize(C * C);
    newdS.resize(K * V), newdz.resize(K);
  }
};

// Everything the forward computes inside one chunk, up to the (raw) outputs O
// and den; the backward calls it again to recompute.
template <class T>
void chunk_intermediates(const MixerParams& c, const HeadSeq<T>& s, int64_t t0, int64_t L, const ChunkGates<T>& gates,
                         const T* S, const T* z, ChunkWork<T>& wk) {
  const int64_t K = s.K, V = s.V, VK = V + K;
  const T* Q = &s.q[t0 * K];
  const T* Kc = &s.k[t0 * K];
  const T* Vc = &s.v[t0 * V];
  gates.scale_rows(gates.eb, Q, wk.Qt.data());
  gates.scale_rows(gates.eb_last, Kc, wk.Kh.data());
  gates.scores(Q, Kc, false, wk.P.data(), wk.scratch);
  for (int64_t j = 0; j < L; ++j) wk.w[j] = s.lw.empty() ? T(1) : std::exp(s.lw[t0 + j]);
  if (c.delta) {
    // T X = diag(β) [V | K̃], T = I + diag(β) A unit lower triangular.
    gates.scores(Kc, Kc, true, wk.A.data(), wk.scratch);
    gates.scale_rows(gates.eb, Kc, wk.Kt.data());
    for (int64_t i = 0; i < L; ++i) {
      const T beta = s.beta[t0 + i];
      T* Xi = &wk.X[i * VK];
      for (int64_t col = 0; col < V; ++col) Xi[col] = beta * Vc[i * V + col];
      for (int64_t d = 0; d < K; ++d) Xi[V + d] = beta * wk.Kt[i * K + d];
      for (int64_t j = 0; j < i; ++j) wk.Tm[i * L + j] = beta * wk.A[i * L + j];
    }
    trsm_unit_lower<T>(false, L, VK, wk.Tm.data(), L, wk.X.data(), VK);
    // U = Ũ − W S
    for (int64_t i = 0; i < L; ++i) std::copy(&wk.X[i * VK], &wk.X[i * VK] + V, &wk.U[i * V]);
    gemm<T>(false, false, L, V, K, T(-1), wk.X.data() + V, VK, S, V, T(1), wk.U.data(), V);
  } else {
    for (int64_t j = 0; j < L; ++j)
      for (int64_t col = 0; col < V; ++col) wk.U[j * V + col] = wk.w[j] * Vc[j * V + col];
  }
  // O = Q̃ S + P U
  gemm<T>(false, false, L, V, K, T(1), wk.Qt.data(), K, S, V, T(0), wk.O.data(), V);
  gemm<T>(false, false, L, V, L, T(1), wk.P.data(), L, wk.U.data(), V, T(1), wk.O.data(), V);
  if (c.has_denominator()) {
    for (int64_t i = 0; i < L; ++i) {
      T acc = 0;
      for (int64_t d = 0; d < K; ++d) acc += wk.Qt[i * K + d] * z[d];
      for (int64_t j = 0; j <= i; ++j) acc += wk.P[i * L + j] * wk.w[j];
      wk.den[i] = acc;
    }
  }
}

// S ← e^{b_L} ⊙ S + K̂ᵀ U;  z ← e^{b_L} ⊙ z + K̂ᵀ w
template <class T>
void advance_state(const MixerParams& c, int64_t L, const ChunkGates<T>& gates, const ChunkWork<T>& wk, T* S, T* z) {
  const int64_t K = wk.K, V = wk.V;
  for (int64_t d = 0; d < K; ++d) {
    const T f = gates.state_decay(d);
    if (f != T(1))
      for (int64_t col = 0; col < V; ++col) S[d * V + col] *= f;
  }
  gemm<T>(true, false, K, V, L, T(1), wk.Kh.data(), K, wk.U.data(), V, T(1), S, V);
  if (!c.has_denominator()) return;
  for (int64_t d = 0; d < K; ++d) {
    T acc = z[d] * gates.state_decay(d);
    for (int64_t j = 0; j < L; ++j) acc += wk.Kh[j * K + d] * wk.w[j];
    z[d] = acc;
  }
}

template <class T>
T floor_at(const HeadSeq<T>& s, int64_t t) {
  return s.floor.empty() ? T(1) : s.floor[t];
}

// ---- the backward, by passes -------------------------------------------------
//
// The backward walks the chunks in reverse. Per chunk, after recomputing its
// forward intermediates, it runs the passes a GPU kernel also has:
//   state gradient  dS, dz entering the chunk from those leaving it (the only
//                   sequential dependency: a GPU runs it as one pass over the
//                   chunks, storing dS per chunk);
//   dq/dk           through Q̃, K̂ and the scores P, with the gate gradient db;
//   dv              through U (additive: U = w ⊙ V; delta: the WY form, which
//                   also yields dβ and a part of dk);
// then dg = reverse cumsum of db. The dq/dk and dv passes read only the chunk's
// own intermediates, the state entering it and the dS leaving it, so on a GPU
// they are parallel over chunks. Shapes, per chunk of L rows: Q, K, Q̃, K̂, K̃
// (L x K); V, U, O, dO (L x V); P, A, T (L x L); w, den, dden, dw (L);
// S, dS (K x V); z, dz (K); db (L x gd). Each gradient is accumulated in the
// order the unsplit backward used, so results are bit-identical to it.

// The state (S, z) entering a chunk, or the gradient of the state leaving it;
// z is nullptr without a denominator.
template <class T>
struct ChunkState {
  const T* S;  // K x V
  const T* z;  // K, or nullptr
};

// Replays the forward: starts (n_chunks x K x V) and zstarts (n_chunks x K,
// empty without a denominator) get the state entering each chunk.
template <class T>
void chunk_start_states(const MixerParams& c, const HeadSeq<T>& s, ChunkWork<T>& wk, ChunkGates<T>& gates,
                        std::vector<T>& starts, std::vector<T>& zstarts) {
  const int64_t Tn = s.Tn, K = s.K, KV = s.K * s.V, C = c.chunk_size;
  const bool den_on = c.has_denominator();
  const int64_t n_chunks = (Tn + C - 1) / C;
  starts.resize(n_chunks * KV);
  zstarts.resize(den_on ? n_chunks * K : 0);
  std::vector<T> S = s.s0, z = s.z0;
  for (int64_t n = 0; n < n_chunks; ++n) {
    const int64_t t0 = n * C, L = std::min(C, Tn - t0);
    std::copy(S.begin(), S.end(), starts.begin() + n * KV);
    if (den_on) std::copy(z.begin(), z.end(), zstarts.begin() + n * K);
    gates.compute(s.gk.data() + t0 * s.gd, L, K, s.gd);
    chunk_intermediates(c, s, t0, L, gates, S.data(), z.data(), wk);
    advance_state(c, L, gates, wk, S.data(), z.data());
  }
}

// Output normalization backward: dO (L x V), the gradient of the raw O, and
// dden (L), of the raw denominator, from the upstream d_o of rows t0 .. t0+L.
template <class T>
void output_grads(const MixerParams& c, const HeadSeq<T>& s, int64_t t0, int64_t L, ChunkWork<T>& wk) {
  const int64_t V = s.V;
  for (int64_t i = 0; i < L; ++i) {
    const T* d_o = &s.d_o[(t0 + i) * V];
    if (!c.has_denominator()) {
      std::copy(d_o, d_o + V, &wk.dO[i * V]);
      continue;
    }
    const T dn = denominator(c.normalize, wk.den[i], T(c.eps), floor_at(s, t0 + i));
    for (int64_t col = 0; col < V; ++col) wk.o_row[col] = wk.O[i * V + col] / dn;
    wk.dden[i] = denominator_backward(c.normalize, wk.den[i], T(c.eps), floor_at(s, t0 + i), wk.o_row.data(), d_o, V,
                                      &wk.dO[i * V]);
  }
}

// State gradient pass. From dout (dS: K x V, dz: K, leaving the chunk):
//   dU (L x V)     = Pᵀ dO + K̂ dS                 the gradient of the new values U
//   newdS (K x V)  = Q̃ᵀ dO + e^{b_L} ⊙ dS  (− Wᵀ dU with the delta rule, U = Ũ − W S)
//   newdz (K)      = Q̃ᵀ dden + e^{b_L} ⊙ dz
// newdS and newdz are the gradients of the state entering the chunk.
template <class T>
void state_grad_pass(const MixerParams& c, int64_t L, const ChunkGates<T>& gates, const ChunkState<T>& dout,
                     ChunkWork<T>& wk) {
  const int64_t K = wk.K, V = wk.V, VK = V + K;
  gemm<T>(true, false, L, V, L, T(1), wk.P.data(), L, wk.dO.data(), V, T(0), wk.dU.data(), V);
  gemm<T>(false, false, L, V, K, T(1), wk.Kh.data(), K, dout.S, V, T(1), wk.dU.data(), V);
  gemm<T>(true, false, K, V, L, T(1), wk.Qt.data(), K, wk.dO.data(), V, T(0), wk.newdS.data(), V);
  for (int64_t dd = 0; dd < K; ++dd) {
    const T f = gates.state_decay(dd);
    for (int64_t col = 0; col < V; ++col) wk.newdS[dd * V + col] += f * dout.S[dd * V + col];
    if (c.has_denominator()) {
      T acc = f * dout.z[dd];
      for (int64_t i = 0; i < L; ++i) acc += wk.Qt[i * K + dd] * wk.dden[i];
      wk.newdz[dd] = acc;
    }
  }
  if (c.delta) gemm<T>(true, false, K, V, L, T(-1), wk.X.data() + V, VK, wk.dU.data(), V, T(1), wk.newdS.data(), V);
}

// dq/dk pass: adds to dQ, dK (rows t0 .. t0+L of d.dq, d.dk, L x K each) and
// to db (L x gd) every path through Q̃ = Q ⊙ e^{b}, K̂ = K ⊙ e^{b_L − b}, the
// scores P and the state's decay e^{b_L}:
//   dQ̃ = dO Sᵀ + dden zᵀ;  dP = dO Uᵀ + dden wᵀ;  dK̂ = U dSᵀ + w dzᵀ
// The denominator's paths also reach the write weight: dw (L) starts as
// K̂ dz + Pᵀ dden here (same loop, same rounding); the dv pass adds dU·V.
template <class T>
void dqk_pass(const MixerParams& c, const HeadSeq<T>& s, int64_t t0, int64_t L, const ChunkGates<T>& gates,
              const ChunkState<T>& in, const ChunkState<T>& dout, ChunkWork<T>& wk, HeadGrads<T>& d) {
  const int64_t K = s.K, V = s.V, gd = s.gd;
  const T* Q = &s.q[t0 * K];
  const T* Kc = &s.k[t0 * K];
  T* dQ = &d.dq[t0 * K];
  T* dK = &d.dk[t0 * K];
  gemm<T>(false, true, L, K, V, T(1), wk.dO.data(), V, in.S, V, T(0), wk.dQt.data(), K);
  gemm<T>(false, true, L, L, V, T(1), wk.dO.data(), V, wk.U.data(), V, T(0), wk.dP.data(), L);
  gemm<T>(false, true, L, K, V, T(1), wk.U.data(), V, dout.S, V, T(0), wk.dKh.data(), K);
  std::fill(wk.dw.begin(), wk.dw.begin() + L, T(0));
  if (c.has_denominator()) {
    for (int64_t i = 0; i < L; ++i) {
      for (int64_t dd = 0; dd < K; ++dd) {
        wk.dQt[i * K + dd] += wk.dden[i] * in.z[dd];
        wk.dKh[i * K + dd] += wk.w[i] * dout.z[dd];
        wk.dw[i] += wk.Kh[i * K + dd] * dout.z[dd];
      }
      for (int64_t j = 0; j <= i; ++j) {
        wk.dP[i * L + j] += wk.dden[i] * wk.w[j];
        wk.dw[j] += wk.P[i * L + j] * wk.dden[i];
      }
    }
  }

  // db collects every path through b (dg = its reverse cumsum, later).
  for (int64_t i = 0; i < L; ++i)
    for (int64_t dd = 0; dd < K; ++dd)
      dQ[i * K + dd] += wk.dQt[i * K + dd] * (gd == 0 ? T(1) : gates.eb[i * gd + (gd == 1 ? 0 : dd)]);
  gates.add_db(wk.db, wk.Qt.data(), wk.dQt.data(), T(1));
  gates.add_state_db(wk.db, in.S, dout.S, V);
  if (c.has_denominator() && gd > 0)
    for (int64_t dd = 0; dd < K; ++dd) {
      const int64_t g = gd == 1 ? 0 : dd;
      wk.db[(L - 1) * gd + g] += gates.decay[g] * dout.z[dd] * in.z[dd];
    }
  for (int64_t j = 0; j < L; ++j)
    for (int64_t dd = 0; dd < K; ++dd)
      dK[j * K + dd] += wk.dKh[j * K + dd] * (gd == 0 ? T(1) : gates.eb_last[j * gd + (gd == 1 ? 0 : dd)]);
  if (gd > 0) {
    // K̂_j = K_j e^{b_L − b_j}: −K̂ ⊙ dK̂ at j, +the sum at L.
    gates.add_db(wk.db, wk.Kh.data(), wk.dKh.data(), T(-1));
    for (int64_t j = 0; j < L; ++j)
      for (int64_t dd = 0; dd < K; ++dd)
        wk.db[(L - 1) * gd + (gd == 1 ? 0 : dd)] += wk.Kh[j * K + dd] * wk.dKh[j * K + dd];
  }
  gates.scores_backward(Q, Kc, false, wk.P.data(), wk.dP.data(), dQ, dK, wk.db, wk.scratch);
}

// dv pass: from dU (L x V), the gradient of the new values U, adds to dV
// (rows t0 .. t0+L of d.dv, L x V).
//   additive: U = w ⊙ V, so dV = w ⊙ dU, and dw += dU·V completes the write
//             weight's gradient; dlw = w ⊙ dw.
//   delta:    U = Ũ − W S with [Ũ | W] = X = T⁻¹ Y, Y = diag(β) [V | K̃]:
//             dX = [dU | −dU Sᵀ] (L x (V + K)), dY = T⁻ᵀ dX, dT = −dY Xᵀ;
//             adds to dV, dβ (L), dK (L x K) and db.
template <class T>
void dv_pass(const MixerParams& c, const HeadSeq<T>& s, int64_t t0, int64_t L, const ChunkGates<T>& gates,
             const ChunkState<T>& in, ChunkWork<T>& wk, HeadGrads<T>& d) {
  const int64_t K = s.K, V = s.V, VK = V + K, gd = s.gd;
  const T* Vc = &s.v[t0 * V];
  T* dV = &d.dv[t0 * V];
  if (!c.delta) {
    for (int64_t j = 0; j < L; ++j) {
      T acc = 0;
      for (int64_t col = 0; col < V; ++col) {
        dV[j * V + col] += wk.w[j] * wk.dU[j * V + col];
        acc += wk.dU[j * V + col] * Vc[j * V + col];
      }
      wk.dw[j] += acc;
      if (!s.lw.empty()) d.dlw[t0 + j] += wk.w[j] * wk.dw[j];
    }
    return;
  }
  const T* Kc = &s.k[t0 * K];
  T* dK = &d.dk[t0 * K];
  for (int64_t i = 0; i < L; ++i) std::copy(&wk.dU[i * V], &wk.dU[i * V] + V, &wk.dX[i * VK]);
  gemm<T>(false, true, L, K, V, T(-1), wk.dU.data(), V, in.S, V, T(0), wk.dX.data() + V, VK);
  // X = T⁻¹ Y: dY = T⁻ᵀ dX.
  std::copy(wk.dX.begin(), wk.dX.begin() + L * VK, wk.dY.begin());
  trsm_unit_lower<T>(true, L, VK, wk.Tm.data(), L, wk.dY.data(), VK);
  // dT = −dY Xᵀ (strictly lower): dA_ij = β_i dT_ij, dβ_i += Σ_j A_ij dT_ij.
  gemm<T>(false, true, L, L, VK, T(-1), wk.dY.data(), VK, wk.X.data(), VK, T(0), wk.dT.data(), L);
  for (int64_t i = 0; i < L; ++i) {
    const T beta = s.beta[t0 + i];
    T dbeta = 0;
    for (int64_t j = 0; j < L; ++j) {
      if (j < i) {
        dbeta += wk.A[i * L + j] * wk.dT[i * L + j];
        wk.dA[i * L + j] = beta * wk.dT[i * L + j];
      } else {
        wk.dA[i * L + j] = T(0);
      }
    }
    // Y_i = β_i rhs_i, rhs = [V | K̃]
    const T* dYi = &wk.dY[i * VK];
    for (int64_t col = 0; col < V; ++col) {
      dbeta += dYi[col] * Vc[i * V + col];
      dV[i * V + col] += beta * dYi[col];
    }
    for (int64_t dd = 0; dd < K; ++dd) {
      dbeta += dYi[V + dd] * wk.Kt[i * K + dd];
      // K̃ = K ⊙ e^{b}: dK += β dY ⊙ e^{b}; db += K̃ ⊙ (β dY)
      const T dKt = beta * dYi[V + dd];
      dK[i * K + dd] += dKt * (gd == 0 ? T(1) : gates.eb[i * gd + (gd == 1 ? 0 : dd)]);
      if (gd > 0) wk.db[i * gd + (gd == 1 ? 0 : dd)] += wk.Kt[i * K + dd] * dKt;
    }
    d.dbeta[t0 + i] += dbeta;
  }
  gates.scores_backward(Kc, Kc, true, wk.A.data(), wk.dA.data(), dK, dK, wk.db, wk.scratch);
}

}  // namespace

template <class T>
void chunked_forward(const MixerParams& c, const HeadSeq<T>& s, std::vector<T>& o, std::vector<T>& S,
                     std::vector<T>& z) {
  const int64_t Tn = s.Tn, V = s.V, C = c.chunk_size;
  o.assign(Tn * V, T(0));
  S = s.s0;
  z = s.z0;
  ChunkWork<T> wk(C, s.K, V, false);
  ChunkGates<T> gates;
  for (int64_t t0 = 0; t0 < Tn; t0 += C) {
    const int64_t L = std::min(C, Tn - t0);
    gates.compute(s.gk.data() + t0 * s.gd, L, s.K, s.gd);
    chunk_intermediates(c, s, t0, L, gates, S.data(), z.data(), wk);
    for (int64_t i = 0; i < L; ++i) {
      const T dn = c.has_denominator() ? denominator(c.normalize, wk.den[i], T(c.eps), floor_at(s, t0 + i)) : T(1);
      for (int64_t col = 0; col < V; ++col) o[(t0 + i) * V + col] = wk.O[i * V + col] / dn;
    }
    advance_state(c, L, gates, wk, S.data(), z.data());
  }
}

template <class T>
void chunked_backward(const MixerParams& c, const HeadSeq<T>& s, HeadGrads<T>& d) {
  const int64_t Tn = s.Tn, K = s.K, V = s.V, C = c.chunk_size, KV = K * V;
  const bool den_on = c.has_denominator();
  const int64_t n_chunks = (Tn + C - 1) / C;
  ChunkWork<T> wk(C, K, V, true);
  ChunkGates<T> gates;
  std::vector<T> starts, zstarts;
  chunk_start_states(c, s, wk, gates, starts, zstarts);

  // dS, dz: the gradient of the state leaving the current chunk.
  std::vector<T> dS = s.ds, dz = s.dz;
  for (int64_t n = n_chunks - 1; n >= 0; --n) {
    const int64_t t0 = n * C, L = std::min(C, Tn - t0);
    const ChunkState<T> in{&starts[n * KV], den_on ? &zstarts[n * K] : nullptr};
    const ChunkState<T> dout{dS.data(), den_on ? dz.data() : nullptr};
    gates.compute(s.gk.data() + t0 * s.gd, L, K, s.gd);
    chunk_intermediates(c, s, t0, L, gates, in.S, in.z, wk);
    output_grads(c, s, t0, L, wk);
    state_grad_pass(c, L, gates, dout, wk);
    wk.db.assign(L * s.gd, T(0));  // the dq/dk and dv passes add to it
    dqk_pass(c, s, t0, L, gates, in, dout, wk, d);
    dv_pass(c, s, t0, L, gates, in, wk, d);
    if (s.gd > 0) gates.reverse_cumsum(wk.db, &d.dgk[t0 * s.gd]);
    dS = wk.newdS;
    if (den_on) dz = wk.newdz;
  }
  d.ds0 = dS;
  if (den_on) d.dz0 = dz;
}

template void chunked_forward<float>(const MixerParams&, const HeadSeq<float>&, std::vector<float>&,
                                     std::vector<float>&, std::vector<float>&);
template void chunked_forward<double>(const MixerParams&, const HeadSeq<double>&, std::vector<double>&,
                                      std::vector<double>&, std::vector<double>&);
template void chunked_backward<float>(const MixerParams&, const HeadSeq<float>&, HeadGrads<float>&);
template void chunked_backward<double>(const MixerParams&, const HeadSeq<double>&, HeadGrads<double>&);

}  // namespace linea::mixer
