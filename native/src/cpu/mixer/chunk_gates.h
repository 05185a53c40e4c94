// Gate arithmetic inside one chunk of the chunked mixer, for the three gate
// shapes (gd = 0: no decay; 1: scalar per step; K: per key dim).
//
// With b_i the cumulative log decay inside the chunk (b_i = sum_{s<=i} gk_s),
// the intra-chunk products all have the form
//   M_ij = sum_d X_id Y_jd exp(b_id − b_jd),  j <= i (or j < i),
// which gated_scores computes without ever forming exp(−b) (it overflows for
// strong gates over a chunk): scalar gates multiply X Yᵀ by exp(b_i − b_j);
// vector gates work in row blocks of kBlock rows, each scaled relative to its
// first row r (X_i e^{b_i − b_r}, Y_j e^{b_r − b_j}: at most e^{range} inside
// the block, <= 1 before it) and fall back to exact elementwise exponentials
// for a block whose gates are too strong for that. When the whole chunk's
// decay stays within that range (typical gates), no block is needed:
// M = (X ⊙ e^{b}) (Y ⊙ e^{−b})ᵀ with e^{−b} <= e^{range}, one GEMM and no
// exponentials beyond e^{b}.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../blas.h"

namespace linea::mixer {

constexpr int64_t kBlock = 16;

// Largest exponent the row-block scaling may produce: far from overflow, with
// products of two scaled values still representable.
template <class T>
constexpr T max_block_exponent() {
  return sizeof(T) == 4 ? T(40) : T(300);
}

template <class T>
struct ChunkGates {
  int64_t L = 0, K = 0, gd = 0;
  std::vector<T> b;        // L x gd: cumulative log decay
  std::vector<T> eb;       // L x gd: exp(b_i)
  std::vector<T> eb_last;  // L x gd: exp(b_L − b_i)
  std::vector<T> decay;    // gd: exp(b_L), the chunk's decay of the state
  std::vector<T> eb_inv;   // L x gd: exp(−b_i), only when `shallow`
  bool shallow = true;     // the whole chunk's decay fits the safe exponent range

  void compute(const T* gk, int64_t L_, int64_t K_, int64_t gd_) {
    L = L_, K = K_, gd = gd_;
    b.resize(L * gd), eb.resize(L * gd), eb_last.resize(L * gd), decay.resize(gd);
    for (int64_t d = 0; d < gd; ++d) {
      T acc = 0;
      for (int64_t i = 0; i < L; ++i) {
        acc += gk[i * gd + d];
        b[i * gd + d] = acc;
      }
    }
    for (int64_t i = 0; i < L * gd; ++i) eb[i] = std::exp(b[i]);
    for (int64_t i = 0; i < L; ++i)
      for (int64_t d = 0; d < gd; ++d) eb_last[i * gd + d] = std::exp(b[(L - 1) * gd + d] - b[i * gd + d]);
    for (int64_t d = 0; d < gd; ++d) decay[d] = std::exp(b[(L - 1) * gd + d]);
    // b is cumulative, so its extremes over the chunk bound every exponent.
    T range = 0;
    for (int64_t i = 0; i < L * gd; ++i) range = std::max(range, std::abs(b[i]));
    shallow = range <= max_block_exponent<T>();
    if (shallow) {
      eb_inv.resize(L * gd);
      for (int64_t i = 0; i < L * gd; ++i) eb_inv[i] = T(1) / eb[i];
    }
  }

  // out_i = X_i ⊙ coef_i for L rows of K (coef: L x gd; gd = 0 copies).
  void scale_rows(const std::vector<T>& coef, const T* X, T* out) const {
    for (int64_t i = 0; i < L; ++i)
      for (int64_t d = 0; d < K; ++d)
        out[i * K + d] = X[i * K + d] * (gd == 0 ? T(1) : coef[i * gd + (gd == 1 ? 0 : d)]);
  }

  // db_i += sign · X_i ⊙ dX_i (summed over d for scalar gates).
  void add_db(std::vector<T>& db, const T* X, const T* dX, T sign) const {
    if (gd == 0) return;
    for (int64_t i = 0; i < L; ++i)
      for (int64_t d = 0; d < K; ++d) db[i * gd + (gd == 1 ? 0 : d)] += sign * X[i * K + d] * dX[i * K + d];
  }

  // Scales the K x V state rows by the chunk decay, and adds its gate gradient:
  // db_L += decay ⊙ rowsum(dS ⊙ S).
  void add_state_db(std::vector<T>& db, const T* S, const T* dS, int64_t rows_V) const {
    if (gd == 0) return;
    for (int64_t d = 0; d < K; ++d) {
      T acc = 0;
      for (int64_t c = 0; c < rows_V; ++c) acc += dS[d * rows_V + c] * S[d * rows_V + c];
      const int64_t g = gd == 1 ? 0 : d;
      db[(L - 1) * gd + g] += decay[g] * acc;
    }
  }

  // Row d of the state decays by exp(b_L,d).
  T state_decay(int64_t d) const { return gd == 0 ? T(1) : decay[gd == 1 ? 0 : d]; }

  // dg_i = sum_{s >= i} db_s within the chunk (b_s = sum_{i <= s} g_i).
  void reverse_cumsum(const std::vector<T>& db, T* dg) const {
    for (int64_t d = 0; d < gd; ++d) {
      T acc = 0;
      for (int64_t i = L - 1; i >= 0; --i) {
        acc += db[i * gd + d];
        dg[i * gd + d] += acc;
      }
    }
  }

  // M (L x L, row stride L) = gated scores of X, Y (L x K each), lower triangle
  // with the diagonal unless strict; zeros above.
  void scores(const T* X, const T* Y, bool strict, T* M, std::vector<T>& scratch) const {
    if (gd <= 1) {
      gemm<T>(false, true, L, L, K, T(1), X, K, Y, K, T(0), M, L);
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = 0; j < L; ++j) {
          if (j > i || (strict && j == i)) M[i * L + j] = T(0);
          else if (gd == 1) M[i * L + j] *= relative_decay(i, j);
        }
      return;
    }
    if (shallow) {
      scratch.resize(2 * L * K);
      T* Xs = scratch.data();
      T* Ys = Xs + L * K;
      for (int64_t n = 0; n < L * K; ++n) {
        Xs[n] = X[n] * eb[n];
        Ys[n] = Y[n] * eb_inv[n];
      }
      gemm<T>(false, true, L, L, K, T(1), Xs, K, Ys, K, T(0), M, L);
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = i + (strict ? 0 : 1); j < L; ++j) M[i * L + j] = T(0);
      return;
    }
    scratch.resize((kBlock + L) * K);
    T* Xs = scratch.data();
    T* Ys = scratch.data() + kBlock * K;
    for (int64_t i0 = 0; i0 < L; i0 += kBlock) {
      const int64_t i1 = std::min(L, i0 + kBlock), rows = i1 - i0;
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = 0; j < L; ++j) M[i * L + j] = T(0);
      if (block_is_steep(i0, i1)) {
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = 0; j <= i - (strict ? 1 : 0); ++j) {
            T acc = 0;
            for (int64_t d = 0; d < K; ++d) acc += X[i * K + d] * Y[j * K + d] * std::exp(b[i * K + d] - b[j * K + d]);
            M[i * L + j] = acc;
          }
        continue;
      }
      block_scaled(X, Y, i0, i1, Xs, Ys);
      gemm<T>(false, true, rows, i1, K, T(1), Xs, K, Ys, K, T(0), M + i0 * L, L);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = i + (strict ? 0 : 1); j < i1; ++j) M[i * L + j] = T(0);
    }
  }

  // Backward of `scores`: given dM (masked here like M, in place), adds to
  // dX, dY and db. M is the forward result (used by scalar gates).
  void scores_backward(const T* X, const T* Y, bool strict, const T* M, T* dM, T* dX, T* dY, std::vector<T>& db,
                       std::vector<T>& scratch) const {
    for (int64_t i = 0; i < L; ++i)
      for (int64_t j = i + (strict ? 0 : 1); j < L; ++j) dM[i * L + j] = T(0);
    if (gd <= 1) {
      // dX = (dM ⊙ E) Y, dY = (dM ⊙ E)ᵀ X with E_ij = exp(b_i − b_j); db from dM ⊙ M.
      scratch.resize(L * L);
      T* dME = scratch.data();
      for (int64_t i = 0; i < L; ++i)
        for (int64_t j = 0; j < L; ++j)
          dME[i * L + j] = gd == 1 && dM[i * L + j] != T(0) ? dM[i * L + j] * relative_decay(i, j) : dM[i * L + j];
      gemm<T>(false, false, L, K, L, T(1), dME, L, Y, K, T(1), dX, K);
      gemm<T>(true, false, L, K, L, T(1), dME, L, X, K, T(1), dY, K);
      if (gd == 1)
        for (int64_t i = 0; i < L; ++i)
          for (int64_t j = 0; j <= i; ++j) {
            const T t = dM[i * L + j] * M[i * L + j];
            db[i] += t;
            db[j] -= t;
          }
      return;
    }
    if (shallow) {
      // dX = (dM Ys) ⊙ e^{b}, dY = (dMᵀ Xs) ⊙ e^{−b}; db = X ⊙ dX − Y ⊙ dY
      scratch.resize(4 * L * K);
      T* Xs = scratch.data();
      T* Ys = Xs + L * K;
      T* dXs = Ys + L * K;
      T* dYs = dXs + L * K;
      for (int64_t n = 0; n < L * K; ++n) {
        Xs[n] = X[n] * eb[n];
        Ys[n] = Y[n] * eb_inv[n];
      }
      gemm<T>(false, false, L, K, L, T(1), dM, L, Ys, K, T(0), dXs, K);
      gemm<T>(true, false, L, K, L, T(1), dM, L, Xs, K, T(0), dYs, K);
      for (int64_t n = 0; n < L * K; ++n) {
        const T dx = dXs[n] * eb[n], dy = dYs[n] * eb_inv[n];
        dX[n] += dx;
        dY[n] += dy;
        db[n] += X[n] * dx - Y[n] * dy;
      }
      return;
    }
    // Vector gates: local gradients first (db needs X ⊙ dX_local, Y ⊙ dY_local).
    scratch.resize((kBlock + L) * K + 2 * L * K + kBlock * K + L * K);
    T* Xs = scratch.data();
    T* Ys = Xs + kBlock * K;
    T* dXl = Ys + L * K;
    T* dYl = dXl + L * K;
    T* dXs = dYl + L * K;
    T* dYs = dXs + kBlock * K;
    std::fill(dXl, dXl + L * K, T(0));
    std::fill(dYl, dYl + L * K, T(0));
    for (int64_t i0 = 0; i0 < L; i0 += kBlock) {
      const int64_t i1 = std::min(L, i0 + kBlock), rows = i1 - i0;
      if (block_is_steep(i0, i1)) {
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = 0; j <= i; ++j) {
            const T g = dM[i * L + j];
            if (g == T(0)) continue;
            for (int64_t d = 0; d < K; ++d) {
              const T e = g * std::exp(b[i * K + d] - b[j * K + d]);
              dXl[i * K + d] += e * Y[j * K + d];
              dYl[j * K + d] += e * X[i * K + d];
            }
          }
        continue;
      }
      block_scaled(X, Y, i0, i1, Xs, Ys);
      const int64_t r = i0;
      // dXs = dM[I, :i1] Ys;  dX_i += dXs_i ⊙ e^{b_i − b_r}
      gemm<T>(false, false, rows, K, i1, T(1), dM + i0 * L, L, Ys, K, T(0), dXs, K);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t d = 0; d < K; ++d) dXl[i * K + d] += dXs[(i - i0) * K + d] * std::exp(b[i * K + d] - b[r * K + d]);
      // dYs = dM[I, :i1]ᵀ Xs;  dY_j += dYs_j ⊙ e^{b_r − b_j}
      gemm<T>(true, false, i1, K, rows, T(1), dM + i0 * L, L, Xs, K, T(0), dYs, K);
      for (int64_t j = 0; j < i1; ++j)
        for (int64_t d = 0; d < K; ++d) dYl[j * K + d] += dYs[j * K + d] * std::exp(b[r * K + d] - b[j * K + d]);
    }
    for (int64_t n = 0; n < L * K; ++n) {
      dX[n] += dXl[n];
      dY[n] += dYl[n];
      db[n] += X[n] * dXl[n] - Y[n] * dYl[n];
    }
  }

 private:
  // exp(b_i − b_j) for scalar gates, without an exponential when shallow.
  T relative_decay(int64_t i, int64_t j) const { return shallow ? eb[i] * eb_inv[j] : std::exp(b[i] - b[j]); }

  // True when scaling rows [i0, i1) relative to row i0 could leave the safe range.
  bool block_is_steep(int64_t i0, int64_t i1) const {
    T range = 0;
    for (int64_t d = 0; d < K; ++d) range = std::max(range, std::abs(b[i0 * K + d] - b[(i1 - 1) * K + d]));
    return range > max_block_exponent<T>();
  }

  // Xs (rows x K) = X_i e^{b_i − b_r}, Ys (i1 x K) = Y_j e^{b_r − b_j}, r = i0.
  void block_scaled(const T* X, const T* Y, int64_t i0, int64_t i1, T* Xs, T* Ys) const {
    const T* br = &b[i0 * K];
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t d = 0; d < K; ++d) Xs[(i - i0) * K + d] = X[i * K + d] * std::exp(b[i * K + d] - br[d]);
    for (int64_t j = 0; j < i1; ++j)
      for (int64_t d = 0; d < K; ++d) Ys[j * K + d] = Y[j * K + d] * std::exp(br[d] - b[j * K + d]);
  }
};

}  // namespace linea::mixer
