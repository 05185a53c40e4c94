// Forward kernels of the recurrent CUDA mixer (launched by mixer_recurrent.cu):
//
//   stabilizer_kernel  grid BH, one warp: the exp gate's m_t = max(max(g_t) + m_{t-1}, i_t)
//                      for every step into x.m [BH, T], and m_final.
//   forward_kernel     grid (BH, tiles), kThreads: the recurrence of one head over one
//                      tile of value columns (mixer_recurrent_step.cuh). Forward mode
//                      writes o and the final states; checkpoint mode (mixer_bwd's first
//                      pass, x.ckpt set) writes the state before every chunk, z after
//                      every step, the raw denominator and per-tile sums of do·o.
#pragma once

#include "mixer_recurrent_step.cuh"

namespace linea::cuda_mixer {

// One warp per head: lanes split the key dims of a vector gate for max(g_t).
template <class T>
__global__ void stabilizer_kernel(RecArgs<T> x) {
  using A = acc_t<T>;
  const MixerParams& p = x.p;
  const int64_t bh = blockIdx.x, b = bh / p.H, h = bh % p.H;
  const int lane = threadIdx.x;
  A m = x.m0 ? load(x.m0, bh) : A(0);
  for (int64_t t = 0; t < p.T; ++t) {
    const int64_t row = (b * p.T + t) * p.H + h;
    A gmax = 0;  // no gate: the log decay is 0
    if (p.gate == MixerGate::fixed) gmax = load(x.g, h);
    if (p.gate == MixerGate::scalar) gmax = load(x.g, row);
    if (p.gate == MixerGate::vector) {
      gmax = A(-INFINITY);
      for (int64_t a = lane; a < p.K; a += kCols) gmax = fmax(gmax, load(x.g, row * p.K + a));
      for (int o = kCols / 2; o > 0; o /= 2) gmax = fmax(gmax, __shfl_xor_sync(0xffffffffu, gmax, o));
    }
    m = fmax(gmax + m, load(x.i, row));
    if (lane == 0) x.m[bh * p.T + t] = m;
  }
  if (x.m_final && lane == 0) store(x.m_final, bh, m);
}

template <class T, int RPT>
__global__ void __launch_bounds__(kThreads) forward_kernel(RecArgs<T> x) {
  using A = acc_t<T>;
  __shared__ A red_bufs[2][kWarps][kRedWidth];
  Reducer<A> red{red_bufs};
  const MixerParams& p = x.p;
  const int lane = threadIdx.x % kCols, w = threadIdx.x / kCols;
  const int64_t bh = blockIdx.x, tile = blockIdx.y, b = bh / p.H, h = bh % p.H;
  const int64_t BH = p.B * p.H, K = p.K, V = p.V;
  const int64_t c = tile * kCols + lane, a0 = int64_t(w) * RPT;
  const bool col = c < V;
  const bool ckpt = x.ckpt != nullptr;
  // z rows are kept by every lane (identical copies); tile 0's lane 0 writes them.
  const bool z_writer = tile == 0 && lane == 0;
  // o is needed for the output, or (checkpoint mode) for do·o of the denominator's gradient.
  const bool read = x.o != nullptr || (ckpt && x.den_on);

  A S[RPT], z[RPT];
#pragma unroll
  for (int r = 0; r < RPT; ++r) {
    const int64_t a = a0 + r;
    S[r] = x.s0 && col && a < K ? load(x.s0, (bh * K + a) * V + c) : A(0);
    z[r] = x.z0 && a < K ? load(x.z0, bh * K + a) : A(0);
  }
  const A scale = A(p.scale), eps = A(p.eps);
  for (int64_t t = 0; t < p.T; ++t) {
    const int64_t row = (b * p.T + t) * p.H + h;
    if (ckpt) {
      if (t % x.chunk == 0 && col) {
        A* dst = x.ckpt + (bh * x.chunks + t / x.chunk) * K * V;
#pragma unroll
        for (int r = 0; r < RPT; ++r)
          if (a0 + r < K) dst[(a0 + r) * V + c] = S[r];
      }
      if (x.den_on && z_writer) {
#pragma unroll
        for (int r = 0; r < RPT; ++r)
          if (a0 + r < K) x.zs[(bh * (p.T + 1) + t) * K + a0 + r] = z[r];
      }
    }
    const StepGates<A> gt = step_gates(x, bh, h, t, row);
    forward_write<T, RPT>(x, gt, row, c, col, a0, S, z, x.den_on, red);
    if (!read) continue;

    // o_t = S_tᵀ q̂_t, divided by the denominator q̂ᵀz_t when there is one.
    A xo = 0, xd = 0;
#pragma unroll
    for (int r = 0; r < RPT; ++r) {
      if (a0 + r >= K) continue;
      const A qh = load(x.q, row * K + a0 + r) * scale;
      xo += qh * S[r];
      xd += qh * z[r];
    }
    A num, unused, den;
    red.sum(xo, A(0), xd, num, unused, den);
    const A oc = x.den_on ? num / denominator(p.normalize, den, eps, gt.floor) : num;
    if (x.o && w == 0 && col) store(x.o, row * V + c, oc);
    if (ckpt && x.den_on) {
      if (tile == 0 && threadIdx.x == 0) x.den[bh * p.T + t] = den;
      const A dot = warp_sum(col ? load(x.d_o, row * V + c) * oc : A(0));
      if (threadIdx.x == 0) x.dotp[(tile * BH + bh) * p.T + t] = dot;
    }
  }
  if (ckpt && x.den_on && z_writer) {
#pragma unroll
    for (int r = 0; r < RPT; ++r)
      if (a0 + r < K) x.zs[(bh * (p.T + 1) + p.T) * K + a0 + r] = z[r];
  }
  if (x.s_final && col) {
#pragma unroll
    for (int r = 0; r < RPT; ++r)
      if (a0 + r < K) store(x.s_final, (bh * K + a0 + r) * V + c, S[r]);
  }
  if (x.z_final && z_writer) {
#pragma unroll
    for (int r = 0; r < RPT; ++r)
      if (a0 + r < K) store(x.z_final, bh * K + a0 + r, z[r]);
  }
}

}  // namespace linea::cuda_mixer
