// Softmax attention on plain FMA tiles: every dtype (f32, f64, bf16 loaded
// into f32), any D and V up to 256. The tensor-core path
// (softmax_attention_mma.cuh) takes the bf16 calls it can; this one takes the
// rest. Layouts and mask: softmax_attention_common.cuh.
//
// Tiling. A block is 4 warps (128 threads). Along the "row" side a warp owns
// kRows = 4 rows (16 per block); along the "tile" side the 32 lanes own one
// tile position each (32 per tile), so a score is one lane's dot product over
// shared memory and the row reductions are warp shuffles. Per row, lane owns
// the output columns lane + 32 j, j < NC (NC = ceil(max(D, V) / 32), rounded
// up to 1, 2, 4 or 8), in registers.
//   forward: rows = queries, tiles = keys; online softmax (running max m and
//     sum l per row, accumulators rescaled when m grows); o = acc / l,
//     lse = m + log l.
//   dq:      rows = queries, tiles = keys; p = exp(s - lse), ds = p (dp - delta),
//     dq = scale * sum ds k.
//   dk, dv:  rows = keys, tiles = queries (the transposed tiles), so each
//     output row has exactly one writer: no atomics, deterministic.
// Tiles are visited only where the causal / window range reaches them; inside
// a tile each (row, position) pair is masked individually. Shared-memory
// tiles have rows padded to odd lengths (D + 1) where lanes read across rows,
// so the per-lane dot products are free of bank conflicts. Positions past T
// are zero-filled, so a masked p = 0 never meets uninitialised memory.
#pragma once

#include "softmax_attention_common.cuh"

namespace linea {
namespace attn {

constexpr int kFmaRows = 4;                  // rows per warp
constexpr int kFmaBlockRows = 4 * kFmaRows;  // rows per block (4 warps)
constexpr int kFmaTile = 32;                 // tile positions, one per lane
constexpr int kFmaThreads = 128;

template <class T>
struct FmaArgs {
  const T *q, *k, *v, *o, *d_o;  // inputs (o, d_o: backward only)
  const acc_t<T>* lse;           // the forward's lse (backward only): a stats tensor, f32 in bf16 calls
  const acc_t<T>* delta;         // (B, H, T), backward only
  T* out_o;                      // forward output
  acc_t<T>* out_lse;             // forward output, f32 in bf16 calls
  T *dq, *dk, *dv;               // backward outputs
  AttnShape s;
};

// Fills rows [0, nrows) x [0, X) of a shared tile (row stride ld) from rows
// first_row.. of head (b, h) of a (B, T, H, X) tensor, zero past T.
template <class T, class A>
__device__ __forceinline__ void load_rows(A* dst, int ld, const T* src, int64_t X, const AttnShape& s, int64_t b,
                                          int64_t h, int64_t first_row, int nrows) {
  for (int64_t i = threadIdx.x; i < nrows * X; i += kFmaThreads) {
    const int r = static_cast<int>(i / X);
    const int64_t c = i % X, t = first_row + r;
    dst[r * ld + c] = t < s.T ? load(src, ((b * s.T + t) * s.H + h) * X + c) : A(0);
  }
}

// Grid: B*H * ceil(T/16) blocks, the latest query blocks (most keys) first.
// Shared: q [16][D], k [32][D+1], v [32][V] in acc_t.
template <class T, int NC>
__global__ void __launch_bounds__(kFmaThreads) attn_fwd_fma_kernel(FmaArgs<T> a) {
  using A = acc_t<T>;
  const AttnShape& s = a.s;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  A* sq = reinterpret_cast<A*>(smem_raw);
  A* sk = sq + kFmaBlockRows * s.D;
  A* sv = sk + kFmaTile * (s.D + 1);
  const int64_t BH = s.B * s.H, nqb = ceil_div(s.T, kFmaBlockRows);
  const int64_t bh = blockIdx.x % BH, b = bh / s.H, h = bh % s.H;
  const int64_t t0 = (nqb - 1 - blockIdx.x / BH) * kFmaBlockRows;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const A scale = static_cast<A>(s.scale);

  load_rows(sq, static_cast<int>(s.D), a.q, s.D, s, b, h, t0, kFmaBlockRows);
  A m[kFmaRows], l[kFmaRows], acc[kFmaRows][NC];
#pragma unroll
  for (int i = 0; i < kFmaRows; ++i) {
    m[i] = A(-INFINITY);
    l[i] = 0;
#pragma unroll
    for (int j = 0; j < NC; ++j) acc[i][j] = 0;
  }
  const int64_t t_last = min(t0 + kFmaBlockRows, s.T) - 1;
  for (int64_t kb = first_key(t0, s.window) / kFmaTile; kb <= t_last / kFmaTile; ++kb) {
    const int64_t s0 = kb * kFmaTile;
    __syncthreads();  // the previous tile is consumed
    load_rows(sk, static_cast<int>(s.D + 1), a.k, s.D, s, b, h, s0, kFmaTile);
    load_rows(sv, static_cast<int>(s.V), a.v, s.V, s, b, h, s0, kFmaTile);
    __syncthreads();
    A sc[kFmaRows] = {};
    for (int64_t d = 0; d < s.D; ++d) {
      const A kd = sk[lane * (s.D + 1) + d];
#pragma unroll
      for (int i = 0; i < kFmaRows; ++i) sc[i] += sq[(warp * kFmaRows + i) * s.D + d] * kd;
    }
#pragma unroll
    for (int i = 0; i < kFmaRows; ++i) {
      const int64_t t = t0 + warp * kFmaRows + i;
      const bool vis = t < s.T && visible(t, s0 + lane, s.window);
      const A tile_max = warp_max(vis ? sc[i] * scale : A(-INFINITY));
      if (tile_max == A(-INFINITY)) continue;  // warp-uniform: the row sees no key of this tile
      const A m_new = fmax(m[i], tile_max);
      const A corr = dexp(m[i] - m_new);  // 0 on the row's first visible tile
      const A p = vis ? dexp(sc[i] * scale - m_new) : A(0);
      l[i] = l[i] * corr + warp_sum(p);
      m[i] = m_new;
#pragma unroll
      for (int j = 0; j < NC; ++j) acc[i][j] *= corr;
      for (int kk = 0; kk < kFmaTile; ++kk) {
        const A pk = __shfl_sync(0xffffffffu, p, kk);
#pragma unroll
        for (int j = 0; j < NC; ++j) {
          const int64_t c = lane + 32 * j;
          if (c < s.V) acc[i][j] += pk * sv[kk * s.V + c];
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kFmaRows; ++i) {
    const int64_t t = t0 + warp * kFmaRows + i;
    if (t >= s.T) continue;
    const int64_t row = (b * s.T + t) * s.H + h;
    const A inv = A(1) / l[i];  // l >= 1: the row's own key contributes exp(0)
#pragma unroll
    for (int j = 0; j < NC; ++j) {
      const int64_t c = lane + 32 * j;
      if (c < s.V) store(a.out_o, row * s.V + c, acc[i][j] * inv);
    }
    if (lane == 0) store(a.out_lse, bh * s.T + t, m[i] + dlog(l[i]));
  }
}

// dq. Grid as the forward. Shared: q [16][D], do [16][V], k [32][D+1], v [32][V+1].
template <class T, int NC>
__global__ void __launch_bounds__(kFmaThreads) attn_dq_fma_kernel(FmaArgs<T> a) {
  using A = acc_t<T>;
  const AttnShape& s = a.s;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  A* sq = reinterpret_cast<A*>(smem_raw);
  A* sdo = sq + kFmaBlockRows * s.D;
  A* sk = sdo + kFmaBlockRows * s.V;
  A* sv = sk + kFmaTile * (s.D + 1);
  const int64_t BH = s.B * s.H, nqb = ceil_div(s.T, kFmaBlockRows);
  const int64_t bh = blockIdx.x % BH, b = bh / s.H, h = bh % s.H;
  const int64_t t0 = (nqb - 1 - blockIdx.x / BH) * kFmaBlockRows;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const A scale = static_cast<A>(s.scale);

  load_rows(sq, static_cast<int>(s.D), a.q, s.D, s, b, h, t0, kFmaBlockRows);
  load_rows(sdo, static_cast<int>(s.V), a.d_o, s.V, s, b, h, t0, kFmaBlockRows);
  A lse[kFmaRows], delta[kFmaRows], acc[kFmaRows][NC];
#pragma unroll
  for (int i = 0; i < kFmaRows; ++i) {
    const int64_t t = t0 + warp * kFmaRows + i;
    lse[i] = t < s.T ? load(a.lse, bh * s.T + t) : A(0);
    delta[i] = t < s.T ? a.delta[bh * s.T + t] : A(0);
#pragma unroll
    for (int j = 0; j < NC; ++j) acc[i][j] = 0;
  }
  const int64_t t_last = min(t0 + kFmaBlockRows, s.T) - 1;
  for (int64_t kb = first_key(t0, s.window) / kFmaTile; kb <= t_last / kFmaTile; ++kb) {
    const int64_t s0 = kb * kFmaTile;
    __syncthreads();
    load_rows(sk, static_cast<int>(s.D + 1), a.k, s.D, s, b, h, s0, kFmaTile);
    load_rows(sv, static_cast<int>(s.V + 1), a.v, s.V, s, b, h, s0, kFmaTile);
    __syncthreads();
    A sc[kFmaRows] = {}, dp[kFmaRows] = {};
    for (int64_t d = 0; d < s.D; ++d) {
      const A kd = sk[lane * (s.D + 1) + d];
#pragma unroll
      for (int i = 0; i < kFmaRows; ++i) sc[i] += sq[(warp * kFmaRows + i) * s.D + d] * kd;
    }
    for (int64_t c = 0; c < s.V; ++c) {
      const A vc = sv[lane * (s.V + 1) + c];
#pragma unroll
      for (int i = 0; i < kFmaRows; ++i) dp[i] += sdo[(warp * kFmaRows + i) * s.V + c] * vc;
    }
#pragma unroll
    for (int i = 0; i < kFmaRows; ++i) {
      const int64_t t = t0 + warp * kFmaRows + i;
      const bool vis = t < s.T && visible(t, s0 + lane, s.window);
      const A p = vis ? dexp(sc[i] * scale - lse[i]) : A(0);
      const A ds = p * (dp[i] - delta[i]);
      for (int kk = 0; kk < kFmaTile; ++kk) {
        const A dsk = __shfl_sync(0xffffffffu, ds, kk);
#pragma unroll
        for (int j = 0; j < NC; ++j) {
          const int64_t c = lane + 32 * j;
          if (c < s.D) acc[i][j] += dsk * sk[kk * (s.D + 1) + c];
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kFmaRows; ++i) {
    const int64_t t = t0 + warp * kFmaRows + i;
    if (t >= s.T) continue;
    const int64_t row = (b * s.T + t) * s.H + h;
#pragma unroll
    for (int j = 0; j < NC; ++j) {
      const int64_t c = lane + 32 * j;
      if (c < s.D) store(a.dq, row * s.D + c, acc[i][j] * scale);
    }
  }
}

// dk, dv: rows = 16 keys per block, tiles = 32 queries. Grid: B*H * ceil(T/16),
// the earliest key blocks (most queries) first. Shared: k [16][D], v [16][V],
// q [32][D+1], do [32][V+1], lse [32], delta [32].
template <class T, int NC>
__global__ void __launch_bounds__(kFmaThreads) attn_dkdv_fma_kernel(FmaArgs<T> a) {
  using A = acc_t<T>;
  const AttnShape& s = a.s;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  A* sk = reinterpret_cast<A*>(smem_raw);
  A* sv = sk + kFmaBlockRows * s.D;
  A* sq = sv + kFmaBlockRows * s.V;
  A* sdo = sq + kFmaTile * (s.D + 1);
  A* slse = sdo + kFmaTile * (s.V + 1);
  A* sdelta = slse + kFmaTile;
  const int64_t BH = s.B * s.H;
  const int64_t bh = blockIdx.x % BH, b = bh / s.H, h = bh % s.H;
  const int64_t s0 = (blockIdx.x / BH) * kFmaBlockRows;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const A scale = static_cast<A>(s.scale);

  load_rows(sk, static_cast<int>(s.D), a.k, s.D, s, b, h, s0, kFmaBlockRows);
  load_rows(sv, static_cast<int>(s.V), a.v, s.V, s, b, h, s0, kFmaBlockRows);
  A dk[kFmaRows][NC], dv[kFmaRows][NC];
#pragma unroll
  for (int i = 0; i < kFmaRows; ++i)
#pragma unroll
    for (int j = 0; j < NC; ++j) dk[i][j] = dv[i][j] = 0;
  const int64_t s_last = min(s0 + kFmaBlockRows, s.T) - 1;
  for (int64_t qb = s0 / kFmaTile; qb <= last_query(s_last, s.window, s.T) / kFmaTile; ++qb) {
    const int64_t t0 = qb * kFmaTile;
    __syncthreads();
    load_rows(sq, static_cast<int>(s.D + 1), a.q, s.D, s, b, h, t0, kFmaTile);
    load_rows(sdo, static_cast<int>(s.V + 1), a.d_o, s.V, s, b, h, t0, kFmaTile);
    if (threadIdx.x < kFmaTile) {
      const int64_t t = t0 + threadIdx.x;
      slse[threadIdx.x] = t < s.T ? load(a.lse, bh * s.T + t) : A(0);
      sdelta[threadIdx.x] = t < s.T ? a.delta[bh * s.T + t] : A(0);
    }
    __syncthreads();
    A sc[kFmaRows] = {}, dp[kFmaRows] = {};
    for (int64_t d = 0; d < s.D; ++d) {
      const A qd = sq[lane * (s.D + 1) + d];
#pragma unroll
      for (int i = 0; i < kFmaRows; ++i) sc[i] += sk[(warp * kFmaRows + i) * s.D + d] * qd;
    }
    for (int64_t c = 0; c < s.V; ++c) {
      const A doc = sdo[lane * (s.V + 1) + c];
#pragma unroll
      for (int i = 0; i < kFmaRows; ++i) dp[i] += sv[(warp * kFmaRows + i) * s.V + c] * doc;
    }
    const int64_t t = t0 + lane;
#pragma unroll
    for (int i = 0; i < kFmaRows; ++i) {
      const int64_t key = s0 + warp * kFmaRows + i;
      const bool vis = key < s.T && t < s.T && visible(t, key, s.window);
      const A p = vis ? dexp(sc[i] * scale - slse[lane]) : A(0);
      const A ds = p * (dp[i] - sdelta[lane]);
      for (int kk = 0; kk < kFmaTile; ++kk) {
        const A pk = __shfl_sync(0xffffffffu, p, kk);
        const A dsk = __shfl_sync(0xffffffffu, ds, kk);
#pragma unroll
        for (int j = 0; j < NC; ++j) {
          const int64_t c = lane + 32 * j;
          if (c < s.V) dv[i][j] += pk * sdo[kk * (s.V + 1) + c];
          if (c < s.D) dk[i][j] += dsk * sq[kk * (s.D + 1) + c];
        }
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kFmaRows; ++i) {
    const int64_t key = s0 + warp * kFmaRows + i;
    if (key >= s.T) continue;
    const int64_t row = (b * s.T + key) * s.H + h;
#pragma unroll
    for (int j = 0; j < NC; ++j) {
      const int64_t c = lane + 32 * j;
      if (c < s.D) store(a.dk, row * s.D + c, dk[i][j] * scale);
      if (c < s.V) store(a.dv, row * s.V + c, dv[i][j]);
    }
  }
}

// Shared-memory bytes of each kernel (the predicate refuses what does not fit).
template <class T>
size_t fma_fwd_smem(int64_t D, int64_t V) {
  return sizeof(acc_t<T>) * size_t(kFmaBlockRows * D + kFmaTile * (D + 1) + kFmaTile * V);
}
template <class T>
size_t fma_dq_smem(int64_t D, int64_t V) {
  return sizeof(acc_t<T>) * size_t(kFmaBlockRows * (D + V) + kFmaTile * (D + 1 + V + 1));
}
template <class T>
size_t fma_dkdv_smem(int64_t D, int64_t V) {
  return sizeof(acc_t<T>) * size_t(kFmaBlockRows * (D + V) + kFmaTile * (D + 1 + V + 1) + 2 * kFmaTile);
}

template <class T, int NC>
void launch_fma_nc(const AttnEnv& env, const FmaArgs<T>& a, bool backward) {
  const AttnShape& s = a.s;
  const unsigned blocks = static_cast<unsigned>(s.B * s.H * ceil_div(s.T, kFmaBlockRows));
  if (!backward) {
    const size_t smem = fma_fwd_smem<T>(s.D, s.V);
    set_smem(attn_fwd_fma_kernel<T, NC>, smem);
    attn_fwd_fma_kernel<T, NC><<<blocks, kFmaThreads, smem, env.stream>>>(a);
    LINEA_CUDA_CHECK_LAUNCH("attn_fwd_fma_kernel");
    return;
  }
  const size_t dq_smem = fma_dq_smem<T>(s.D, s.V);
  set_smem(attn_dq_fma_kernel<T, NC>, dq_smem);
  attn_dq_fma_kernel<T, NC><<<blocks, kFmaThreads, dq_smem, env.stream>>>(a);
  LINEA_CUDA_CHECK_LAUNCH("attn_dq_fma_kernel");
  const size_t dkdv_smem = fma_dkdv_smem<T>(s.D, s.V);
  set_smem(attn_dkdv_fma_kernel<T, NC>, dkdv_smem);
  attn_dkdv_fma_kernel<T, NC><<<blocks, kFmaThreads, dkdv_smem, env.stream>>>(a);
  LINEA_CUDA_CHECK_LAUNCH("attn_dkdv_fma_kernel");
}

// The forward (backward == false: o, lse) or the backward (dq, dk, dv; a.delta
// set). Requires B*H*T > 0 and D, V <= 256.
template <class T>
void launch_fma(const AttnEnv& env, const FmaArgs<T>& a, bool backward) {
  switch (fma_columns(a.s.D, a.s.V)) {
    case 1: launch_fma_nc<T, 1>(env, a, backward); break;
    case 2: launch_fma_nc<T, 2>(env, a, backward); break;
    case 4: launch_fma_nc<T, 4>(env, a, backward); break;
    default: launch_fma_nc<T, 8>(env, a, backward); break;
  }
}

}  // namespace attn
}  // namespace linea
