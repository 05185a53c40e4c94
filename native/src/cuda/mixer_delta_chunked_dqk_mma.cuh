// The chunked delta rule's dq / dk kernel with register fragments: the
// products of dqk_kernel (mixer_delta_chunked_bwd.cuh, whose comment gives the
// formulas) in mma.sync fragments, as the additive mixer's bwd_mma_kernel
// (mixer_chunked_bwd_mma.cuh) does them with U for v, the state entering the
// chunk S for h and the gradient of the state leaving it dS_out for dh:
//   dK rows j (partial, dkp) = 2^{b_63 - b_j} U_j dS_outᵀ + dPDᵀ_j Q
//   dQ rows i                = scale 2^{b_i} dO_i Sᵀ + dPD_i K
// with dPD = scale (dO Uᵀ) ∘ D (j <= i) kept in registers as A fragments. The
// gate gradient's chunk-local part is db_i = q_i·dQ_i - k_i·dK_i (the score
// terms of dqk_kernel's sum cancel into these), and the last row also gets
// 2^{b_63} <dS_out, S> + sum_j k_j·(the Kh part of dK_j) (dbp).
// Warp w owns rows 16 (w % 4) .. +15 and one key-dim half (w / 4). About
// 103 KiB of shared memory at K = V = 128 (dqk_kernel: 204 KiB): two blocks
// of 8 warps per SM.
//
// The default (LINEA_DELTA_KERNELS=wmma keeps the older kernel): checked by
// the cross-backend test and racecheck on an H200; timings in
// bench/gpu/README.md (seventh session).
#pragma once

#include "mixer_chunked_mma_scores.cuh"
#include "mixer_delta_chunked_common.cuh"

namespace linea {
namespace delta_chunked {

template <int KD, int VD>
struct DqkMmaLayout {
  static constexpr int LDK = KD + 8, LDV = VD + 8;
  static constexpr int qs = 0;
  static constexpr int ks = qs + smem_round(kC * LDK * 2);
  static constexpr int us = ks + smem_round(kC * LDK * 2);
  static constexpr int ds = us + smem_round(kC * LDV * 2);
  static constexpr int hs = ds + smem_round(kC * LDV * 2);  // dS_out, then S
  static constexpr int bs = hs + smem_round(KD * LDV * 2);
  // db row sums per key-dim half (2 x 64), Kh-part row sums per half (2 x 64),
  // <dS_out, S> per warp (8).
  static constexpr int red = bs + smem_round(kC * 4);
  static constexpr int bytes = red + smem_round((4 * kC + kThreads / 32) * 4);
};

// Grid (NC, B*H), kThreads threads: dq (valid rows), dkp and dbp (all 64 rows).
template <int KD, int VD>
__global__ void __launch_bounds__(kThreads, 2) dqk_mma_kernel(DeltaArgs a) {
  using L = DqkMmaLayout<KD, VD>;
  using namespace mma;
  constexpr int LDK = L::LDK, LDV = L::LDV, NK = KD / 16;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Qs = reinterpret_cast<bf16*>(smem + L::qs);
  bf16* Ks = reinterpret_cast<bf16*>(smem + L::ks);
  bf16* Us = reinterpret_cast<bf16*>(smem + L::us);
  bf16* Ds = reinterpret_cast<bf16*>(smem + L::ds);
  bf16* Hs = reinterpret_cast<bf16*>(smem + L::hs);
  float* sb = reinterpret_cast<float*>(smem + L::bs);
  float* db_half = reinterpret_cast<float*>(smem + L::red);  // [2][64]
  float* kh_half = db_half + 2 * kC;                         // [2][64]
  float* state_part = kh_half + 2 * kC;                      // [8]

  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kC;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, q2 = 2 * (lane % 4);
  const int rg = warp % 4, r0 = 16 * rg, ch = warp / 4, d0 = ch * KD / 2;
  const int ra = r0 + g, rb = ra + 8;
  const int64_t row0 = chunk_row0(a, bh, c), st0 = (int64_t(bh) * a.NC + c) * KD * VD;
  const float* gates = a.gated ? sb : nullptr;

  chunk_gates(a, b, h, t0, sb, nullptr);
  load_rows(a, a.q, KD, b, h, t0, 0, KD, Qs, LDK);
  load_rows(a, a.k, KD, b, h, t0, 0, KD, Ks, LDK);
  load_rows(a, a.dout, VD, b, h, t0, 0, VD, Ds, LDV);
  load_block(a.u + row0 * VD, VD, kC, VD, Us, LDV);
  load_block(a.dhs + st0, VD, KD, VD, Hs, LDV);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();

  const float bl = sb[kC - 1];
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
  // sum over this lane's key dims of x_row ⊙ acc, rows ra and rb.
  auto row_dots = [&](const bf16* X, float& da, float& dbv) {
    da = 0.f, dbv = 0.f;
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      if (n >= NK) continue;
      const int d = d0 + 8 * n + q2;
      const float2 xa = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(X + ra * LDK + d));
      const float2 xb = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(X + rb * LDK + d));
      da += xa.x * acc[n][0] + xa.y * acc[n][1];
      dbv += xb.x * acc[n][2] + xb.y * acc[n][3];
    }
  };

  // ---- dK rows j (partial), key dims d0 .. d0 + KD/2 -------------------------------
  chunked::rows_times_rows<VD>(Us, LDV, r0, Ds, LDV, rg, 3, C);  // (U dOᵀ)_ji
  chunked::scores_to_a<false>(C, r0, gates, a.scale, pa);        // dPDᵀ rows j, i >= j
  zero_acc();
#pragma unroll
  for (int kc = 0; kc < VD / 16; ++kc) {  // U_j dS_outᵀ
    unsigned ua[4];
    ldmatrix_x4(ua, a_rows(Us, LDV, r0, 16 * kc));
#pragma unroll
    for (int n2 = 0; n2 < NK / 2; ++n2) {
      unsigned hb[4];
      ldmatrix_x4(hb, b_rows(Hs, LDV, d0 + 16 * n2, 16 * kc));
      mma_bf16(acc[2 * n2], ua, hb[0], hb[1]);
      mma_bf16(acc[2 * n2 + 1], ua, hb[2], hb[3]);
    }
  }
  scale_rows(exp2f(bl - sb[ra]), exp2f(bl - sb[rb]));
  float kh_a, kh_b;
  row_dots(Ks, kh_a, kh_b);  // k_j·(the Kh part of dK_j)
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // + dPDᵀ Q over rows i >= j
    if (kk < rg) continue;
#pragma unroll
    for (int n2 = 0; n2 < NK / 2; ++n2) {
      unsigned qb[4];
      ldmatrix_x4_trans(qb, kn_rows(Qs, LDK, 16 * kk, d0 + 16 * n2));
      mma_bf16(acc[2 * n2], pa[kk], qb[0], qb[1]);
      mma_bf16(acc[2 * n2 + 1], pa[kk], qb[2], qb[3]);
    }
  }
#pragma unroll
  for (int n = 0; n < 8; ++n) {
    if (n >= NK) continue;
    const int col = d0 + 8 * n + q2;
    *reinterpret_cast<float2*>(a.dkp + (row0 + ra) * KD + col) = make_float2(acc[n][0], acc[n][1]);
    *reinterpret_cast<float2*>(a.dkp + (row0 + rb) * KD + col) = make_float2(acc[n][2], acc[n][3]);
  }
  float db_a, db_b;
  row_dots(Ks, db_a, db_b);
  db_a = -db_a, db_b = -db_b;

  // ---- <dS_out, S>, then S replaces dS_out ------------------------------------------
  {
    float s = 0.f;
    const bf16* hs = a.hs + st0;
    for (int e = tid; e < KD * VD / 8; e += kThreads) {
      const int d = e / (VD / 8), j = (e % (VD / 8)) * 8;
      const uint4 gv = *reinterpret_cast<const uint4*>(hs + int64_t(d) * VD + j);
      const uint4 sv = *reinterpret_cast<const uint4*>(Hs + d * LDV + j);
      const __nv_bfloat162* gp = reinterpret_cast<const __nv_bfloat162*>(&gv);
      const __nv_bfloat162* sp = reinterpret_cast<const __nv_bfloat162*>(&sv);
#pragma unroll
      for (int n = 0; n < 4; ++n) {
        const float2 x = __bfloat1622float2(gp[n]), y = __bfloat1622float2(sp[n]);
        s += x.x * y.x + x.y * y.y;
      }
    }
    s = warp_sum(s);
    if (lane == 0) state_part[warp] = s;
  }
  __syncthreads();
  load_block(a.hs + st0, VD, KD, VD, Hs, LDV);
  cp_async_commit();
  chunked::rows_times_rows<VD>(Ds, LDV, r0, Us, LDV, 0, rg, C);  // (dO Uᵀ)_ij
  chunked::scores_to_a<true>(C, r0, gates, a.scale, pa);         // dPD rows i, j <= i
  cp_async_wait_all();
  __syncthreads();

  // ---- dQ rows i, key dims d0 .. d0 + KD/2 ------------------------------------------
  zero_acc();
#pragma unroll
  for (int kc = 0; kc < VD / 16; ++kc) {  // dO_i Sᵀ
    unsigned oa[4];
    ldmatrix_x4(oa, a_rows(Ds, LDV, r0, 16 * kc));
#pragma unroll
    for (int n2 = 0; n2 < NK / 2; ++n2) {
      unsigned hb[4];
      ldmatrix_x4(hb, b_rows(Hs, LDV, d0 + 16 * n2, 16 * kc));
      mma_bf16(acc[2 * n2], oa, hb[0], hb[1]);
      mma_bf16(acc[2 * n2 + 1], oa, hb[2], hb[3]);
    }
  }
  scale_rows(a.scale * exp2f(sb[ra]), a.scale * exp2f(sb[rb]));
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // + dPD K over rows j <= i
    if (kk > rg) continue;
#pragma unroll
    for (int n2 = 0; n2 < NK / 2; ++n2) {
      unsigned kb[4];
      ldmatrix_x4_trans(kb, kn_rows(Ks, LDK, 16 * kk, d0 + 16 * n2));
      mma_bf16(acc[2 * n2], pa[kk], kb[0], kb[1]);
      mma_bf16(acc[2 * n2 + 1], pa[kk], kb[2], kb[3]);
    }
  }
#pragma unroll
  for (int n = 0; n < 8; ++n) {
    if (n >= NK) continue;
    const int col = d0 + 8 * n + q2;
    if (t0 + ra < a.T)
      *reinterpret_cast<unsigned*>(a.dq + row_of(a, b, t0 + ra, h) * KD + col) = pack_bf16(acc[n][0], acc[n][1]);
    if (t0 + rb < a.T)
      *reinterpret_cast<unsigned*>(a.dq + row_of(a, b, t0 + rb, h) * KD + col) = pack_bf16(acc[n][2], acc[n][3]);
  }
  {
    float qa, qb;
    row_dots(Qs, qa, qb);
    db_a += qa, db_b += qb;
  }
#pragma unroll
  for (int off = 1; off < 4; off <<= 1) {
    db_a += __shfl_xor_sync(0xffffffffu, db_a, off), db_b += __shfl_xor_sync(0xffffffffu, db_b, off);
    kh_a += __shfl_xor_sync(0xffffffffu, kh_a, off), kh_b += __shfl_xor_sync(0xffffffffu, kh_b, off);
  }
  if (lane % 4 == 0) {
    db_half[ch * kC + ra] = db_a, db_half[ch * kC + rb] = db_b;
    kh_half[ch * kC + ra] = kh_a, kh_half[ch * kC + rb] = kh_b;
  }
  __syncthreads();
  if (warp != 0) return;
  // dbp rows lane and 32 + lane; the last row adds 2^{b_63} <dS_out, S> + sum_j (Kh part)_j.
  float kh = kh_half[lane] + kh_half[kC + lane] + kh_half[32 + lane] + kh_half[kC + 32 + lane];
  kh = warp_sum(kh);
  float state = 0.f;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) state += state_part[w];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int i = 32 * half + lane;
    float db = db_half[i] + db_half[kC + i];
    if (i == kC - 1) db += exp2f(bl) * state + kh;
    a.dbp[row0 + i] = db;
  }
}

}  // namespace delta_chunked
}  // namespace linea
