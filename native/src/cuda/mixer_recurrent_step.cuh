// Shared pieces of the recurrent CUDA mixer (mixer_recurrent.cu): the call's
// pointers and scratch in one struct, the effective gates of one step, the
// block and warp reductions, and the forward state update. Semantics follow
// the CPU reference (src/cpu/mixer/mixer_head.h, mixer_recurrent.cpp) exactly.
//
// Layout: one block per (head bh = b*H + h, column tile). A block is kWarps
// warps of kCols lanes; lane l owns value column c = tile*kCols + l of the state
// S (K x V), warp w owns key rows a = w*RPT .. w*RPT + RPT - 1, so thread (w, l)
// keeps S[a][c] for its RPT rows in registers (RPT = rows per warp, a template
// parameter: K <= kWarps * RPT). Sums over K per column (Sᵀk, Sᵀq) cross warps
// through shared memory; sums over the tile's columns per row are warp shuffles.
// Index conventions: row = (b*T + t)*H + h indexes [B,T,H] and [B,T,H,*] tensors.
#pragma once

#include <cmath>
#include <cstdint>

#include "../ops/mixer_params.h"
#include "cuda_types.cuh"

namespace linea::cuda_mixer {

constexpr int kCols = 32;  // value columns per block: one per lane
constexpr int kWarps = 8;  // warps per block, each a contiguous slab of key rows
constexpr int kThreads = kCols * kWarps;
// Registers per thread for S grow with the rows per warp: 64 rows (K up to 512, Based's
// taylor2 map of 16 dims has 273) spill some f64 state to local memory, which is slow but right.
constexpr int kMaxRowsPerWarp = 64;
constexpr int64_t kMaxK = int64_t(kWarps) * kMaxRowsPerWarp;  // 512
constexpr int kRedWidth = 2 * kCols + 1;                      // per warp: two column partials and one scalar

// Everything a kernel reads or writes. Inputs and outputs are the call's
// tensors (nullptr when absent or not requested); scratch is in the
// accumulation type A (f32 for f32/bf16, f64 for f64).
template <class T>
struct RecArgs {
  using A = acc_t<T>;
  MixerParams p;
  // Switches the kernels branch on (MixerParams' helpers are host-only).
  bool den_on = false;        // normalize is sum or max1: the z state exists
  bool decays = false;        // some log decay per step (a gate, or the exp gate's stabilizer shift)
  bool vector_gate = false;   // decay per key dim
  bool write_weight = false;  // an input gate
  int64_t tiles = 1;          // column tiles: max(1, ceil(V / kCols))
  int64_t chunk = 1;          // backward: steps between state checkpoints
  int64_t chunks = 0;         // backward: ceil(T / chunk)

  const T *q = nullptr, *k = nullptr, *v = nullptr, *g = nullptr, *i = nullptr, *beta = nullptr;
  const T *s0 = nullptr, *z0 = nullptr, *m0 = nullptr;
  const T *d_o = nullptr, *ds_final = nullptr, *dz_final = nullptr;
  T *o = nullptr, *s_final = nullptr, *z_final = nullptr, *m_final = nullptr;
  T *dq = nullptr, *dk = nullptr, *dv = nullptr, *dg = nullptr, *di = nullptr, *dbeta = nullptr;
  T *ds0 = nullptr, *dz0 = nullptr;

  A* m = nullptr;                                    // [BH, T] the exp gate's stabilizer m_t
  A* ckpt = nullptr;                                 // [BH, chunks, K, V] state before the first step of each chunk
  A* zs = nullptr;                                   // [BH, T+1, K] z before step 0, after step 0, ..., after step T-1
  A* den = nullptr;                                  // [BH, T] raw denominator q̂ᵀz_t
  A* dotp = nullptr;                                 // [tiles, BH, T] per tile: sum over its columns of do_c * o_c
  A* buf = nullptr;                                  // [BH, tiles, chunk, K, kCols] states of the chunk being reversed
  A *dqp = nullptr, *dkp = nullptr, *dgp = nullptr;  // [tiles, B*T*H, K] per-tile partials (dq in q̂)
  A *dbp = nullptr, *dwp = nullptr;                  // [tiles, B*T*H] partials of dbeta, d(log w)
};

__device__ __forceinline__ float ex(float x) { return expf(x); }
__device__ __forceinline__ double ex(double x) { return exp(x); }
__device__ __forceinline__ float lg(float x) { return logf(x); }
__device__ __forceinline__ double lg(double x) { return log(x); }
__device__ __forceinline__ float lg1p(float x) { return log1pf(x); }
__device__ __forceinline__ double lg1p(double x) { return log1p(x); }

// log(sigmoid(x)) without overflow (mixer_head.h: log_sigmoid).
template <class A>
__device__ __forceinline__ A log_sigmoid(A x) {
  return x >= A(0) ? -lg1p(ex(-x)) : x - lg1p(ex(x));
}

// log(softplus(x)), finite for every finite x (mixer_head.h: log_softplus).
template <class A>
__device__ __forceinline__ A log_softplus(A x) {
  if (x > A(20)) return lg(x + lg1p(ex(-x)));
  if (x < A(-20)) return x;
  return lg(lg1p(ex(x)));
}

template <class A>
__device__ __forceinline__ A sigmoid(A x) {
  return x >= A(0) ? A(1) / (A(1) + ex(-x)) : ex(x) / (A(1) + ex(x));
}

// den' = den + eps (sum) or max(|den|, floor) (max1), as mixer_head.h: denominator.
template <class A>
__device__ __forceinline__ A denominator(MixerNormalize n, A den, A eps, A floor) {
  if (n == MixerNormalize::sum) return den + eps;
  return fmax(fabs(den), floor);
}

// Effective gates of one step (mixer_head.h, gather_head): decay exp(g + shift)
// with shift = m_{t-1} - m_t for the exp gate (0 otherwise), write weight w,
// the max1 floor exp(-m_t) (1 without the exp gate) and beta.
template <class A>
struct StepGates {
  A shift = 0;  // added to every log decay of the step
  A f = 1;      // decay factor of a non-vector gate (fixed, scalar, or the stabilizer alone)
  A w = 1;      // write weight
  A floor = 1;  // max1 floor
  A beta = 0;   // delta-rule write strength
};

template <class T>
__device__ StepGates<acc_t<T>> step_gates(const RecArgs<T>& x, int64_t bh, int64_t h, int64_t t, int64_t row) {
  using A = acc_t<T>;
  const MixerParams& p = x.p;
  StepGates<A> s;
  if (p.input_gate == MixerInputGate::exp) {
    const A m_prev = t > 0 ? x.m[bh * p.T + t - 1] : (x.m0 ? load(x.m0, bh) : A(0));
    const A m_t = x.m[bh * p.T + t];
    s.shift = m_prev - m_t;
    s.w = ex(load(x.i, row) - m_t);
    s.floor = ex(-m_t);
  } else if (p.input_gate == MixerInputGate::sigmoid) {
    s.w = ex(log_sigmoid(load(x.i, row)));
  } else if (p.input_gate == MixerInputGate::softplus) {
    s.w = ex(log_softplus(load(x.i, row)));
  }
  if (p.delta) s.beta = load(x.beta, row);
  A glog = 0;
  if (p.gate == MixerGate::fixed) glog = load(x.g, h);
  if (p.gate == MixerGate::scalar) glog = load(x.g, row);
  s.f = ex(glog + s.shift);
  return s;
}

// Decay factor of key row a at step `row` (only meaningful when x.decays).
template <class T>
__device__ __forceinline__ acc_t<T> decay_factor(const RecArgs<T>& x, const StepGates<acc_t<T>>& s, int64_t row,
                                                 int64_t a) {
  return x.vector_gate ? ex(load(x.g, row * x.p.K + a) + s.shift) : s.f;
}

// Sum over the 32 lanes; every lane gets the same bits (a butterfly adds
// the same pairs in every lane, and addition is commutative).
template <class A>
__device__ __forceinline__ A warp_sum(A x) {
  for (int o = kCols / 2; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// Sums over the block's warps in a fixed order: per column (this lane's) of
// x0 and x1, and of s (lane 0's value per warp). `red` is one of two buffers
// used in turn by successive calls, so one barrier per call suffices: a
// buffer is rewritten only after the barrier of the call in between, which
// every thread passes after reading it. Call from every thread of the block.
template <class A>
__device__ __forceinline__ void block_col_sum(A (*red)[kRedWidth], A x0, A x1, A s, A& y0, A& y1, A& ys) {
  const int lane = threadIdx.x % kCols, w = threadIdx.x / kCols;
  red[w][lane] = x0;
  red[w][kCols + lane] = x1;
  if (lane == 0) red[w][2 * kCols] = s;
  __syncthreads();
  y0 = 0, y1 = 0, ys = 0;
  for (int ww = 0; ww < kWarps; ++ww) {
    y0 += red[ww][lane];
    y1 += red[ww][kCols + lane];
    ys += red[ww][2 * kCols];
  }
}

// The two reduction buffers of a block and whose turn it is.
template <class A>
struct Reducer {
  A (*bufs)[kWarps][kRedWidth];
  int turn = 0;
  __device__ void sum(A x0, A x1, A s, A& y0, A& y1, A& ys) { block_col_sum(bufs[turn++ & 1], x0, x1, s, y0, y1, ys); }
};

// One forward step's state update of this thread's S[a][c] (RPT rows of
// column c) and, with track_z, its z rows: S' = Diag(a_t) S, then the
// additive write S' + w k vᵀ (z' + w k) or the delta write S' + β k (v − S'ᵀk)ᵀ.
// Padding rows (a >= K) and columns (c >= V) stay 0. Every thread calls it.
template <class T, int RPT>
__device__ void forward_write(const RecArgs<T>& x, const StepGates<acc_t<T>>& gt, int64_t row, int64_t c, bool col,
                              int64_t a0, acc_t<T> (&S)[RPT], acc_t<T> (&z)[RPT], bool track_z,
                              Reducer<acc_t<T>>& red) {
  using A = acc_t<T>;
  const MixerParams& p = x.p;
  if (x.decays) {
#pragma unroll
    for (int r = 0; r < RPT; ++r) {
      if (a0 + r >= p.K) continue;
      const A f = decay_factor(x, gt, row, a0 + r);
      S[r] *= f;
      z[r] *= f;
    }
  }
  const A vc = col ? load(x.v, row * p.V + c) : A(0);
  if (p.delta) {
    A xr = 0;  // this thread's rows of S'ᵀk for column c
#pragma unroll
    for (int r = 0; r < RPT; ++r)
      if (a0 + r < p.K) xr += S[r] * load(x.k, row * p.K + a0 + r);
    A rs, unused0, unused1;
    red.sum(xr, A(0), A(0), rs, unused0, unused1);
    const A rc = col ? vc - rs : A(0);  // r = v − S'ᵀk
#pragma unroll
    for (int r = 0; r < RPT; ++r)
      if (a0 + r < p.K) S[r] += load(x.k, row * p.K + a0 + r) * gt.beta * rc;
    return;
  }
#pragma unroll
  for (int r = 0; r < RPT; ++r) {
    if (a0 + r >= p.K) continue;
    const A kw = load(x.k, row * p.K + a0 + r) * gt.w;
    S[r] += kw * vc;
    if (track_z) z[r] += kw;
  }
}

}  // namespace linea::cuda_mixer
