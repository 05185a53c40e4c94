// The per-chunk kernels of the chunked mixer for vector gates with register
// fragments: the forward output (fwd_out_kernel<kGateVector>'s o = scale (Q̃ hs_c
// + P V)) and the backward (bwd_chunk_kernel<kGateVector>; mixer_chunked_bwd.cuh
// gives the formulas), as mma.sync on fragments accumulated in registers, with
// the per-key-dim decay applied to fragments instead of staged operands.
//
// A vector gate puts its decay 2^{b_id - b_jd} inside the sum over key dims, so
// the scores cannot be decayed after the product as the scalar gate's are:
//   - off-diagonal 16-row blocks factor through a reference row r of the pair,
//     both factors <= 1: the scores P_IJ = (Q_I ⊙ 2^{b_I - b_r}) (K̄^{(I)}_J)ᵀ with
//     r = 16 I (the Q side scaled in its A fragments, K̄ built in shared memory);
//     dQ^P of block I against J < I with the same K̄ and 2^{b_i - b_r} on the
//     result; dK^P of block J against I > J with Q̂^{(J)} (r = 16 J + 15) and
//     2^{b_r - b_j} on the result;
//   - the four diagonal blocks are summed exactly, one 2^{b_id - b_jd} per term
//     (strong gates make a 16-step range overflow any factoring);
//   - Q̃ = q ⊙ 2^{b} (the state's share of o) and K̂ = k ⊙ 2^{b_L - b} (of dV) are
//     scaled in their A fragments, the state's shares of dK and dQ on their results.
// P and dP (64 x 64, bf16, scaled and masked) go through shared memory once,
// since four warps read each of them as A fragments, some transposed.
//
// Warp w owns rows 16 (w % 4) .. +15 and one column half (w / 4) of o, dV, dK
// and dQ, as in bwd_mma_kernel; db = q ⊙ dQ - k ⊙ dK per element, then dg is its
// reverse cumsum along the chunk (plus the state's share at the last row).
// Shared memory at K = V = 128: about 152 KiB forward, 203 KiB backward (one
// block of 8 warps per SM).
//
// The default for vector gates (mixer_chunked.cu: use_vec_mma_fwd, use_mma_bwd):
// on the H200 they passed the cross-backend test (strong gates, s0 and ds_final,
// T = 1, 63, 130, 1000) and took the bf16 fwd+bwd at H = 16, dk = dv = 128 from
// 12.24 to 7.01 ms at 16x2048 (native/lab/mixer_chunked/README.md, v6).
#pragma once

#include "mixer_chunked_bwd_mma.cuh"

namespace linea {
namespace chunked {

template <int KD, int VD>
struct BwdVecMmaLayout {
  static constexpr int LDK = KD + 8, LDV = VD + 8, LDB = KD + 1, LDP = kLdPb, LDS = KD + 4;
  static constexpr int qs = 0;
  static constexpr int ks = qs + smem_round(kBT * LDK * 2);
  static constexpr int vs = ks + smem_round(kBT * LDK * 2);
  static constexpr int ds = vs + smem_round(kBT * LDV * 2);
  static constexpr int hb = ds + smem_round(kBT * LDV * 2);
  static constexpr int bs = hb + smem_round(KD * LDV * 2);
  static constexpr int pb = bs + smem_round(kBT * LDB * 4);
  static constexpr int dpb = pb + smem_round(kBT * LDP * 2);
  // K̄ (96 x KD) and Q̂ (96 x KD); once dQ is done, db in f32 (64 x LDS) over both.
  static constexpr int kbar = dpb + smem_round(kBT * LDP * 2);
  static constexpr int qhat = kbar + smem_round(96 * LDK * 2);
  static constexpr int stage = kbar;
  static constexpr int region = 2 * smem_round(96 * LDK * 2) > smem_round(kBT* LDS * 4) ? 2 * smem_round(96 * LDK * 2)
                                                                                        : smem_round(kBT* LDS * 4);
  static constexpr int bytes = kbar + region;
};

// Scales the A fragment of the 16 x 16 block at (r0, c0) element by element:
// by 2^{b[row][col] - b[ref][col]} (ROW_FIRST) or 2^{b[ref][col] - b[row][col]};
// ref < 0 stands for a row of zeros (2^{b[row][col]}).
template <bool ROW_FIRST>
__device__ __forceinline__ void decay_a(unsigned (&fa)[4], const float* bs, int ldb, int r0, int c0, int ref) {
  const int lane = threadIdx.x % 32, g = lane / 4, q2 = 2 * (lane % 4);
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int row = r0 + g + 8 * (r & 1), col = c0 + q2 + 8 * (r >> 1);
    float2 x = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&fa[r]));
    const float f0 = ref >= 0 ? bs[ref * ldb + col] : 0.f, f1 = ref >= 0 ? bs[ref * ldb + col + 1] : 0.f;
    const float e0 = bs[row * ldb + col] - f0, e1 = bs[row * ldb + col + 1] - f1;
    x.x *= fast_exp2(ROW_FIRST ? e0 : -e0);
    x.y *= fast_exp2(ROW_FIRST ? e1 : -e1);
    fa[r] = mma::pack_bf16(x.x, x.y);
  }
}

// Scores of rows 16 rg .. +15 against the blocks J < rg (rg > 0, one warp):
// P_IJ = (Q_I ⊙ 2^{b_I - b_r}) K̄^{(I)}_Jᵀ with r = 16 rg (Q scaled in its A
// fragments, K̄ from build_kbar), times f, rounded to bf16 into Pb (row stride ldp).
template <int KD>
__device__ void offdiag_scores_vector(const bf16* Qs, const bf16* Kbar, const float* bs, int rg, float f, bf16* Pb,
                                      int ldp) {
  using namespace mma;
  constexpr int LDK = KD + 8, LDB = KD + 1;
  const int lane = threadIdx.x % 32, q2 = 2 * (lane % 4), r0 = 16 * rg, ra = r0 + lane / 4, rb = ra + 8;
  float C[6][4];
#pragma unroll
  for (int n = 0; n < 6; ++n) C[n][0] = C[n][1] = C[n][2] = C[n][3] = 0.f;
  const bf16* kb = Kbar + kbar_offset(rg) * LDK;
#pragma unroll
  for (int kc = 0; kc < KD / 16; ++kc) {
    unsigned xa[4];
    ldmatrix_x4(xa, a_rows(Qs, LDK, r0, 16 * kc));
    decay_a<true>(xa, bs, LDB, r0, 16 * kc, r0);
#pragma unroll
    for (int n2 = 0; n2 < 3; ++n2) {
      if (n2 >= rg) continue;  // warp-uniform
      unsigned yb[4];
      ldmatrix_x4(yb, b_rows(kb, LDK, 16 * n2, 16 * kc));
      mma_bf16(C[2 * n2], xa, yb[0], yb[1]);
      mma_bf16(C[2 * n2 + 1], xa, yb[2], yb[3]);
    }
  }
#pragma unroll
  for (int n = 0; n < 6; ++n) {
    if (n >= 2 * rg) continue;
    const int col = 8 * n + q2;
    *reinterpret_cast<unsigned*>(Pb + ra * ldp + col) = pack_bf16(f * C[n][0], f * C[n][1]);
    *reinterpret_cast<unsigned*>(Pb + rb * ldp + col) = pack_bf16(f * C[n][2], f * C[n][3]);
  }
}

// Grid (NC, B * H), kBwdMmaThreads threads.
template <int KD, int VD>
__global__ void __launch_bounds__(kBwdMmaThreads, 1) bwd_vec_mma_kernel(ChunkArgs a) {
  using L = BwdVecMmaLayout<KD, VD>;
  using namespace mma;
  constexpr int LDK = L::LDK, LDV = L::LDV, LDB = L::LDB, LDP = L::LDP, LDS = L::LDS;
  constexpr int NK = KD / 16, NV = VD / 16;  // 8-column n-tiles of a column half
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Qs = reinterpret_cast<bf16*>(smem + L::qs);
  bf16* Ks = reinterpret_cast<bf16*>(smem + L::ks);
  bf16* Vs = reinterpret_cast<bf16*>(smem + L::vs);
  bf16* Ds = reinterpret_cast<bf16*>(smem + L::ds);
  bf16* Hb = reinterpret_cast<bf16*>(smem + L::hb);
  float* bs = reinterpret_cast<float*>(smem + L::bs);
  bf16* Pb = reinterpret_cast<bf16*>(smem + L::pb);
  bf16* dPb = reinterpret_cast<bf16*>(smem + L::dpb);
  bf16* Kbar = reinterpret_cast<bf16*>(smem + L::kbar);
  bf16* Qhat = reinterpret_cast<bf16*>(smem + L::qhat);
  float* stage = reinterpret_cast<float*>(smem + L::stage);

  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kBT;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, q2 = 2 * (lane % 4);
  const int rg = warp % 4, r0 = 16 * rg, ch = warp / 4;
  const int d0 = ch * KD / 2, v0 = ch * VD / 2;  // this warp's column half of dK / dQ and of dV
  const int ra = r0 + g, rb = ra + 8;            // this lane's two rows
  const int64_t KV = int64_t(KD) * VD;

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
  vector_cumsum(a, b, h, t0, 0, KD, bs, LDB);  // every thread; syncs inside
  cp_async_wait_all();
  __syncthreads();

  // ---- operands of the off-diagonal blocks; the diagonal blocks of P -------------------
  build_kbar<KD>(Ks, bs, Kbar);
  build_qhat<KD>(Qs, bs, Qhat);
  diag_scores_vector<KD>(Qs, Ks, bs,
                         [&](int i, int j, float s) { Pb[i * LDP + j] = __float2bfloat16_rn(a.scale * s); });
  __syncthreads();

  // C fragment helpers: element (n, e) sits at row (e < 2 ? ra : rb), column col0 + 8 n + q2 + e % 2.
  float C[8][4], acc[8][4], acc2[8][4], db[8][4];
  auto zero = [](float(&x)[8][4]) {
#pragma unroll
    for (int n = 0; n < 8; ++n) x[n][0] = x[n][1] = x[n][2] = x[n][3] = 0.f;
  };
  // x *= 2^{expo(row, col)} element by element over the first nt n-tiles.
  auto decay_c = [&](float(&x)[8][4], int col0, int nt, auto expo) {
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      if (n >= nt) continue;
#pragma unroll
      for (int e = 0; e < 4; ++e) x[n][e] *= fast_exp2(expo(e < 2 ? ra : rb, col0 + 8 * n + q2 + (e & 1)));
    }
  };
  // Rounds C (masked to column <= row when LOWER, times f) into rows r0 .. r0+15 of a bf16 score matrix.
  auto store_scores = [&](bf16* dst, int ntiles, bool lower, float f) {
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      if (n >= ntiles) continue;
      const int col = 8 * n + q2;
      const bool ka0 = !lower || col <= ra, ka1 = !lower || col + 1 <= ra;
      const bool kb0 = !lower || col <= rb, kb1 = !lower || col + 1 <= rb;
      *reinterpret_cast<unsigned*>(dst + ra * LDP + col) = pack_bf16(ka0 ? f * C[n][0] : 0.f, ka1 ? f * C[n][1] : 0.f);
      *reinterpret_cast<unsigned*>(dst + rb * LDP + col) = pack_bf16(kb0 ? f * C[n][2] : 0.f, kb1 ? f * C[n][3] : 0.f);
    }
  };
  auto store_rows = [&](bf16* dst, float* add, int X, int col0, const float(&x)[8][4], int ntiles) {
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      if (n >= ntiles) continue;
      const int col = col0 + 8 * n + q2;
      if (t0 + ra < a.T) put_grad2(dst, add, row_of(a, b, t0 + ra, h) * X + col, x[n][0], x[n][1]);
      if (t0 + rb < a.T) put_grad2(dst, add, row_of(a, b, t0 + rb, h) * X + col, x[n][2], x[n][3]);
    }
  };

  // ---- P's off-diagonal blocks (column half 0) and dP (column half 1) ----------------------
  if (ch == 0) {
    if (rg > 0) offdiag_scores_vector<KD>(Qs, Kbar, bs, rg, a.scale, Pb, LDP);
  } else {
    rows_times_rows<VD>(Ds, LDV, r0, Vs, LDV, 0, rg, C);  // dO Vᵀ, blocks <= rg
    store_scores(dPb, 2 * (rg + 1), true, a.scale);
  }
  __syncthreads();

  // ---- dV rows j, columns v0 .. v0 + VD/2: K̂ dh + Pᵀ dO ------------------------------------
  zero(acc);
#pragma unroll
  for (int kc = 0; kc < KD / 16; ++kc) {
    unsigned ka[4];
    ldmatrix_x4(ka, a_rows(Ks, LDK, r0, 16 * kc));
    decay_a<false>(ka, bs, LDB, r0, 16 * kc, kBT - 1);  // 2^{b_L - b_j}
#pragma unroll
    for (int n2 = 0; n2 < NV / 2; ++n2) {
      unsigned hb[4];
      ldmatrix_x4_trans(hb, kn_rows(Hb, LDV, 16 * kc, v0 + 16 * n2));
      mma_bf16(acc[2 * n2], ka, hb[0], hb[1]);
      mma_bf16(acc[2 * n2 + 1], ka, hb[2], hb[3]);
    }
  }
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // rows i >= j: blocks kk >= rg (the diagonal one zero above it)
    if (kk < rg) continue;
    unsigned pa[4];
    ldmatrix_x4_trans(pa, at_rows(Pb, LDP, 16 * kk, r0));
#pragma unroll
    for (int n2 = 0; n2 < NV / 2; ++n2) {
      unsigned ob[4];
      ldmatrix_x4_trans(ob, kn_rows(Ds, LDV, 16 * kk, v0 + 16 * n2));
      mma_bf16(acc[2 * n2], pa, ob[0], ob[1]);
      mma_bf16(acc[2 * n2 + 1], pa, ob[2], ob[3]);
    }
  }
  store_rows(a.dv, a.dv_add, VD, v0, acc, NV);

  // ---- dK rows j, key dims d0 .. d0 + KD/2 ------------------------------------------------
  zero(acc);
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
  decay_c(acc, d0, NK, [&](int row, int col) { return bs[(kBT - 1) * LDB + col] - bs[row * LDB + col]; });
  if (rg < 3) {  // rows i in blocks > rg: dPᵀ Q̂^{(rg)}, then 2^{b_r - b_j}, r = r0 + 15
    zero(acc2);
#pragma unroll
    for (int kk = 1; kk < 4; ++kk) {
      if (kk <= rg) continue;
      unsigned pa[4];
      ldmatrix_x4_trans(pa, at_rows(dPb, LDP, 16 * kk, r0));
      const int qrow = qhat_offset(rg) + 16 * (kk - rg - 1);
#pragma unroll
      for (int n2 = 0; n2 < NK / 2; ++n2) {
        unsigned qb[4];
        ldmatrix_x4_trans(qb, kn_rows(Qhat, LDK, qrow, d0 + 16 * n2));
        mma_bf16(acc2[2 * n2], pa, qb[0], qb[1]);
        mma_bf16(acc2[2 * n2 + 1], pa, qb[2], qb[3]);
      }
    }
    decay_c(acc2, d0, NK, [&](int row, int col) { return bs[(r0 + 15) * LDB + col] - bs[row * LDB + col]; });
#pragma unroll
    for (int n = 0; n < 8; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[n][e] += acc2[n][e];
  }
  {  // the diagonal block, exactly: sum over i >= j in block rg of dP_ij q_id 2^{b_id - b_jd}
    float bja[8][2], bjb[8][2];
#pragma unroll
    for (int n = 0; n < NK; ++n)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int col = d0 + 8 * n + q2 + e;
        bja[n][e] = bs[ra * LDB + col], bjb[n][e] = bs[rb * LDB + col];
      }
    for (int i = r0; i < r0 + 16; ++i) {
      const float pa_ = i >= ra ? __bfloat162float(dPb[i * LDP + ra]) : 0.f;
      const float pb_ = i >= rb ? __bfloat162float(dPb[i * LDP + rb]) : 0.f;
#pragma unroll
      for (int n = 0; n < NK; ++n) {
        const int col = d0 + 8 * n + q2;
        const float2 qv = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Qs + i * LDK + col));
        const float bi0 = bs[i * LDB + col], bi1 = bs[i * LDB + col + 1];
        acc[n][0] += pa_ * qv.x * fast_exp2(fminf(bi0 - bja[n][0], 0.f));
        acc[n][1] += pa_ * qv.y * fast_exp2(fminf(bi1 - bja[n][1], 0.f));
        acc[n][2] += pb_ * qv.x * fast_exp2(fminf(bi0 - bjb[n][0], 0.f));
        acc[n][3] += pb_ * qv.y * fast_exp2(fminf(bi1 - bjb[n][1], 0.f));
      }
    }
  }
  store_rows(a.dk, a.dk_add, KD, d0, acc, NK);
#pragma unroll
  for (int n = 0; n < NK; ++n) {  // db = - k ⊙ dK, completed by + q ⊙ dQ below
    const int col = d0 + 8 * n + q2;
    const float2 ka = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Ks + ra * LDK + col));
    const float2 kb = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Ks + rb * LDK + col));
    db[n][0] = -ka.x * acc[n][0], db[n][1] = -ka.y * acc[n][1];
    db[n][2] = -kb.x * acc[n][2], db[n][3] = -kb.y * acc[n][3];
  }

  // ---- the state entering the chunk replaces dh ------------------------------------------
  __syncthreads();
  load_state(a.hs + (int64_t(bh) * (a.NC + 1) + c) * KV);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();

  // ---- dQ rows i, key dims d0 .. d0 + KD/2 ------------------------------------------------
  zero(acc);
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
  decay_c(acc, d0, NK, [&](int row, int col) { return bs[row * LDB + col]; });
#pragma unroll
  for (int n = 0; n < 8; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[n][e] *= a.scale;
  if (rg > 0) {  // columns j in blocks < rg: dP K̄^{(rg)}, then 2^{b_i - b_r}, r = r0
    zero(acc2);
#pragma unroll
    for (int kk = 0; kk < 3; ++kk) {
      if (kk >= rg) continue;
      unsigned pa[4];
      ldmatrix_x4(pa, a_rows(dPb, LDP, r0, 16 * kk));
#pragma unroll
      for (int n2 = 0; n2 < NK / 2; ++n2) {
        unsigned kb[4];
        ldmatrix_x4_trans(kb, kn_rows(Kbar, LDK, kbar_offset(rg) + 16 * kk, d0 + 16 * n2));
        mma_bf16(acc2[2 * n2], pa, kb[0], kb[1]);
        mma_bf16(acc2[2 * n2 + 1], pa, kb[2], kb[3]);
      }
    }
    decay_c(acc2, d0, NK, [&](int row, int col) { return bs[row * LDB + col] - bs[r0 * LDB + col]; });
#pragma unroll
    for (int n = 0; n < 8; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[n][e] += acc2[n][e];
  }
  {  // the diagonal block, exactly: sum over j <= i in block rg of dP_ij k_jd 2^{b_id - b_jd}
    float bia[8][2], bib[8][2];
#pragma unroll
    for (int n = 0; n < NK; ++n)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int col = d0 + 8 * n + q2 + e;
        bia[n][e] = bs[ra * LDB + col], bib[n][e] = bs[rb * LDB + col];
      }
    for (int j = r0; j < r0 + 16; ++j) {
      const float pa_ = j <= ra ? __bfloat162float(dPb[ra * LDP + j]) : 0.f;
      const float pb_ = j <= rb ? __bfloat162float(dPb[rb * LDP + j]) : 0.f;
#pragma unroll
      for (int n = 0; n < NK; ++n) {
        const int col = d0 + 8 * n + q2;
        const float2 kv = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Ks + j * LDK + col));
        const float bj0 = bs[j * LDB + col], bj1 = bs[j * LDB + col + 1];
        acc[n][0] += pa_ * kv.x * fast_exp2(fminf(bia[n][0] - bj0, 0.f));
        acc[n][1] += pa_ * kv.y * fast_exp2(fminf(bia[n][1] - bj1, 0.f));
        acc[n][2] += pb_ * kv.x * fast_exp2(fminf(bib[n][0] - bj0, 0.f));
        acc[n][3] += pb_ * kv.y * fast_exp2(fminf(bib[n][1] - bj1, 0.f));
      }
    }
  }
  store_rows(a.dq, a.dq_add, KD, d0, acc, NK);
  if (!wants_dg(a)) return;  // the same for every block
#pragma unroll
  for (int n = 0; n < NK; ++n) {
    const int col = d0 + 8 * n + q2;
    const float2 qa = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Qs + ra * LDK + col));
    const float2 qb = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Qs + rb * LDK + col));
    db[n][0] += qa.x * acc[n][0], db[n][1] += qa.y * acc[n][1];
    db[n][2] += qb.x * acc[n][2], db[n][3] += qb.y * acc[n][3];
  }

  // ---- dg: db through shared memory (over K̄ and Q̂, now free), then the reverse cumsum ------
  __syncthreads();
#pragma unroll
  for (int n = 0; n < NK; ++n) {
    const int col = d0 + 8 * n + q2;
    stage[ra * LDS + col] = db[n][0], stage[ra * LDS + col + 1] = db[n][1];
    stage[rb * LDS + col] = db[n][2], stage[rb * LDS + col + 1] = db[n][3];
  }
  __syncthreads();
  const float* rp = a.rpart + (int64_t(bh) * a.NC + c) * a.rparts * KD;  // [rparts, KD]
  for (int d = tid; d < KD; d += kBwdMmaThreads) {
    float s = 0.f;
    for (int p = 0; p < a.rparts; ++p) s += rp[p * KD + d];
    for (int i = kBT - 1; i >= 0; --i) {
      s += stage[i * LDS + d];
      if (t0 + i < a.T) put_grad(a.dg, a.dg_add, row_of(a, b, t0 + i, h) * KD + d, s);
    }
  }
}

template <int KD, int VD>
struct FwdVecMmaLayout {
  static constexpr int LDK = KD + 8, LDV = VD + 8, LDB = KD + 1, LDP = kLdPb;
  static constexpr int qs = 0;
  static constexpr int ks = qs + smem_round(kBT * LDK * 2);
  static constexpr int vs = ks + smem_round(kBT * LDK * 2);
  static constexpr int hb = vs + smem_round(kBT * LDV * 2);
  static constexpr int bs = hb + smem_round(KD * LDV * 2);
  static constexpr int pb = bs + smem_round(kBT * LDB * 4);
  static constexpr int kbar = pb + smem_round(kBT * LDP * 2);
  static constexpr int bytes = kbar + smem_round(96 * LDK * 2);
};

// o (rows of chunk c) = scale (Q̃ hs_c + P V), P masked to j <= i. Grid (NC, B * H),
// kBwdMmaThreads threads; hs from the forward passes (slot c: the state entering chunk c).
template <int KD, int VD>
__global__ void __launch_bounds__(kBwdMmaThreads, 1) fwd_vec_mma_kernel(ChunkArgs a) {
  using L = FwdVecMmaLayout<KD, VD>;
  using namespace mma;
  constexpr int LDK = L::LDK, LDV = L::LDV, LDB = L::LDB, LDP = L::LDP;
  constexpr int NV = VD / 16;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Qs = reinterpret_cast<bf16*>(smem + L::qs);
  bf16* Ks = reinterpret_cast<bf16*>(smem + L::ks);
  bf16* Vs = reinterpret_cast<bf16*>(smem + L::vs);
  bf16* Hb = reinterpret_cast<bf16*>(smem + L::hb);
  float* bs = reinterpret_cast<float*>(smem + L::bs);
  bf16* Pb = reinterpret_cast<bf16*>(smem + L::pb);
  bf16* Kbar = reinterpret_cast<bf16*>(smem + L::kbar);

  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kBT;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, q2 = 2 * (lane % 4);
  const int rg = warp % 4, r0 = 16 * rg, ch = warp / 4, v0 = ch * VD / 2;
  const int ra = r0 + g, rb = ra + 8;

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
    cp_async16(Vs + i * LDV + j, a.v + (valid ? row_of(a, b, t0 + i, h) : 0) * VD + j, valid);
  }
  const bf16* hs = a.hs + (int64_t(bh) * (a.NC + 1) + c) * int64_t(KD) * VD;
  for (int e = tid; e < KD * (VD / 8); e += kBwdMmaThreads) {
    const int i = e / (VD / 8), j = (e % (VD / 8)) * 8;
    cp_async16(Hb + i * LDV + j, hs + int64_t(i) * VD + j, true);
  }
  cp_async_commit();
  vector_cumsum(a, b, h, t0, 0, KD, bs, LDB);  // every thread; syncs inside
  cp_async_wait_all();
  __syncthreads();
  build_kbar<KD>(Ks, bs, Kbar);
  diag_scores_vector<KD>(Qs, Ks, bs, [&](int i, int j, float s) { Pb[i * LDP + j] = __float2bfloat16_rn(s); });
  __syncthreads();

  // P's off-diagonal blocks of rows rg (column half 0 only; half 1 waits).
  if (ch == 0 && rg > 0) offdiag_scores_vector<KD>(Qs, Kbar, bs, rg, 1.f, Pb, LDP);
  __syncthreads();

  // o rows of block rg, columns v0 .. v0 + VD/2: Q̃ hs + P V.
  float acc[8][4];
#pragma unroll
  for (int n = 0; n < 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
#pragma unroll
  for (int kc = 0; kc < KD / 16; ++kc) {
    unsigned qa[4];
    ldmatrix_x4(qa, a_rows(Qs, LDK, r0, 16 * kc));
    decay_a<true>(qa, bs, LDB, r0, 16 * kc, -1);  // 2^{b_i}
#pragma unroll
    for (int n2 = 0; n2 < NV / 2; ++n2) {
      unsigned hb[4];
      ldmatrix_x4_trans(hb, kn_rows(Hb, LDV, 16 * kc, v0 + 16 * n2));
      mma_bf16(acc[2 * n2], qa, hb[0], hb[1]);
      mma_bf16(acc[2 * n2 + 1], qa, hb[2], hb[3]);
    }
  }
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // columns j <= i: blocks kk <= rg (the diagonal one zero above it)
    if (kk > rg) continue;
    unsigned pa[4];
    ldmatrix_x4(pa, a_rows(Pb, LDP, r0, 16 * kk));
#pragma unroll
    for (int n2 = 0; n2 < NV / 2; ++n2) {
      unsigned vb[4];
      ldmatrix_x4_trans(vb, kn_rows(Vs, LDV, 16 * kk, v0 + 16 * n2));
      mma_bf16(acc[2 * n2], pa, vb[0], vb[1]);
      mma_bf16(acc[2 * n2 + 1], pa, vb[2], vb[3]);
    }
  }
#pragma unroll
  for (int n = 0; n < 8; ++n) {
    if (n >= NV) continue;
    const int col = v0 + 8 * n + q2;
    if (t0 + ra < a.T)
      *reinterpret_cast<unsigned*>(a.o + row_of(a, b, t0 + ra, h) * VD + col) =
          pack_bf16(a.scale * acc[n][0], a.scale * acc[n][1]);
    if (t0 + rb < a.T)
      *reinterpret_cast<unsigned*>(a.o + row_of(a, b, t0 + rb, h) * VD + col) =
          pack_bf16(a.scale * acc[n][2], a.scale * acc[n][3]);
  }
}

}  // namespace chunked
}  // namespace linea
