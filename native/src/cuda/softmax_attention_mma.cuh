// bf16 softmax attention forward on tensor cores (mma.sync m16n8k16, bf16
// inputs, f32 accumulate; sm_80+), FlashAttention-2 style, for D = V = HD in
// {64, 128}. Layouts and mask: softmax_attention_common.cuh.
//
// Tiling: a block is NW warps and BQ = 16 NW MT query rows of one (b, h); each
// warp owns MT m-tiles of 16 rows (MT = 2 by default; 1 under LINEA_ATTN_FWD=mt1,
// native/lab/softmax_attention). Key/value tiles of BK = 64 rows stream through shared
// memory, double-buffered with cp.async (the next tile loads while this one
// computes). Per tile, per warp:
//   S (16 x 64, f32 in registers) = Q K^T: K fragments by ldmatrix, the
//     warp's Q fragments loaded once and kept in registers (HD / 4 regs; with
//     MT = 2 read from shared memory per use);
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

#include <cstdlib>
#include <string>

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

// Grid: B*H * ceil(T / BQ) blocks, latest query blocks first; NW warps of MT
// m-tiles (16 query rows each): BQ = 16 NW MT. With MT = 1 a warp keeps its Q
// fragments in registers; with MT = 2 (4 warps of 32 rows, as FA2 tiles D = 128)
// each K and V fragment a warp loads from shared memory serves both m-tiles,
// half the ldmatrix traffic per product, and Q is read from shared memory per
// use instead (its registers go to the second tile's O and S).
template <int HD, int NW, int MT>
__global__ void __launch_bounds__(32 * NW) attn_fwd_mma_kernel(MmaFwdArgs a) {
  constexpr int BQ = 16 * NW * MT, NT = 32 * NW, LD = HD + kMmaPad;
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
  const int window = s.window > s.T ? static_cast<int>(s.T) + 1 : static_cast<int>(s.window);  // > T: full

  const int64_t t_last = min(t0 + BQ, s.T) - 1;
  const int64_t kb_first = first_key(t0, s.window) / kMmaBK;
  const int nkb = static_cast<int>(t_last / kMmaBK - kb_first + 1);
  cp_async_rows<HD, NT>(sq, a.q, s, b, h, t0, BQ);
  cp_async_rows<HD, NT>(sk, a.k, s, b, h, kb_first * kMmaBK, kMmaBK);
  cp_async_rows<HD, NT>(sv, a.v, s, b, h, kb_first * kMmaBK, kMmaBK);
  cp_async_commit();

  unsigned qa[MT == 1 ? HD / 16 : 1][4];  // MT = 1: the warp's Q rows as A fragments, loaded once
  float o[MT][HD / 8][4] = {};
  float m[MT][2], l[MT][2];  // rows g and g + 8 of each m-tile, log2 domain
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) m[mt][0] = m[mt][1] = -INFINITY, l[mt][0] = l[mt][1] = 0.f;
  const int64_t row_a = t0 + warp * 16 * MT + g;  // query of row g of m-tile 0; m-tile mt adds 16 mt
  const bf16* q_rows = sq + (warp * 16 * MT + lane % 16) * LD + (lane / 16) * 8;  // this lane's ldmatrix row
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

    if constexpr (MT == 1) {
      if (it == 0) {  // Q landed with the first tile: its A fragments stay in registers
#pragma unroll
        for (int kc = 0; kc < HD / 16; ++kc) ldmatrix_x4(qa[kc], q_rows + kc * 16);
      }
    }

    // S = Q K^T: 8 n-tiles of 8 keys per m-tile.
    float sc[MT][kMmaBK / 8][4] = {};
#pragma unroll
    for (int kc = 0; kc < HD / 16; ++kc) {
      unsigned qf[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        if constexpr (MT == 1) {
#pragma unroll
          for (int e = 0; e < 4; ++e) qf[mt][e] = qa[kc][e];
        } else {
          ldmatrix_x4(qf[mt], q_rows + mt * 16 * LD + kc * 16);
        }
      }
#pragma unroll
      for (int n2 = 0; n2 < kMmaBK / 16; ++n2) {
        unsigned kf[4];
        ldmatrix_x4(kf, k_tile + (n2 * 16 + lane % 8 + (lane / 16) * 8) * LD + kc * 16 + ((lane / 8) % 2) * 8);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma_bf16(sc[mt][2 * n2], qf[mt], kf[0], kf[1]);
          mma_bf16(sc[mt][2 * n2 + 1], qf[mt], kf[2], kf[3]);
        }
      }
    }

    // Scale into the log2 domain; mask unless the whole tile is visible to every row.
    // Positions relative to the tile's first key, in 32 bits (a row and a key of one tile are
    // at most BQ + the window apart): 64-bit arithmetic here cost registers the m-tiles need.
    const bool full = s0 + kMmaBK - 1 <= t0 && (s.window <= 0 || s0 > t0 + BQ - 1 - s.window);
    const int rel = static_cast<int>(row_a - s0);
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < kMmaBK / 8; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int t = rel + 16 * mt + (e / 2) * 8, key = nt * 8 + 2 * qd + e % 2;
          const bool vis = full || (key <= t && (window <= 0 || key > t - window));
          sc[mt][nt][e] = vis ? sc[mt][nt][e] * scale2 : -INFINITY;
        }

        // Online softmax per row (r = 0: row g, r = 1: row g + 8) of each m-tile.
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      float corr[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < kMmaBK / 8; ++nt) mx = fmaxf(mx, fmaxf(sc[mt][nt][2 * r], sc[mt][nt][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(m[mt][r], mx);
        // A row that has seen no key yet keeps m = -inf; subtracting 0 then
        // gives p = exp2(-inf) = 0 instead of exp2(-inf + inf) = NaN.
        const float m_use = m_new == -INFINITY ? 0.f : m_new;
        corr[r] = exp2f(m[mt][r] - m_use);
        m[mt][r] = m_new;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < kMmaBK / 8; ++nt) {
          sc[mt][nt][2 * r] = exp2f(sc[mt][nt][2 * r] - m_use);
          sc[mt][nt][2 * r + 1] = exp2f(sc[mt][nt][2 * r + 1] - m_use);
          sum += sc[mt][nt][2 * r] + sc[mt][nt][2 * r + 1];
        }
        l[mt][r] = l[mt][r] * corr[r] + sum;
      }
#pragma unroll
      for (int nt = 0; nt < HD / 8; ++nt) {
        o[mt][nt][0] *= corr[0];
        o[mt][nt][1] *= corr[0];
        o[mt][nt][2] *= corr[1];
        o[mt][nt][3] *= corr[1];
      }
    }

    // O += P V, 16 keys at a time; each V fragment serves every m-tile.
#pragma unroll
    for (int kc = 0; kc < kMmaBK / 16; ++kc) {
      unsigned pa[MT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        pa[mt][0] = pack_bf16(sc[mt][2 * kc][0], sc[mt][2 * kc][1]);
        pa[mt][1] = pack_bf16(sc[mt][2 * kc][2], sc[mt][2 * kc][3]);
        pa[mt][2] = pack_bf16(sc[mt][2 * kc + 1][0], sc[mt][2 * kc + 1][1]);
        pa[mt][3] = pack_bf16(sc[mt][2 * kc + 1][2], sc[mt][2 * kc + 1][3]);
      }
#pragma unroll
      for (int n2 = 0; n2 < HD / 16; ++n2) {
        unsigned vf[4];
        ldmatrix_x4_trans(vf, v_tile + (kc * 16 + lane % 8 + ((lane / 8) % 2) * 8) * LD + n2 * 16 + (lane / 16) * 8);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma_bf16(o[mt][2 * n2], pa[mt], vf[0], vf[1]);
          mma_bf16(o[mt][2 * n2 + 1], pa[mt], vf[2], vf[3]);
        }
      }
    }
  }

  // Finish the row sums over the quad, normalise, store.
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      l[mt][r] += __shfl_xor_sync(0xffffffffu, l[mt][r], 1);
      l[mt][r] += __shfl_xor_sync(0xffffffffu, l[mt][r], 2);
      const int64_t t = row_a + 16 * mt + 8 * r;
      if (t >= s.T) continue;
      const float inv = 1.f / l[mt][r];  // l >= 1: the row's max contributes exp2(0)
      bf16* orow = a.o + ((b * s.T + t) * s.H + h) * HD;
#pragma unroll
      for (int nt = 0; nt < HD / 8; ++nt)
        *reinterpret_cast<__nv_bfloat162*>(orow + nt * 8 + 2 * qd) =
            __floats2bfloat162_rn(o[mt][nt][2 * r] * inv, o[mt][nt][2 * r + 1] * inv);
      if (qd == 0) a.lse[bh * s.T + t] = (m[mt][r] + log2f(l[mt][r])) * kLn2;
    }
}

template <int HD, int NW, int MT>
void launch_fwd_mma_hd(const AttnEnv& env, const MmaFwdArgs& a) {
  constexpr size_t smem = mma_fwd_smem<HD, NW * MT>();
  set_smem(attn_fwd_mma_kernel<HD, NW, MT>, smem);
  const unsigned blocks = static_cast<unsigned>(a.s.B * a.s.H * ceil_div(a.s.T, 16 * NW * MT));
  attn_fwd_mma_kernel<HD, NW, MT><<<blocks, 32 * NW, smem, env.stream>>>(a);
  LINEA_CUDA_CHECK_LAUNCH("attn_fwd_mma_kernel");
}

constexpr int kMmaFwdWarps = 8;  // BQ = 128 query rows per block, 16 per warp

// 4 warps of two m-tiles (BQ = 128 as well), the default since the H200 call of 2026-12-01
// (native/lab/softmax_attention, v2: forward 1.37 -> 1.09 ms at 16 x 2048 and 18.0 -> 14.9 ms
// at 1 x 32768, H = 16, D = 128, with the same errors against the CPU). LINEA_ATTN_FWD=mt1:
// 8 warps of one m-tile (v1, the control).
inline bool fwd_two_mtiles() {
  static const bool on = [] {
    const char* e = std::getenv("LINEA_ATTN_FWD");
    return !(e && std::string(e) == "mt1");
  }();
  return on;
}

// Whether the tensor-core forward takes these shapes on this device.
inline bool mma_fwd_takes(const AttnEnv& env, int64_t D, int64_t V) {
  if (env.cc < 80 || D != V) return false;
  if (D == 64) return mma_fwd_smem<64, kMmaFwdWarps>() <= size_t(env.max_smem);
  if (D == 128) return mma_fwd_smem<128, kMmaFwdWarps>() <= size_t(env.max_smem);
  return false;
}

inline void launch_fwd_mma(const AttnEnv& env, const MmaFwdArgs& a) {
  if (fwd_two_mtiles()) {
    if (a.s.D == 64) launch_fwd_mma_hd<64, kMmaFwdWarps / 2, 2>(env, a);
    else launch_fwd_mma_hd<128, kMmaFwdWarps / 2, 2>(env, a);
    return;
  }
  if (a.s.D == 64) launch_fwd_mma_hd<64, kMmaFwdWarps, 1>(env, a);
  else launch_fwd_mma_hd<128, kMmaFwdWarps, 1>(env, a);
}

}  // namespace attn
}  // namespace linea
