// The chunked delta rule's WY-form backward with register fragments: the
// products of wy_kernel (mixer_delta_chunked_bwd.cuh, whose comment gives the
// formulas), with every gradient accumulated in mma.sync fragments
// (mma_sm80.cuh) instead of WMMA tiles staged in f32 shared memory. Per chunk:
//   1. dW = -dU Sᵀ (bf16 in shared memory) and AD = (K Kᵀ) ∘ D, j < i (f32);
//   2. Ti = (I + diag(beta) AD)^-1 by the f32 forward substitution, split into
//      bf16 hi + lo;
//   3. dY_V = Tiᵀ dU, dY_K = Tiᵀ dW in registers: dv = diag(beta) dY_V, the row
//      terms of dbeta and db, and dK = dkp + diag(beta 2^b) dY_K kept in
//      registers to the end; dY_V, dY_K go to shared memory as bf16;
//   4. per 16 x 16 block (i, j) of the strict lower triangle: dT = -(dY_V Utᵀ
//      + dY_K Wᵀ) and AD again (both in registers), E = diag(beta) dT ∘ D (bf16,
//      shared memory) and the sums of AD ∘ dT and dAD ∘ AD by row and column;
//   5. dK += E K + Eᵀ K; dk, dbeta and dg (the reverse cumulative sum) out.
// Warp w owns rows 16 (w % 4) .. +15 and one half (w / 4) of the columns of
// dW, dY_V, dY_K and dK, and its triangle_blocks of the triangle. Sums over
// warps go through per-owner slots in shared memory, added in a fixed order:
// deterministic.
// About 108 KiB of shared memory at K = V = 128: two blocks of 8 warps per SM
// (wy_kernel needs 187 KiB, one block).
//
// The default (LINEA_DELTA_KERNELS=wmma keeps the older kernel): checked by
// the cross-backend test and racecheck on an H200; timings in
// bench/gpu/README.md (seventh session).
#pragma once

#include "mixer_delta_chunked_common.cuh"
#include "mma_sm80.cuh"

namespace linea {
namespace delta_chunked {

template <int KD, int VD>
struct WyMmaLayout {
  static constexpr int LDK = KD + 8, LDV = VD + 8, LDA = kC + 4, LDT = kC + 8;
  static constexpr int ks = 0;
  // S (K x V) in step 1; then W (64 x K) and Ut (64 x V), prefetched during the inverse.
  static constexpr int ss = ks + smem_round(kC * LDK * 2);
  static constexpr int ws = ss, uts = ws + smem_round(kC * LDK * 2);
  static constexpr int s_size = cmax(smem_round(KD * LDV * 2), smem_round(kC* LDK * 2) + smem_round(kC * LDV * 2));
  // dU, then dY_V; dW, then dY_K (bf16).
  static constexpr int dus = ss + s_size;
  static constexpr int dws = dus + smem_round(kC * LDV * 2);
  // AD (f32) until the inverse is done; then Ti hi, lo (bf16); then E (bf16, the hi slot).
  static constexpr int as = dws + smem_round(kC * LDK * 2);
  static constexpr int ths = as, tls = ths + smem_round(kC * LDT * 2);
  static constexpr int a_size = cmax(smem_round(kC * LDA * 4), 2 * smem_round(kC * LDT * 2));
  // f32 vectors of 64: b, beta; dbeta and db row terms per column half (2 each);
  // AD ∘ dT and dAD ∘ AD row sums per j block (4 each); dAD ∘ AD column sums per i block (4).
  static constexpr int vs = as + a_size;
  static constexpr int kVectors = 2 + 2 + 2 + 4 + 4 + 4;
  static constexpr int bytes = vs + smem_round(kVectors * kC * 4);
};

// Grid (NC, B*H), kThreads threads: dk, dv, dbeta and dg of the chunk's valid rows.
template <int KD, int VD>
__global__ void __launch_bounds__(kThreads, 2) wy_mma_kernel(DeltaArgs a) {
  using L = WyMmaLayout<KD, VD>;
  using namespace mma;
  constexpr int LDK = L::LDK, LDV = L::LDV, LDA = L::LDA, LDT = L::LDT;
  constexpr int NK = KD / 16, NV = VD / 16;  // 8-column n-tiles of a column half
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Ks = reinterpret_cast<bf16*>(smem + L::ks);
  bf16* Ss = reinterpret_cast<bf16*>(smem + L::ss);
  bf16* Ws = reinterpret_cast<bf16*>(smem + L::ws);
  bf16* Uts = reinterpret_cast<bf16*>(smem + L::uts);
  bf16* dUs = reinterpret_cast<bf16*>(smem + L::dus);  // later dY_V
  bf16* dWs = reinterpret_cast<bf16*>(smem + L::dws);  // later dY_K
  float* As = reinterpret_cast<float*>(smem + L::as);
  bf16* Th = reinterpret_cast<bf16*>(smem + L::ths);  // later E
  bf16* Tl = reinterpret_cast<bf16*>(smem + L::tls);
  float* sb = reinterpret_cast<float*>(smem + L::vs);
  float* sbeta = sb + kC;
  float* dbeta_half = sbeta + kC;         // [2][64]: dY_V,i·v_i + 2^{b_i} dY_K,i·k_i
  float* dbr_half = dbeta_half + 2 * kC;  // [2][64]: beta_i 2^{b_i} dY_K,i·k_i
  float* dbeta_blk = dbr_half + 2 * kC;   // [4][64] by j block: sum_j AD_ij dT_ij
  float* dbr_blk = dbeta_blk + 4 * kC;    // [4][64] by j block: sum_j dAD_ij AD_ij
  float* dbc_blk = dbr_blk + 4 * kC;      // [4][64] by i block: sum_i dAD_ij AD_ij

  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kC;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, q2 = 2 * (lane % 4);
  const int rg = warp % 4, r0 = 16 * rg, ch = warp / 4;
  const int d0 = ch * KD / 2, v0 = ch * VD / 2;
  const int ra = r0 + g, rb = ra + 8;
  const int64_t row0 = chunk_row0(a, bh, c), st0 = (int64_t(bh) * a.NC + c) * KD * VD;
  const TriangleBlocks blocks = triangle_blocks();  // the same as decayed_key_scores'

  chunk_gates(a, b, h, t0, sb, sbeta);
  for (int e = tid; e < (L::kVectors - 2) * kC; e += kThreads) dbeta_half[e] = 0.f;
  load_rows(a, a.k, KD, b, h, t0, 0, KD, Ks, LDK);
  load_block(a.du + row0 * VD, VD, kC, VD, dUs, LDV);
  load_block(a.hs + st0, VD, KD, VD, Ss, LDV);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();

  float acc[8][4];
  auto zero = [](float(&x)[8][4]) {
#pragma unroll
    for (int n = 0; n < 8; ++n) x[n][0] = x[n][1] = x[n][2] = x[n][3] = 0.f;
  };
  // Fragment rows ra, rb of a 16 x 16 block at (r0, 16 cb) as row-major bf16 into dst (ld).
  auto store_frag = [&](bf16* dst, int ld, int col0, const float(&x)[8][4], int ntiles, float f) {
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      if (n >= ntiles) continue;
      const int col = col0 + 8 * n + q2;
      *reinterpret_cast<unsigned*>(dst + ra * ld + col) = pack_bf16(f * x[n][0], f * x[n][1]);
      *reinterpret_cast<unsigned*>(dst + rb * ld + col) = pack_bf16(f * x[n][2], f * x[n][3]);
    }
  };

  // ---- 1. dW = -dU Sᵀ (rows r0, key dims d0 ..), AD = (K Kᵀ) ∘ D (this warp's blocks) ----
  zero(acc);
#pragma unroll
  for (int kc = 0; kc < VD / 16; ++kc) {
    unsigned ua[4];
    ldmatrix_x4(ua, a_rows(dUs, LDV, r0, 16 * kc));
#pragma unroll
    for (int n2 = 0; n2 < NK / 2; ++n2) {
      unsigned sbf[4];
      ldmatrix_x4(sbf, b_rows(Ss, LDV, d0 + 16 * n2, 16 * kc));
      mma_bf16(acc[2 * n2], ua, sbf[0], sbf[1]);
      mma_bf16(acc[2 * n2 + 1], ua, sbf[2], sbf[3]);
    }
  }
  store_frag(dWs, LDK, d0, acc, NK, -1.f);
  decayed_key_scores<KD>(Ks, LDK, sb, As, LDA);
  __syncthreads();  // S is read: W and Ut replace it while the inverse runs
  load_block(a.w + row0 * KD, KD, kC, KD, Ws, LDK);
  load_block(a.ut + row0 * VD, VD, kC, VD, Uts, LDV);
  cp_async_commit();

  // ---- 2. Ti = (I + diag(beta) AD)^-1, stored as bf16 hi + lo ----------------------
  {
    float x[16];
    unit_lower_inverse(As, LDA, sbeta, x);
    __syncthreads();  // every thread is done reading AD
    const int col = tid >> 2, part = tid & 3;
#pragma unroll
    for (int m = 0; m < 16; ++m) {
      const int idx = (4 * m + part) * LDT + col;
      split_bf16(x[m], Th + idx, Tl + idx);
    }
  }
  __syncthreads();

  // ---- 3. dY_V = Tiᵀ dU, dY_K = Tiᵀ dW (rows r0, this warp's column halves) ---------
  float accK[8][4];
  zero(acc), zero(accK);
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // Tiᵀ is upper triangular: blocks kk >= rg
    if (kk < rg) continue;
    unsigned th[4], tl[4];
    ldmatrix_x4_trans(th, at_rows(Th, LDT, 16 * kk, r0));
    ldmatrix_x4_trans(tl, at_rows(Tl, LDT, 16 * kk, r0));
#pragma unroll
    for (int n2 = 0; n2 < NV / 2; ++n2) {
      unsigned ub[4];
      ldmatrix_x4_trans(ub, kn_rows(dUs, LDV, 16 * kk, v0 + 16 * n2));
      mma_bf16(acc[2 * n2], th, ub[0], ub[1]);
      mma_bf16(acc[2 * n2 + 1], th, ub[2], ub[3]);
      mma_bf16(acc[2 * n2], tl, ub[0], ub[1]);
      mma_bf16(acc[2 * n2 + 1], tl, ub[2], ub[3]);
    }
#pragma unroll
    for (int n2 = 0; n2 < NK / 2; ++n2) {
      unsigned wb[4];
      ldmatrix_x4_trans(wb, kn_rows(dWs, LDK, 16 * kk, d0 + 16 * n2));
      mma_bf16(accK[2 * n2], th, wb[0], wb[1]);
      mma_bf16(accK[2 * n2 + 1], th, wb[2], wb[3]);
      mma_bf16(accK[2 * n2], tl, wb[0], wb[1]);
      mma_bf16(accK[2 * n2 + 1], tl, wb[2], wb[3]);
    }
  }
  const bool va = t0 + ra < a.T, vb = t0 + rb < a.T;
  const int64_t grow_a = va ? row_of(a, b, t0 + ra, h) : 0, grow_b = vb ? row_of(a, b, t0 + rb, h) : 0;
  const float beta_a = sbeta[ra], beta_b = sbeta[rb], ga = exp2f(sb[ra]), gb = exp2f(sb[rb]);
  {
    // dv = diag(beta) dY_V; dY_V·v and dY_K·k per row (this lane's columns).
    float yv_a = 0.f, yv_b = 0.f, yk_a = 0.f, yk_b = 0.f;
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      if (n >= NV) continue;
      const int col = v0 + 8 * n + q2;
      if (va) {
        const float2 v = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(a.v + grow_a * VD + col));
        yv_a += acc[n][0] * v.x + acc[n][1] * v.y;
        *reinterpret_cast<unsigned*>(a.dv + grow_a * VD + col) = pack_bf16(beta_a * acc[n][0], beta_a * acc[n][1]);
      }
      if (vb) {
        const float2 v = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(a.v + grow_b * VD + col));
        yv_b += acc[n][2] * v.x + acc[n][3] * v.y;
        *reinterpret_cast<unsigned*>(a.dv + grow_b * VD + col) = pack_bf16(beta_b * acc[n][2], beta_b * acc[n][3]);
      }
    }
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      if (n >= NK) continue;
      const int col = d0 + 8 * n + q2;
      const float2 ka = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Ks + ra * LDK + col));
      const float2 kb = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Ks + rb * LDK + col));
      yk_a += accK[n][0] * ka.x + accK[n][1] * ka.y;
      yk_b += accK[n][2] * kb.x + accK[n][3] * kb.y;
    }
#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
      yv_a += __shfl_xor_sync(0xffffffffu, yv_a, off), yv_b += __shfl_xor_sync(0xffffffffu, yv_b, off);
      yk_a += __shfl_xor_sync(0xffffffffu, yk_a, off), yk_b += __shfl_xor_sync(0xffffffffu, yk_b, off);
    }
    if (lane % 4 == 0) {
      dbeta_half[ch * kC + ra] = yv_a + ga * yk_a, dbeta_half[ch * kC + rb] = yv_b + gb * yk_b;
      dbr_half[ch * kC + ra] = beta_a * ga * yk_a, dbr_half[ch * kC + rb] = beta_b * gb * yk_b;
    }
  }
  __syncthreads();  // dU, dW and Ti are read: dY_V, dY_K and E replace them
  store_frag(dUs, LDV, v0, acc, NV, 1.f);
  store_frag(dWs, LDK, d0, accK, NK, 1.f);
  // accK becomes the dK accumulator: dkp + diag(beta 2^b) dY_K.
#pragma unroll
  for (int n = 0; n < 8; ++n) {
    if (n >= NK) continue;
    const int col = d0 + 8 * n + q2;
    const float2 pa = *reinterpret_cast<const float2*>(a.dkp + (row0 + ra) * KD + col);
    const float2 pb = *reinterpret_cast<const float2*>(a.dkp + (row0 + rb) * KD + col);
    accK[n][0] = pa.x + beta_a * ga * accK[n][0], accK[n][1] = pa.y + beta_a * ga * accK[n][1];
    accK[n][2] = pb.x + beta_b * gb * accK[n][2], accK[n][3] = pb.y + beta_b * gb * accK[n][3];
  }
  cp_async_wait_all();  // W, Ut
  __syncthreads();

  // ---- 4. the triangle's blocks: dT, AD, E and the gate / beta sums ------------------
  bf16* Es = Th;
  for (int cb = blocks.lo; cb <= blocks.hi; ++cb) {
    float dT[2][4] = {}, KK[2][4] = {};
    block_x_yt<VD>(dUs, LDV, r0, Uts, LDV, 16 * cb, dT);  // dY_V Utᵀ
    block_x_yt<KD>(dWs, LDK, r0, Ws, LDK, 16 * cb, dT);   // + dY_K Wᵀ
    block_x_yt<KD>(Ks, LDK, r0, Ks, LDK, 16 * cb, KK);
    float bs_a = 0.f, bs_b = 0.f, rs_a = 0.f, rs_b = 0.f, cs[2][2] = {};
#pragma unroll
    for (int n = 0; n < 2; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = e < 2 ? ra : rb, j = 16 * cb + 8 * n + q2 + (e & 1);
        float ev = 0.f, t = 0.f, bsum = 0.f;
        if (j < i) {
          const float d = exp2f(sb[i] - sb[j]), ad = KK[n][e] * d, dt = -dT[n][e];
          const float da = (e < 2 ? beta_a : beta_b) * dt;
          bsum = ad * dt, ev = da * d, t = da * ad;
        }
        Es[i * LDT + j] = __float2bfloat16_rn(ev);
        if (e < 2) bs_a += bsum, rs_a += t;
        else bs_b += bsum, rs_b += t;
        cs[n][e & 1] += t;
      }
#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {  // over the quad: row sums
      bs_a += __shfl_xor_sync(0xffffffffu, bs_a, off), bs_b += __shfl_xor_sync(0xffffffffu, bs_b, off);
      rs_a += __shfl_xor_sync(0xffffffffu, rs_a, off), rs_b += __shfl_xor_sync(0xffffffffu, rs_b, off);
    }
#pragma unroll
    for (int off = 4; off < 32; off <<= 1)  // over g: column sums
#pragma unroll
      for (int n = 0; n < 2; ++n)
        cs[n][0] += __shfl_xor_sync(0xffffffffu, cs[n][0], off),
            cs[n][1] += __shfl_xor_sync(0xffffffffu, cs[n][1], off);
    if (lane % 4 == 0) {
      dbeta_blk[cb * kC + ra] = bs_a, dbeta_blk[cb * kC + rb] = bs_b;
      dbr_blk[cb * kC + ra] = rs_a, dbr_blk[cb * kC + rb] = rs_b;
    }
    if (g == 0)
#pragma unroll
      for (int n = 0; n < 2; ++n) {
        const int j = 16 * cb + 8 * n + q2;
        dbc_blk[rg * kC + j] = cs[n][0], dbc_blk[rg * kC + j + 1] = cs[n][1];
      }
  }
  __syncthreads();

  // ---- 5. dK += E K + Eᵀ K; dk, dbeta, dg ---------------------------------------------
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    unsigned ea[4];
    if (kk <= rg) {  // E K: E's row blocks are lower triangular
      ldmatrix_x4(ea, a_rows(Es, LDT, r0, 16 * kk));
#pragma unroll
      for (int n2 = 0; n2 < NK / 2; ++n2) {
        unsigned kb[4];
        ldmatrix_x4_trans(kb, kn_rows(Ks, LDK, 16 * kk, d0 + 16 * n2));
        mma_bf16(accK[2 * n2], ea, kb[0], kb[1]);
        mma_bf16(accK[2 * n2 + 1], ea, kb[2], kb[3]);
      }
    }
    if (kk >= rg) {  // Eᵀ K: rows of Eᵀ are E's columns, nonzero below the diagonal
      ldmatrix_x4_trans(ea, at_rows(Es, LDT, 16 * kk, r0));
#pragma unroll
      for (int n2 = 0; n2 < NK / 2; ++n2) {
        unsigned kb[4];
        ldmatrix_x4_trans(kb, kn_rows(Ks, LDK, 16 * kk, d0 + 16 * n2));
        mma_bf16(accK[2 * n2], ea, kb[0], kb[1]);
        mma_bf16(accK[2 * n2 + 1], ea, kb[2], kb[3]);
      }
    }
  }
#pragma unroll
  for (int n = 0; n < 8; ++n) {
    if (n >= NK) continue;
    const int col = d0 + 8 * n + q2;
    if (va) *reinterpret_cast<unsigned*>(a.dk + grow_a * KD + col) = pack_bf16(accK[n][0], accK[n][1]);
    if (vb) *reinterpret_cast<unsigned*>(a.dk + grow_b * KD + col) = pack_bf16(accK[n][2], accK[n][3]);
  }
  if (warp != 0) return;
  // Rows lane and 32 + lane: dbeta, then db = dbp + row terms - column sums and its
  // reverse cumulative sum dg_i = sum_{s >= i} db_s.
  float db[2];
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int i = 32 * half + lane;
    float dbeta = dbeta_half[i] + dbeta_half[kC + i], r = dbr_half[i] + dbr_half[kC + i], cs = 0.f;
#pragma unroll
    for (int blk = 0; blk < 4; ++blk) dbeta += dbeta_blk[blk * kC + i], r += dbr_blk[blk * kC + i];
#pragma unroll
    for (int blk = 0; blk < 4; ++blk) cs += dbc_blk[blk * kC + i];
    if (t0 + i < a.T) a.dbeta[row_of(a, b, t0 + i, h)] = __float2bfloat16_rn(dbeta);
    db[half] = a.dbp[row0 + i] + r - cs;
  }
  if (!a.gated) return;
#pragma unroll
  for (int off = 1; off < 32; off <<= 1) {  // suffix sums within each half
    const float lo = __shfl_down_sync(0xffffffffu, db[0], off), hi = __shfl_down_sync(0xffffffffu, db[1], off);
    if (lane + off < 32) db[0] += lo, db[1] += hi;
  }
  db[0] += __shfl_sync(0xffffffffu, db[1], 0);  // the upper half's total
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int i = 32 * half + lane;
    if (t0 + i < a.T) a.dg[row_of(a, b, t0 + i, h)] = __float2bfloat16_rn(db[half]);
  }
}

}  // namespace delta_chunked
}  // namespace linea
