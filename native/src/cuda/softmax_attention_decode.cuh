// softmax_attn_decode on CUDA: one query per (b, h) against S cached keys,
// the last w of them with window w > 0 (src/cpu/attention_decode.cpp).
//
// q: (B, H, D)   k: (B, S, H, D)   v: (B, S, H, V)   o: (B, H, V)
//
// Split-K ("flash decoding"): the n = S - first visible keys of a head are cut
// into nsplit contiguous chunks so that B*H*nsplit blocks fill the device.
// Pass 1, grid (B*H, nsplit), 4 warps: a warp takes every 4th key of its
// chunk, one key at a time (lanes over d for the dot product, lanes over the
// value columns for the accumulator) with an online softmax; the 4 warps
// merge in shared memory and the block writes its partial (m, l, acc[V]),
// acc unnormalised, to scratch (B*H, nsplit, V + 2) in acc_t. Pass 2, one
// block per (b, h): o = sum_i e^(m_i - M) acc_i / sum_i e^(m_i - M) l_i.
// Every chunk is non-empty, so M is finite; a warp with no key carries
// m = -inf, l = 0, acc = 0 and weighs e^(-inf) = 0.
#pragma once

#include "softmax_attention_common.cuh"

namespace linea {
namespace attn {

constexpr int kDecodeWarps = 4;

template <class T>
struct DecodeArgs {
  const T *q, *k, *v;
  T* o;
  acc_t<T>* part;  // (B*H, nsplit, V + 2): m, l, acc[V]
  int64_t first;   // the first visible key
  int64_t chunk;   // keys per split
  int64_t nsplit;
  AttnShape s;  // T = S
};

// NC: columns per lane, ceil(max(D, V) / 32) rounded up to 1, 2, 4, 8.
template <class T, int NC>
__global__ void __launch_bounds__(32 * kDecodeWarps) attn_decode_split_kernel(DecodeArgs<T> a) {
  using A = acc_t<T>;
  const AttnShape& s = a.s;
  __shared__ A wm[kDecodeWarps], wl[kDecodeWarps];
  extern __shared__ __align__(16) unsigned char smem_raw[];
  A* wacc = reinterpret_cast<A*>(smem_raw);  // [kDecodeWarps][V]
  const int64_t bh = blockIdx.x, b = bh / s.H, h = bh % s.H, split = blockIdx.y;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const A scale = static_cast<A>(s.scale);
  A qr[NC];
#pragma unroll
  for (int j = 0; j < NC; ++j) {
    const int64_t d = lane + 32 * j;
    qr[j] = d < s.D ? load(a.q, bh * s.D + d) : A(0);
  }
  A m = A(-INFINITY), l = 0, acc[NC];
#pragma unroll
  for (int j = 0; j < NC; ++j) acc[j] = 0;
  const int64_t begin = a.first + split * a.chunk;
  const int64_t end = min(begin + a.chunk, s.T);
  for (int64_t key = begin + warp; key < end; key += kDecodeWarps) {
    const int64_t row = (b * s.T + key) * s.H + h;
    A dot = 0;
#pragma unroll
    for (int j = 0; j < NC; ++j) {
      const int64_t d = lane + 32 * j;
      if (d < s.D) dot += qr[j] * load(a.k, row * s.D + d);
    }
    const A sc = warp_sum(dot) * scale;
    const A m_new = fmax(m, sc);
    const A corr = dexp(m - m_new);  // 0 for the warp's first key
    const A p = dexp(sc - m_new);
    l = l * corr + p;
    m = m_new;
#pragma unroll
    for (int j = 0; j < NC; ++j) {
      const int64_t c = lane + 32 * j;
      acc[j] = acc[j] * corr + (c < s.V ? p * load(a.v, row * s.V + c) : A(0));
    }
  }
  if (lane == 0) {
    wm[warp] = m;
    wl[warp] = l;
  }
#pragma unroll
  for (int j = 0; j < NC; ++j) {
    const int64_t c = lane + 32 * j;
    if (c < s.V) wacc[warp * s.V + c] = acc[j];
  }
  __syncthreads();
  A M = wm[0];
  for (int w = 1; w < kDecodeWarps; ++w) M = fmax(M, wm[w]);
  A* out = a.part + (bh * a.nsplit + split) * (s.V + 2);
  if (threadIdx.x == 0) {
    A L = 0;
    for (int w = 0; w < kDecodeWarps; ++w) L += wl[w] * dexp(wm[w] - M);
    out[0] = M;
    out[1] = L;
  }
  for (int64_t c = threadIdx.x; c < s.V; c += 32 * kDecodeWarps) {
    A x = 0;
    for (int w = 0; w < kDecodeWarps; ++w) x += wacc[w * s.V + c] * dexp(wm[w] - M);
    out[2 + c] = x;
  }
}

// One block of 128 threads per (b, h): merges the nsplit partials into o.
template <class T>
__global__ void attn_decode_merge_kernel(DecodeArgs<T> a) {
  using A = acc_t<T>;
  const AttnShape& s = a.s;
  const int64_t bh = blockIdx.x;
  const A* part = a.part + bh * a.nsplit * (s.V + 2);
  A M = A(-INFINITY);
  for (int64_t i = 0; i < a.nsplit; ++i) M = fmax(M, part[i * (s.V + 2)]);
  A L = 0;
  for (int64_t i = 0; i < a.nsplit; ++i) L += part[i * (s.V + 2) + 1] * dexp(part[i * (s.V + 2)] - M);
  const A inv = A(1) / L;  // L >= 1: the chunk holding the max contributes e^0
  for (int64_t c = threadIdx.x; c < s.V; c += blockDim.x) {
    A x = 0;
    for (int64_t i = 0; i < a.nsplit; ++i) x += part[i * (s.V + 2) + 2 + c] * dexp(part[i * (s.V + 2)] - M);
    store(a.o, bh * s.V + c, x * inv);
  }
}

// Writes o = 0 for S = 0 (no key: the CPU reference's empty sums).
template <class T>
__global__ void attn_decode_zero_kernel(T* o, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    store(o, i, acc_t<T>(0));
}

template <class T>
size_t decode_smem(int64_t V) {
  return sizeof(acc_t<T>) * size_t(kDecodeWarps * V);
}

template <class T, int NC>
void launch_decode_nc(const AttnEnv& env, DecodeArgs<T> a) {
  const size_t smem = decode_smem<T>(a.s.V);
  set_smem(attn_decode_split_kernel<T, NC>, smem);
  const dim3 grid(static_cast<unsigned>(a.s.B * a.s.H), static_cast<unsigned>(a.nsplit));
  attn_decode_split_kernel<T, NC><<<grid, 32 * kDecodeWarps, smem, env.stream>>>(a);
  LINEA_CUDA_CHECK_LAUNCH("attn_decode_split_kernel");
  attn_decode_merge_kernel<T><<<static_cast<unsigned>(a.s.B * a.s.H), 128, 0, env.stream>>>(a);
  LINEA_CUDA_CHECK_LAUNCH("attn_decode_merge_kernel");
}

// s.T is S. Requires D, V <= 256 and B*H*V > 0.
template <class T>
void launch_decode(const AttnEnv& env, const T* q, const T* k, const T* v, T* o, const AttnShape& s) {
  if (s.T == 0) {
    attn_decode_zero_kernel<T><<<grid_for(s.B * s.H * s.V), 256, 0, env.stream>>>(o, s.B * s.H * s.V);
    LINEA_CUDA_CHECK_LAUNCH("attn_decode_zero_kernel");
    return;
  }
  DecodeArgs<T> a{};
  a.q = q;
  a.k = k;
  a.v = v;
  a.o = o;
  a.s = s;
  a.first = s.window > 0 && s.window < s.T ? s.T - s.window : 0;
  const int64_t n = s.T - a.first;
  // Enough blocks for two waves over the SMs, chunks of at least 64 keys,
  // at most 65535 splits (grid.y).
  int64_t nsplit = ceil_div(2 * int64_t(env.sm_count), s.B * s.H);
  nsplit = std::max<int64_t>(1, std::min({nsplit, ceil_div(n, 64), int64_t(65535)}));
  a.chunk = ceil_div(n, nsplit);
  a.nsplit = ceil_div(n, a.chunk);  // every chunk non-empty
  a.part = static_cast<acc_t<T>*>(env.scratch(sizeof(acc_t<T>) * size_t(s.B * s.H * a.nsplit * (s.V + 2))));
  switch (fma_columns(s.D, s.V)) {
    case 1: launch_decode_nc<T, 1>(env, a); break;
    case 2: launch_decode_nc<T, 2>(env, a); break;
    case 4: launch_decode_nc<T, 4>(env, a); break;
    default: launch_decode_nc<T, 8>(env, a); break;
  }
}

}  // namespace attn
}  // namespace linea
