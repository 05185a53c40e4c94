// Backward kernels of the recurrent CUDA mixer (launched by mixer_recurrent.cu),
// after forward_kernel's checkpoint pass (mixer_recurrent_fwd.cuh):
//
//   reverse_kernel  grid (BH, tiles), kThreads: walks the chunks last to first; per
//                   chunk it recomputes the states S_t from the chunk's checkpoint
//                   into x.buf, then runs the CPU reference's reverse step
//                   (mixer_recurrent.cpp: recurrent_backward) for t = last .. first
//                   of the chunk. dS (K x V) is split over the block's threads as S
//                   is in the forward; dv and ds0 are written directly; gradients
//                   that sum over V (dq, dk, dg per key row; dbeta, d log w per
//                   step) are written as per-tile partials. Terms that do not
//                   depend on the column (everything through z) are added by tile
//                   0 only, which alone carries dz.
//   finish_*        sum the tile partials in a fixed order (deterministic, no
//                   atomics) into dq, dk, dg, dbeta, di; the fixed gate's dg [H]
//                   also sums over B and T.
#pragma once

#include "mixer_recurrent_step.cuh"

namespace linea::cuda_mixer {

template <class T, int RPT>
__global__ void __launch_bounds__(kThreads) reverse_kernel(RecArgs<T> x) {
  using A = acc_t<T>;
  __shared__ A red_bufs[2][kWarps][kRedWidth];
  Reducer<A> red{red_bufs};
  const MixerParams& p = x.p;
  const int lane = threadIdx.x % kCols, w = threadIdx.x / kCols;
  const int64_t bh = blockIdx.x, tile = blockIdx.y, b = bh / p.H, h = bh % p.H;
  const int64_t BH = p.B * p.H, BTH = p.B * p.T * p.H, K = p.K, V = p.V;
  const int64_t c = tile * kCols + lane, a0 = int64_t(w) * RPT;
  const bool col = c < V;
  const bool dz_on = tile == 0 && x.den_on;  // tile 0 carries dz and the terms through z
  const A scale = A(p.scale), eps = A(p.eps);
  A* buf = x.buf + (bh * x.tiles + tile) * x.chunk * K * kCols;  // [chunk, K, kCols]

  A dS[RPT], dz[RPT];
#pragma unroll
  for (int r = 0; r < RPT; ++r) {
    const int64_t a = a0 + r;
    dS[r] = x.ds_final && col && a < K ? load(x.ds_final, (bh * K + a) * V + c) : A(0);
    dz[r] = dz_on && x.dz_final && a < K ? load(x.dz_final, bh * K + a) : A(0);
  }

  for (int64_t n = x.chunks - 1; n >= 0; --n) {
    const int64_t t0 = n * x.chunk, len = p.T - t0 < x.chunk ? p.T - t0 : x.chunk;
    const A* ck = x.ckpt + (bh * x.chunks + n) * K * V;  // S_{t0-1}
    // S_{t-1} of step t = t0 + j: the checkpoint for j = 0, else buf[j-1].
    auto prev_state = [&](int64_t j, int64_t a) -> A {
      if (j > 0) return buf[((j - 1) * K + a) * kCols + lane];
      return col ? ck[a * V + c] : A(0);
    };

    // Recompute S_{t0} .. S_{t0+len-1} into buf, exactly as the forward did.
    {
      A S[RPT], zz[RPT];
#pragma unroll
      for (int r = 0; r < RPT; ++r) {
        S[r] = col && a0 + r < K ? ck[(a0 + r) * V + c] : A(0);
        zz[r] = 0;
      }
      for (int64_t j = 0; j < len; ++j) {
        const int64_t t = t0 + j, row = (b * p.T + t) * p.H + h;
        const StepGates<A> gt = step_gates(x, bh, h, t, row);
        forward_write<T, RPT>(x, gt, row, c, col, a0, S, zz, false, red);
#pragma unroll
        for (int r = 0; r < RPT; ++r)
          if (a0 + r < K) buf[(j * K + a0 + r) * kCols + lane] = S[r];
      }
    }

    for (int64_t j = len - 1; j >= 0; --j) {
      const int64_t t = t0 + j, row = (b * p.T + t) * p.H + h;
      const StepGates<A> gt = step_gates(x, bh, h, t, row);
      const A doc = col ? load(x.d_o, row * V + c) : A(0);
      const A vc = col ? load(x.v, row * V + c) : A(0);

      // o_t = num / den': dnum = do / den', dden from do·o summed over every tile.
      A dnum = doc, dden = 0;
      if (x.den_on) {
        const A den = x.den[bh * p.T + t];
        A dot = 0;
        for (int64_t tl = 0; tl < x.tiles; ++tl) dot += x.dotp[(tl * BH + bh) * p.T + t];
        const A dn = denominator(p.normalize, den, eps, gt.floor);
        dnum = doc / dn;
        const A d_dn = -dot / dn;
        if (p.normalize == MixerNormalize::sum) dden = d_dn;
        else dden = fabs(den) > gt.floor ? (den >= A(0) ? d_dn : -d_dn) : A(0);
      }

      // dq = S_t dnum (+ z_t dden); dS += q̂ dnumᵀ; dz += q̂ dden.
      A xu = 0, xr = 0, xkdz = 0;  // this thread's rows of dSᵀk, S'ᵀk, and k·dz
#pragma unroll
      for (int r = 0; r < RPT; ++r) {
        const int64_t a = a0 + r;
        if (a >= K) continue;
        const A qh = load(x.q, row * K + a) * scale, kk = load(x.k, row * K + a);
        A dqa = warp_sum(buf[(j * K + a) * kCols + lane] * dnum);
        if (dz_on) dqa += x.zs[(bh * (p.T + 1) + t + 1) * K + a] * dden;
        if (lane == 0) x.dqp[(tile * BTH + row) * K + a] = dqa;
        dS[r] += qh * dnum;
        if (dz_on) dz[r] += qh * dden;
        xu += dS[r] * kk;
        if (p.delta) xr += (x.decays ? decay_factor(x, gt, row, a) : A(1)) * prev_state(j, a) * kk;
        if (dz_on) xkdz += kk * dz[r];
      }
      A du, rs, kdz;
      red.sum(xu, xr, xkdz, du, rs, kdz);

      // The write: delta S = S' + β k rᵀ, r = v − S'ᵀk; additive S = S' + w k vᵀ, z = z' + w k.
      const A rc = col ? vc - rs : A(0);
      const A dr = gt.beta * du;
      if (p.delta) {
        const A dbeta = warp_sum(du * rc);
        if (threadIdx.x == 0) x.dbp[tile * BTH + row] = dbeta;
        if (w == 0 && col) store(x.dv, row * V + c, dr);
      } else {
        if (w == 0 && col) store(x.dv, row * V + c, gt.w * du);
        if (x.write_weight) {
          // dw = sum_a k_a (dS vᵀ)_a + k·dz = sum_c v_c du_c + k·dz
          const A dw = warp_sum(vc * du) + (dz_on ? kdz : A(0));
          if (threadIdx.x == 0) x.dwp[tile * BTH + row] = gt.w * dw;
        }
      }

      // dk; then S' = Diag(a_t) S_{t-1}: the gate's gradient, and dS, dz carried to t-1.
#pragma unroll
      for (int r = 0; r < RPT; ++r) {
        const int64_t a = a0 + r;
        if (a >= K) continue;
        const A kk = load(x.k, row * K + a);
        const A f = x.decays ? decay_factor(x, gt, row, a) : A(1);
        const A sp = f * prev_state(j, a);
        A dka;
        if (p.delta) {
          dka = warp_sum(gt.beta * dS[r] * rc - sp * dr);
          dS[r] -= kk * dr;  // dS' = dS − k drᵀ
        } else {
          dka = gt.w * (warp_sum(dS[r] * vc) + (dz_on ? dz[r] : A(0)));
        }
        if (lane == 0) x.dkp[(tile * BTH + row) * K + a] = dka;
        if (x.dgp) {
          A dga = warp_sum(dS[r] * sp);
          if (dz_on) dga += dz[r] * f * x.zs[(bh * (p.T + 1) + t) * K + a];
          if (lane == 0) x.dgp[(tile * BTH + row) * K + a] = dga;
        }
        dS[r] *= f;
        dz[r] *= f;
      }
    }
  }

  if (x.ds0 && col) {
#pragma unroll
    for (int r = 0; r < RPT; ++r)
      if (a0 + r < K) store(x.ds0, (bh * K + a0 + r) * V + c, dS[r]);
  }
  if (x.dz0 && dz_on && lane == 0) {
#pragma unroll
    for (int r = 0; r < RPT; ++r)
      if (a0 + r < K) store(x.dz0, bh * K + a0 + r, dz[r]);
  }
}

// Sum of the tile partials of entry n of a [tiles, count] partial array.
template <class A>
__device__ __forceinline__ A tile_sum(const A* part, int64_t tiles, int64_t count, int64_t n) {
  A s = 0;
  for (int64_t tl = 0; tl < tiles; ++tl) s += part[tl * count + n];
  return s;
}

// Per key row: dq = scale · dq̂, dk, and a vector gate's dg. n over B*T*H*K.
template <class T>
__global__ void finish_rows_kernel(RecArgs<T> x) {
  using A = acc_t<T>;
  const int64_t count = x.p.B * x.p.T * x.p.H * x.p.K;
  const A scale = A(x.p.scale);
  for (int64_t n = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; n < count; n += int64_t(gridDim.x) * blockDim.x) {
    store(x.dq, n, scale * tile_sum(x.dqp, x.tiles, count, n));
    store(x.dk, n, tile_sum(x.dkp, x.tiles, count, n));
    if (x.vector_gate) store(x.dg, n, tile_sum(x.dgp, x.tiles, count, n));
  }
}

// Per step: dbeta, di (from d log w, as mixer_head.h: scatter_backward), and a
// scalar gate's dg (summed over the key rows). n over B*T*H.
template <class T>
__global__ void finish_steps_kernel(RecArgs<T> x) {
  using A = acc_t<T>;
  const MixerParams& p = x.p;
  const int64_t count = p.B * p.T * p.H, K = p.K;
  for (int64_t n = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; n < count; n += int64_t(gridDim.x) * blockDim.x) {
    if (p.delta) store(x.dbeta, n, tile_sum(x.dbp, x.tiles, count, n));
    if (x.write_weight) {
      const A dlw = tile_sum(x.dwp, x.tiles, count, n);
      const A pre = load(x.i, n);
      A di = dlw;  // exp: log w = i − m, the stabilizer not differentiated
      if (p.input_gate == MixerInputGate::sigmoid) di = dlw * sigmoid(-pre);
      if (p.input_gate == MixerInputGate::softplus) {
        // d log(softplus(x)) / dx = sigmoid(x) / softplus(x)
        const A sp = pre > A(20) ? pre + lg1p(ex(-pre)) : lg1p(ex(pre));
        di = dlw * (pre < A(-20) ? A(1) : sigmoid(pre) / sp);
      }
      store(x.di, n, di);
    }
    if (p.gate == MixerGate::scalar) {
      A s = 0;
      for (int64_t tl = 0; tl < x.tiles; ++tl)
        for (int64_t a = 0; a < K; ++a) s += x.dgp[(tl * count + n) * K + a];
      store(x.dg, n, s);
    }
  }
}

// The fixed gate's dg [H]: one block per head h sums every (b, t), tile and
// key row, each thread a strided share, then a tree in shared memory.
template <class T>
__global__ void __launch_bounds__(kThreads) finish_fixed_gate_kernel(RecArgs<T> x) {
  using A = acc_t<T>;
  __shared__ A part[kThreads];
  const MixerParams& p = x.p;
  const int64_t h = blockIdx.x, count = p.B * p.T * p.H, K = p.K;
  A s = 0;
  for (int64_t bt = threadIdx.x; bt < p.B * p.T; bt += kThreads) {
    const int64_t row = bt * p.H + h;
    for (int64_t tl = 0; tl < x.tiles; ++tl)
      for (int64_t a = 0; a < K; ++a) s += x.dgp[(tl * count + row) * K + a];
  }
  part[threadIdx.x] = s;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) store(x.dg, h, part[0]);
}

}  // namespace linea::cuda_mixer
