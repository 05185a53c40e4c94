// The per-chunk backward of the chunked mixer with register fragments (no
// gate, fixed or scalar gate): the same products as bwd_chunk_kernel
// (mixer_chunked_bwd.cuh, whose comment gives the formulas), but every score
// matrix stays in registers as the A fragments of the product that uses it,
// and the gradients accumulate in registers (mma_sm80.cuh), so nothing is
// staged in shared memory in f32. With about 103 KiB of shared memory at
// K = V = 128, two blocks of 8 warps share an SM, one's loads overlapping the
// other's products.
//
// Warp w owns rows 16 (w % 4) .. +15 of the chunk and one half of the columns
// (w / 4) of each gradient:
//   dV rows j  = scale Pᵀ_j dO + 2^{b_L - b_j} k_j dh          (Pᵀ rows: K Qᵀ, keep i >= j)
//   dK rows j  = 2^{b_L - b_j} v_j dhᵀ + scale dPᵀ_j Q          (dPᵀ rows: V dOᵀ, keep i >= j)
//   dQ rows i  = scale 2^{b_i} dO_i hᵀ + scale dP_i K          (dP rows: dO Vᵀ, keep j <= i)
// with the decay 2^{b_i - b_j} inside every score, then
//   db rows    = q ⊙ dQ - k ⊙ dK summed over the key dims, and dg its reverse cumsum
// (scalar_dg_from_rows). The two column halves recompute the scores: 16 x 64
// products, small beside the gradients'.
//
// Opt-in (LINEA_CHUNKED_BWD=mma, mixer_chunked.cu) until the GPU box has
// checked it against the CPU and timed it.
#pragma once

#include "async_copy.cuh"
#include "mixer_chunked_bwd.cuh"
#include "mixer_chunked_mma_scores.cuh"
#include "mma_sm80.cuh"

namespace linea {
namespace chunked {

constexpr int kBwdMmaThreads = 256;

// Shared memory (bytes): q, k (64 x KD), v, dO (64 x VD), one K x V state
// (dh, then h), the cumulative gates and the row sums of db per column half.
template <int KD, int VD>
struct BwdMmaLayout {
  static constexpr int LDK = KD + 8, LDV = VD + 8;
  static constexpr int qs = 0;
  static constexpr int ks = qs + smem_round(kBT * LDK * 2);
  static constexpr int vs = ks + smem_round(kBT * LDK * 2);
  static constexpr int ds = vs + smem_round(kBT * LDV * 2);
  static constexpr int hb = ds + smem_round(kBT * LDV * 2);
  static constexpr int bs = hb + smem_round(KD * LDV * 2);
  static constexpr int red = bs + smem_round(kBT * 4);
  static constexpr int bytes = red + smem_round(2 * kBT * 4);
};

// Grid (NC, B * H), kBwdMmaThreads threads. G: kGateNone or kGateScalar.
template <int G, int KD, int VD>
__global__ void __launch_bounds__(kBwdMmaThreads, 2) bwd_mma_kernel(ChunkArgs a) {
  using L = BwdMmaLayout<KD, VD>;
  using namespace mma;
  constexpr int LDK = L::LDK, LDV = L::LDV;
  constexpr int NK = KD / 16, NV = VD / 16;  // 8-column n-tiles of a column half
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Qs = reinterpret_cast<bf16*>(smem + L::qs);
  bf16* Ks = reinterpret_cast<bf16*>(smem + L::ks);
  bf16* Vs = reinterpret_cast<bf16*>(smem + L::vs);
  bf16* Ds = reinterpret_cast<bf16*>(smem + L::ds);
  bf16* Hb = reinterpret_cast<bf16*>(smem + L::hb);
  float* bs = reinterpret_cast<float*>(smem + L::bs);
  float* red = reinterpret_cast<float*>(smem + L::red);

  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kBT;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, q2 = 2 * (lane % 4);
  const int rg = warp % 4, r0 = 16 * rg, ch = warp / 4;
  const int d0 = ch * KD / 2, v0 = ch * VD / 2;  // this warp's column half of dK / dQ and of dV
  const int64_t KV = int64_t(KD) * VD;
  const float* gates = G == kGateScalar ? bs : nullptr;

  // Rows of q, k, v, dO and a K x V state (slot of hs or dhs) into shared memory.
  auto load_state = [&](const bf16* src) {
    for (int e = tid; e < KD * (VD / 8); e += kBwdMmaThreads) {
      const int i = e / (VD / 8), j = (e % (VD / 8)) * 8;
      cp_async16(Hb + i * LDV + j, src + int64_t(i) * VD + j, true);
    }
  };
  for (int e = tid; e < kBT * (KD / 8); e += kBwdMmaThreads) {
    const int i = e / (KD / 8), j = (e % (KD / 8)) * 8;
    const bool valid = t0 + i < a.T;
    const int64_t r = valid ? row_of(a, b, t0 + i, h) : 0;
    cp_async16(Qs + i * LDK + j, a.q + r * KD + j, valid);
    cp_async16(Ks + i * LDK + j, a.k + r * KD + j, valid);
  }
  for (int e = tid; e < kBT * (VD / 8); e += kBwdMmaThreads) {
    const int i = e / (VD / 8), j = (e % (VD / 8)) * 8;
    const bool valid = t0 + i < a.T;
    const int64_t r = valid ? row_of(a, b, t0 + i, h) : 0;
    cp_async16(Vs + i * LDV + j, a.v + r * VD + j, valid);
    cp_async16(Ds + i * LDV + j, a.dout + r * VD + j, valid);
  }
  load_state(a.dhs + (int64_t(bh) * (a.NC + 1) + c + 1) * KV);
  cp_async_commit();
  if (G == kGateScalar) scalar_cumsum(a, b, h, t0, bs);
  cp_async_wait_all();
  __syncthreads();

  // Row factors of this lane's two rows (r0 + g, r0 + g + 8).
  const int ra = r0 + g, rb = ra + 8;
  const float bl = G == kGateScalar ? bs[kBT - 1] : 0.f;
  const float to_end_a = G == kGateScalar ? fast_exp2(bl - bs[ra]) : 1.f;  // 2^{b_L - b_row}
  const float to_end_b = G == kGateScalar ? fast_exp2(bl - bs[rb]) : 1.f;
  auto store_rows = [&](bf16* dst, float* add, int X, int col0, const float(&acc)[8][4], int ntiles) {
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      if (n >= ntiles) continue;
      const int col = col0 + 8 * n + q2;
      if (t0 + ra < a.T) put_grad2(dst, add, row_of(a, b, t0 + ra, h) * X + col, acc[n][0], acc[n][1]);
      if (t0 + rb < a.T) put_grad2(dst, add, row_of(a, b, t0 + rb, h) * X + col, acc[n][2], acc[n][3]);
    }
  };
  float C[8][4], acc[8][4];
  unsigned pa[4][4];
  auto zero_acc = [&]() {
#pragma unroll
    for (int n = 0; n < 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
  };
  auto scale_rows = [&](float fa, float fb) {
#pragma unroll
    for (int n = 0; n < 8; ++n) acc[n][0] *= fa, acc[n][1] *= fa, acc[n][2] *= fb, acc[n][3] *= fb;
  };

  // ---- dV rows j, columns v0 .. v0 + VD/2 -----------------------------------------
  rows_times_rows<KD>(Ks, LDK, r0, Qs, LDK, rg, 3, C);  // (K Qᵀ)_ji = P_ij
  scores_to_a<false>(C, r0, gates, a.scale, pa);
  zero_acc();
#pragma unroll
  for (int kc = 0; kc < KD / 16; ++kc) {  // k_j dh
    unsigned ka[4];
    ldmatrix_x4(ka, a_rows(Ks, LDK, r0, 16 * kc));
#pragma unroll
    for (int n2 = 0; n2 < NV / 2; ++n2) {
      unsigned hb[4];
      ldmatrix_x4_trans(hb, kn_rows(Hb, LDV, 16 * kc, v0 + 16 * n2));
      mma_bf16(acc[2 * n2], ka, hb[0], hb[1]);
      mma_bf16(acc[2 * n2 + 1], ka, hb[2], hb[3]);
    }
  }
  scale_rows(to_end_a, to_end_b);
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // + Pᵀ dO over rows i >= j
    if (kk < rg) continue;
#pragma unroll
    for (int n2 = 0; n2 < NV / 2; ++n2) {
      unsigned db[4];
      ldmatrix_x4_trans(db, kn_rows(Ds, LDV, 16 * kk, v0 + 16 * n2));
      mma_bf16(acc[2 * n2], pa[kk], db[0], db[1]);
      mma_bf16(acc[2 * n2 + 1], pa[kk], db[2], db[3]);
    }
  }
  store_rows(a.dv, a.dv_add, VD, v0, acc, NV);

  // ---- dK rows j, key dims d0 .. d0 + KD/2 ----------------------------------------
  rows_times_rows<VD>(Vs, LDV, r0, Ds, LDV, rg, 3, C);  // (V dOᵀ)_ji = dP_ij / scale
  scores_to_a<false>(C, r0, gates, a.scale, pa);
  zero_acc();
#pragma unroll
  for (int kc = 0; kc < VD / 16; ++kc) {  // v_j dhᵀ
    unsigned va[4];
    ldmatrix_x4(va, a_rows(Vs, LDV, r0, 16 * kc));
#pragma unroll
    for (int n2 = 0; n2 < NK / 2; ++n2) {
      unsigned hb[4];
      ldmatrix_x4(hb, b_rows(Hb, LDV, d0 + 16 * n2, 16 * kc));
      mma_bf16(acc[2 * n2], va, hb[0], hb[1]);
      mma_bf16(acc[2 * n2 + 1], va, hb[2], hb[3]);
    }
  }
  scale_rows(to_end_a, to_end_b);
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // + dPᵀ Q over rows i >= j
    if (kk < rg) continue;
#pragma unroll
    for (int n2 = 0; n2 < NK / 2; ++n2) {
      unsigned qb[4];
      ldmatrix_x4_trans(qb, kn_rows(Qs, LDK, 16 * kk, d0 + 16 * n2));
      mma_bf16(acc[2 * n2], pa[kk], qb[0], qb[1]);
      mma_bf16(acc[2 * n2 + 1], pa[kk], qb[2], qb[3]);
    }
  }
  store_rows(a.dk, a.dk_add, KD, d0, acc, NK);
  // db's share of this lane's columns: - k ⊙ dK.
  float db_a = 0.f, db_b = 0.f;
#pragma unroll
  for (int n = 0; n < NK; ++n) {
    const int d = d0 + 8 * n + q2;
    const float2 ka = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Ks + ra * LDK + d));
    const float2 kb = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Ks + rb * LDK + d));
    db_a -= ka.x * acc[n][0] + ka.y * acc[n][1];
    db_b -= kb.x * acc[n][2] + kb.y * acc[n][3];
  }

  // ---- the state entering the chunk replaces dh --------------------------------------
  __syncthreads();
  load_state(a.hs + (int64_t(bh) * (a.NC + 1) + c) * KV);
  cp_async_commit();
  // dP needs no state: its scores load-overlap the copy.
  rows_times_rows<VD>(Ds, LDV, r0, Vs, LDV, 0, rg, C);  // dO Vᵀ
  scores_to_a<true>(C, r0, gates, a.scale, pa);
  cp_async_wait_all();
  __syncthreads();

  // ---- dQ rows i, key dims d0 .. d0 + KD/2 ----------------------------------------
  zero_acc();
#pragma unroll
  for (int kc = 0; kc < VD / 16; ++kc) {  // dO_i hᵀ
    unsigned oa[4];
    ldmatrix_x4(oa, a_rows(Ds, LDV, r0, 16 * kc));
#pragma unroll
    for (int n2 = 0; n2 < NK / 2; ++n2) {
      unsigned hb[4];
      ldmatrix_x4(hb, b_rows(Hb, LDV, d0 + 16 * n2, 16 * kc));
      mma_bf16(acc[2 * n2], oa, hb[0], hb[1]);
      mma_bf16(acc[2 * n2 + 1], oa, hb[2], hb[3]);
    }
  }
  scale_rows(a.scale * (G == kGateScalar ? fast_exp2(bs[ra]) : 1.f),
             a.scale * (G == kGateScalar ? fast_exp2(bs[rb]) : 1.f));
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // + dP K over rows j <= i
    if (kk > rg) continue;
#pragma unroll
    for (int n2 = 0; n2 < NK / 2; ++n2) {
      unsigned kb[4];
      ldmatrix_x4_trans(kb, kn_rows(Ks, LDK, 16 * kk, d0 + 16 * n2));
      mma_bf16(acc[2 * n2], pa[kk], kb[0], kb[1]);
      mma_bf16(acc[2 * n2 + 1], pa[kk], kb[2], kb[3]);
    }
  }
  store_rows(a.dq, a.dq_add, KD, d0, acc, NK);
  // dg (scalar and fixed gates): db's share + q ⊙ dQ, its row sums over the quad's lanes and the two
  // column halves, then the reverse cumsum. A fixed gate whose gradient is not asked for has no dg
  // (the same for every block).
  if constexpr (G != kGateNone) {
    if (!wants_dg(a)) return;
#pragma unroll
    for (int n = 0; n < NK; ++n) {
      const int d = d0 + 8 * n + q2;
      const float2 qa = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Qs + ra * LDK + d));
      const float2 qb = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Qs + rb * LDK + d));
      db_a += qa.x * acc[n][0] + qa.y * acc[n][1];
      db_b += qb.x * acc[n][2] + qb.y * acc[n][3];
    }
#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
      db_a += __shfl_xor_sync(0xffffffffu, db_a, off);
      db_b += __shfl_xor_sync(0xffffffffu, db_b, off);
    }
    if (lane % 4 == 0) red[ch * kBT + ra] = db_a, red[ch * kBT + rb] = db_b;
    __syncthreads();
    if (tid < kBT) red[tid] += red[kBT + tid];  // the two column halves, in a fixed order
    __syncthreads();
    if (warp == 0) {
      const float* rp = a.rpart + (int64_t(bh) * a.NC + c) * a.rparts * KD;
      scalar_dg_from_rows(a, KD, rp, red, b, h, bh, c);
    }
  }
}

}  // namespace chunked
}  // namespace linea
