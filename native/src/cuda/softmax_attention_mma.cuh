// bf16 softmax attention forward on tensor cores (mma.sync m16n8k16, bf16
// inputs, f32 accumulate; sm_80+), FlashAttention-2 style, for D = V = HD in
// {64, 128}. Layouts and mask: softmax_attention_common.cuh.
//
// Tiling: a block is NW warps and BQ = 16 NW query rows of one (b, h); each
// warp owns 16 rows. Key/value tiles of BK = 64 rows stream through shared
// memory, double-buffered with cp.async (the next tile loads while this one
// computes). Per tile, per warp:
//   S (16 x 64, f32 in registers) = Q K^T: K fragments by ldmatrix, the
//     warp's Q fragments loaded once and kept in registers (HD / 4 regs);
//   online softmax in the log2 domain (x = scale * log2(e) * s, exp2f), the
//     row max reduced over the 4 lanes of a quad (the lanes sharing a row);
//   O (16 x HD, f32 in registers) += P V: the S accumulators, rounded to bf16,
//     are exactly the A fragments of the P V product (FA2's register reuse);
//     V fragments by ldmatrix.trans.
// The row sums l stay per-lane partials until the end (every lane of a quad
// rescales by the same factor). Shared rows are padded by 8 bf16 (16 bytes),
// so the 8 row addresses of an ldmatrix phase fall in distinct bank groups.
// Tiles wholly inside every row's visible range skip the mask; positions past
// T are zero-filled by cp.async (src-size 0), rows past T are not stored.
#pragma once

#include "mma_sm80.cuh"
#include "softmax_attention_common.cuh"

namespace linea {
namespace attn {

constexpr int kMmaBK = 64;  // keys per tile
constexpr int kMmaPad = 8;  // bf16 of padding per shared row
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

template <int HD, int NW>
constexpr size_t mma_fwd_smem() {
  return sizeof(bf16) * size_t(16 * NW + 4 * kMmaBK) * (HD + kMmaPad);  // Q, 2 x K, 2 x V
}

struct MmaFwdArgs {
  const bf16 *q, *k, *v;
  bf16* o;
  float* lse;  // a stats tensor: f32 in bf16 calls
  AttnShape s;
};

#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define LINEA_ATTN_MMA 1
#endif

__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
#ifdef LINEA_ATTN_MMA
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(valid ? 16 : 0));
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#ifdef LINEA_ATTN_MMA
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
__device__ __forceinline__ void cp_async_wait_all() {
#ifdef LINEA_ATTN_MMA
  asm volatile("cp.async.wait_group 0;\n" ::);
#endif
}

// ldmatrix, mma.sync m16n8k16 and the bf16 pair packing, with their fragment
// layouts: mma_sm80.cuh (shared with the chunked mixer).
using mma::ldmatrix_x4;
using mma::ldmatrix_x4_trans;
using mma::mma_bf16;
using mma::pack_bf16;

// Copies rows first.. first+rows-1 (zero past T) of head (b, h) of a
// (B, T, H, HD) bf16 tensor into a shared tile with row stride HD + kMmaPad.
template <int HD, int NT>
__device__ __forceinline__ void cp_async_rows(bf16* dst, const bf16* src, const AttnShape& s, int64_t b, int64_t h,
                                              int64_t first, int rows) {
  constexpr int kChunks = HD / 8;  // 16-byte chunks per row
  for (int i = threadIdx.x; i < rows * kChunks; i += NT) {
    const int r = i / kChunks, ch = i % kChunks;
    const int64_t t = first + r;
    const bool valid = t < s.T;
    const bf16* g = valid ? src + ((b * s.T + t) * s.H + h) * HD + ch * 8 : src;
    cp_async16(dst + r * (HD + kMmaPad) + ch * 8, g, valid);
  }
}

// Grid: B*H * ceil(T / BQ) blocks, latest query blocks first; NW warps.
template <int HD, int NW>
__global__ void __launch_bounds__(32 * NW) attn_fwd_mma_kernel(MmaFwdArgs a) {
  constexpr int BQ = 16 * NW, NT = 32 * NW, LD = HD + kMmaPad;
  const AttnShape& s = a.s;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* sq = reinterpret_cast<bf16*>(smem_raw);  // [BQ][LD]
  bf16* sk = sq + BQ * LD;                       // [2][BK][LD]
  bf16* sv = sk + 2 * kMmaBK * LD;               // [2][BK][LD]
  const int64_t BH = s.B * s.H, nqb = ceil_div(s.T, BQ);
  const int64_t bh = blockIdx.x % BH, b = bh / s.H, h = bh % s.H;
  const int64_t t0 = (nqb - 1 - blockIdx.x / BH) * BQ;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, qd = lane % 4;
  const float scale2 = static_cast<float>(s.scale) * kLog2e;

  const int64_t t_last = min(t0 + BQ, s.T) - 1;
  const int64_t kb_first = first_key(t0, s.window) / kMmaBK;
  const int nkb = static_cast<int>(t_last / kMmaBK - kb_first + 1);
  cp_async_rows<HD, NT>(sq, a.q, s, b, h, t0, BQ);
  cp_async_rows<HD, NT>(sk, a.k, s, b, h, kb_first * kMmaBK, kMmaBK);
  cp_async_rows<HD, NT>(sv, a.v, s, b, h, kb_first * kMmaBK, kMmaBK);
  cp_async_commit();

  unsigned qa[HD / 16][4];  // the warp's Q rows as A fragments, loaded once
  float o[HD / 8][4] = {};
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};  // rows g and g + 8 of the warp, log2 domain
  const int64_t row_a = t0 + warp * 16 + g;                // query of rows g; row_a + 8 for g + 8
  for (int it = 0; it < nkb; ++it) {
    cp_async_wait_all();
    __syncthreads();  // tile it landed for every thread; tile it-1's buffer is free
    const int64_t s0 = (kb_first + it) * kMmaBK;
    if (it + 1 < nkb) {
      const int nb = (it + 1) & 1;
      cp_async_rows<HD, NT>(sk + nb * kMmaBK * LD, a.k, s, b, h, s0 + kMmaBK, kMmaBK);
      cp_async_rows<HD, NT>(sv + nb * kMmaBK * LD, a.v, s, b, h, s0 + kMmaBK, kMmaBK);
      cp_async_commit();
    }
    const bf16* k_tile = sk + (it & 1) * kMmaBK * LD;
    const bf16* v_tile = sv + (it & 1) * kMmaBK * LD;

    if (it == 0) {  // Q landed with the first tile: its A fragments stay in registers
#pragma unroll
      for (int kc = 0; kc < HD / 16; ++kc)
        ldmatrix_x4(qa[kc], sq + (warp * 16 + lane % 16) * LD + kc * 16 + (lane / 16) * 8);
    }

    // S = Q K^T: 8 n-tiles of 8 keys.
    float sc[kMmaBK / 8][4] = {};
#pragma unroll
    for (int kc = 0; kc < HD / 16; ++kc) {
#pragma unroll
      for (int n2 = 0; n2 < kMmaBK / 16; ++n2) {
        unsigned kf[4];
        ldmatrix_x4(kf, k_tile + (n2 * 16 + lane % 8 + (lane / 16) * 8) * LD + kc * 16 + ((lane / 8) % 2) * 8);
        mma_bf16(sc[2 * n2], qa[kc], kf[0], kf[1]);
        mma_bf16(sc[2 * n2 + 1], qa[kc], kf[2], kf[3]);
      }
    }

    // Scale into the log2 domain; mask unless the whole tile is visible to every row.
    const bool full = s0 + kMmaBK - 1 <= t0 && (s.window <= 0 || s0 > t0 + BQ - 1 - s.window);
#pragma unroll
    for (int nt = 0; nt < kMmaBK / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t t = row_a + (e / 2) * 8, key = s0 + nt * 8 + 2 * qd + e % 2;
        const bool vis = full || (key <= t && (s.window <= 0 || key > t - s.window));
        sc[nt][e] = vis ? sc[nt][e] * scale2 : -INFINITY;
      }

    // Online softmax per row (r = 0: row g, r = 1: row g + 8).
    float corr[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < kMmaBK / 8; ++nt) mx = fmaxf(mx, fmaxf(sc[nt][2 * r], sc[nt][2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[r], mx);
      // A row that has seen no key yet keeps m = -inf; subtracting 0 then
      // gives p = exp2(-inf) = 0 instead of exp2(-inf + inf) = NaN.
      const float m_use = m_new == -INFINITY ? 0.f : m_new;
      corr[r] = exp2f(m[r] - m_use);
      m[r] = m_new;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < kMmaBK / 8; ++nt) {
        sc[nt][2 * r] = exp2f(sc[nt][2 * r] - m_use);
        sc[nt][2 * r + 1] = exp2f(sc[nt][2 * r + 1] - m_use);
        sum += sc[nt][2 * r] + sc[nt][2 * r + 1];
      }
      l[r] = l[r] * corr[r] + sum;
    }
#pragma unroll
    for (int nt = 0; nt < HD / 8; ++nt) {
      o[nt][0] *= corr[0];
      o[nt][1] *= corr[0];
      o[nt][2] *= corr[1];
      o[nt][3] *= corr[1];
    }

    // O += P V, 16 keys at a time.
#pragma unroll
    for (int kc = 0; kc < kMmaBK / 16; ++kc) {
      const unsigned pa[4] = {pack_bf16(sc[2 * kc][0], sc[2 * kc][1]), pack_bf16(sc[2 * kc][2], sc[2 * kc][3]),
                              pack_bf16(sc[2 * kc + 1][0], sc[2 * kc + 1][1]),
                              pack_bf16(sc[2 * kc + 1][2], sc[2 * kc + 1][3])};
#pragma unroll
      for (int n2 = 0; n2 < HD / 16; ++n2) {
        unsigned vf[4];
        ldmatrix_x4_trans(vf, v_tile + (kc * 16 + lane % 8 + ((lane / 8) % 2) * 8) * LD + n2 * 16 + (lane / 16) * 8);
        mma_bf16(o[2 * n2], pa, vf[0], vf[1]);
        mma_bf16(o[2 * n2 + 1], pa, vf[2], vf[3]);
      }
    }
  }

  // Finish the row sums over the quad, normalise, store.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    const int64_t t = row_a + 8 * r;
    if (t >= s.T) continue;
    const float inv = 1.f / l[r];  // l >= 1: the row's max contributes exp2(0)
    bf16* orow = a.o + ((b * s.T + t) * s.H + h) * HD;
#pragma unroll
    for (int nt = 0; nt < HD / 8; ++nt)
      *reinterpret_cast<__nv_bfloat162*>(orow + nt * 8 + 2 * qd) =
          __floats2bfloat162_rn(o[nt][2 * r] * inv, o[nt][2 * r + 1] * inv);
    if (qd == 0) a.lse[bh * s.T + t] = (m[r] + log2f(l[r])) * kLn2;
  }
}

template <int HD, int NW>
void launch_fwd_mma_hd(const AttnEnv& env, const MmaFwdArgs& a) {
  constexpr size_t smem = mma_fwd_smem<HD, NW>();
  set_smem(attn_fwd_mma_kernel<HD, NW>, smem);
  const unsigned blocks = static_cast<unsigned>(a.s.B * a.s.H * ceil_div(a.s.T, 16 * NW));
  attn_fwd_mma_kernel<HD, NW><<<blocks, 32 * NW, smem, env.stream>>>(a);
  LINEA_CUDA_CHECK_LAUNCH("attn_fwd_mma_kernel");
}

constexpr int kMmaFwdWarps = 8;  // BQ = 128 query rows per block

// Whether the tensor-core forward takes these shapes on this device.
inline bool mma_fwd_takes(const AttnEnv& env, int64_t D, int64_t V) {
  if (env.cc < 80 || D != V) return false;
  if (D == 64) return mma_fwd_smem<64, kMmaFwdWarps>() <= size_t(env.max_smem);
  if (D == 128) return mma_fwd_smem<128, kMmaFwdWarps>() <= size_t(env.max_smem);
  return false;
}

inline void launch_fwd_mma(const AttnEnv& env, const MmaFwdArgs& a) {
  if (a.s.D == 64) launch_fwd_mma_hd<64, kMmaFwdWarps>(env, a);
  else launch_fwd_mma_hd<128, kMmaFwdWarps>(env, a);
}

}  // namespace attn
}  // namespace linea
