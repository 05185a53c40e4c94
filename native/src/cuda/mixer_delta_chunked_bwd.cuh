// The backward kernels of the chunked delta-rule mixer (mixer_delta_chunked.cu).
// Per chunk, with G = scale dO and the forward's quantities (fwd.cuh):
//   O = scale (diag(2^b) Q S + P U),  P = (Q Kᵀ) ∘ D (j <= i),  U = Ut - W S,
//   [Ut | W] = X = Ti Y,  Y = diag(beta) [V | diag(2^b) K],  T = I + diag(beta) AD,
//   AD = (K Kᵀ) ∘ D (j < i),  S_out = 2^{b_63} S + Khᵀ U,  Kh = diag(2^{b_63 - b}) K.
// Reverse scan (bwd_scan_kernel, per head and VT-column tile of V; bwd_prep_kernel
// computes its chunk-local operands Qt and scale Pᵀ dO in parallel first):
//   dU   = scale Pᵀ dO + Kh dS_out                        (stored: du)
//   dS   = 2^{b_63} dS_out + Qtᵀ dO - Wᵀ dU, Qt = scale diag(2^b) Q   (dS_out stored: dhs)
// dq/dk kernel (dqk_kernel, per chunk):
//   dQ   = scale diag(2^b) dO Sᵀ + dPD K,    dPD = scale (dO Uᵀ) ∘ D (j <= i)
//   dK  += diag(2^{b_63 - b}) U dS_outᵀ + dPDᵀ Q                       (partial: dkp)
//   db_i += q_i·dQ_i(state part) + sum_j dPD_ij P_ij - sum_j dPD_ji P_ji - k_i·dK_i(Kh part),
//   db_63 += 2^{b_63} <dS_out, S> + sum_j k_j·dK_j(Kh part)            (partial: dbp)
// WY kernel (wy_kernel, per chunk): dX = [dU | -dU Sᵀ], dY = Tiᵀ dX,
//   dV = diag(beta) dY_V, dK += diag(beta 2^b) dY_K, dT = -dY Xᵀ (j < i),
//   dbeta_i = dY_V,i·v_i + 2^{b_i} dY_K,i·k_i + sum_j AD_ij dT_ij,
//   dAD = diag(beta) dT, E = dAD ∘ D: dK += E K + Eᵀ K,
//   db_i += beta_i 2^{b_i} dY_K,i·k_i + sum_j dAD_ij AD_ij - sum_j dAD_ji AD_ji;
//   dg = the reverse cumulative sum of db inside the chunk (b_i = sum_{s<=i} g_s).
// b is in log2 units, but every derivative above is with respect to the
// natural-log b (d 2^{b_i - b_j} / d b_i(nat) = D_ij), so dg needs no factor.
#pragma once

#include "mixer_delta_chunked_fwd.cuh"

namespace linea {
namespace delta_chunked {

template <int KD, int VD>
struct BwdPrepLayout {
  static constexpr int ldk = KD + 8, ldv = VD + 8, ldp = kC + 4, ldpb = kC + 8, ldf = VD + 4;
  static constexpr int q_off = 0;
  static constexpr int k_off = q_off + smem_round(kC * ldk * 2);
  static constexpr int do_off = k_off + smem_round(kC * ldk * 2);
  static constexpr int p_off = do_off + smem_round(kC * ldv * 2);
  static constexpr int pb_off = p_off + smem_round(kC * ldp * 4);
  static constexpr int f_off = pb_off + smem_round(kC * ldpb * 2);
  static constexpr int b_off = f_off + smem_round(kC * ldf * 4);
  static constexpr int bytes = b_off + smem_round(kC * 4);
};

// Grid (NC, B*H): the reverse scan's chunk-local operands, qt = scale diag(2^b) Q
// and du = scale Pᵀ dO (the scan adds Kh dS_out to it).
template <int KD, int VD>
__global__ void __launch_bounds__(kThreads) bwd_prep_kernel(DeltaArgs a) {
  using L = BwdPrepLayout<KD, VD>;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* sQ = reinterpret_cast<bf16*>(smem + L::q_off);
  bf16* sK = reinterpret_cast<bf16*>(smem + L::k_off);
  bf16* sdO = reinterpret_cast<bf16*>(smem + L::do_off);
  float* sP = reinterpret_cast<float*>(smem + L::p_off);
  bf16* sPb = reinterpret_cast<bf16*>(smem + L::pb_off);
  float* sF = reinterpret_cast<float*>(smem + L::f_off);
  float* sb = reinterpret_cast<float*>(smem + L::b_off);
  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kC;
  const int64_t row0 = chunk_row0(a, bh, c);

  chunk_gates(a, b, h, t0, sb, nullptr);
  load_rows(a, a.q, KD, b, h, t0, 0, KD, sQ, L::ldk);
  load_rows(a, a.k, KD, b, h, t0, 0, KD, sK, L::ldk);
  load_rows(a, a.dout, VD, b, h, t0, 0, VD, sdO, L::ldv);
  cp_async_wait_all();
  __syncthreads();
  smem_gemm<false, true>(kC, kC, KD, sQ, L::ldk, sK, L::ldk, sP, L::ldp, false, kTriCLower);
  for (int e = threadIdx.x; e < kC * KD; e += kThreads) {
    const int i = e / KD, d = e % KD;
    a.qt[(row0 + i) * KD + d] = __float2bfloat16_rn(__bfloat162float(sQ[i * L::ldk + d]) * a.scale * exp2f(sb[i]));
  }
  __syncthreads();
  for (int e = threadIdx.x; e < kC * kC; e += kThreads) {
    const int i = e / kC, j = e % kC;
    sPb[i * L::ldpb + j] = __float2bfloat16_rn(j <= i ? a.scale * sP[i * L::ldp + j] * exp2f(sb[i] - sb[j]) : 0.f);
  }
  __syncthreads();
  smem_gemm<true, false>(kC, VD, kC, sPb, L::ldpb, sdO, L::ldv, sF, L::ldf, false, kTriAUpper);  // Pᵀ dO
  __syncthreads();
  for (int e = threadIdx.x; e < kC * VD; e += kThreads) {
    const int i = e / VD, j = e % VD;
    a.du[(row0 + i) * VD + j] = __float2bfloat16_rn(sF[i * L::ldf + j]);
  }
}

template <int KD, int VT>
struct BwdScanLayout {
  static constexpr int ldsf = VT + 4, ldsb = VT + 8, ldk = KD + 8, ldt = VT + 8, ldu = VT + 4;
  static constexpr int bk = smem_round(kC * ldk * 2), bt = smem_round(kC * ldt * 2);
  static constexpr int ds_off = 0;
  static constexpr int dsb_off = ds_off + smem_round(KD * ldsf * 4);
  static constexpr int buf_off = dsb_off + smem_round(KD * ldsb * 2);
  static constexpr int buf_size = 3 * bk + 2 * bt;  // Qt, Kh, W (64 x K); dO, scale Pᵀ dO tiles (64 x VT)
  static constexpr int duf_off = buf_off + 2 * buf_size;
  static constexpr int dub_off = duf_off + smem_round(kC * ldu * 4);
  static constexpr int dun_off = dub_off + bt;
  static constexpr int bytes = dun_off + bt;
};

// Grid (V / VT, B*H), chunks in reverse. dS (K x VT tile) in f32 shared memory;
// operands of the next chunk prefetched as in fwd_scan_kernel.
template <int KD, int VD, int VT>
__global__ void __launch_bounds__(kThreads) bwd_scan_kernel(DeltaArgs a) {
  using L = BwdScanLayout<KD, VT>;
  extern __shared__ __align__(128) unsigned char smem[];
  float* sdS = reinterpret_cast<float*>(smem + L::ds_off);
  bf16* sdSb = reinterpret_cast<bf16*>(smem + L::dsb_off);
  float* sdUf = reinterpret_cast<float*>(smem + L::duf_off);
  bf16* sdUb = reinterpret_cast<bf16*>(smem + L::dub_off);
  bf16* sdUn = reinterpret_cast<bf16*>(smem + L::dun_off);  // -dU: WMMA has no negated operand
  const int v0 = blockIdx.x * VT, bh = blockIdx.y, b = bh / a.H, h = bh % a.H;
  const int64_t state0 = int64_t(bh) * KD * VD;
  auto buf = [&](int c, int n) {  // n: 0 Qt, 1 Kh, 2 W, 3 dO, 4 scale Pᵀ dO
    return reinterpret_cast<bf16*>(smem + L::buf_off + (c & 1) * L::buf_size +
                                   (n < 3 ? n * L::bk : 3 * L::bk + (n - 3) * L::bt));
  };
  auto issue = [&](int c) {
    const int64_t row0 = chunk_row0(a, bh, c);
    load_block(a.qt + row0 * KD, KD, kC, KD, buf(c, 0), L::ldk);
    load_block(a.kh + row0 * KD, KD, kC, KD, buf(c, 1), L::ldk);
    load_block(a.w + row0 * KD, KD, kC, KD, buf(c, 2), L::ldk);
    load_rows(a, a.dout, VD, b, h, c * kC, v0, VT, buf(c, 3), L::ldt);
    load_block(a.du + row0 * VD + v0, VD, kC, VT, buf(c, 4), L::ldt);
    cp_async_commit();
  };

  for (int e = threadIdx.x; e < KD * VT; e += kThreads) {
    const int d = e / VT, j = e % VT;
    sdS[d * L::ldsf + j] = a.ds_final ? __bfloat162float(a.ds_final[state0 + int64_t(d) * VD + v0 + j]) : 0.f;
  }
  float decay_next = 1.f;
  if (a.NC > 0) issue(a.NC - 1), decay_next = a.decay[int64_t(bh) * a.NC + a.NC - 1];
  for (int c = a.NC - 1; c >= 0; --c) {
    const float decay = decay_next;
    const int64_t row0 = chunk_row0(a, bh, c);
    cp_async_wait<0>();
    __syncthreads();
    if (c > 0) issue(c - 1), decay_next = a.decay[int64_t(bh) * a.NC + c - 1];
    bf16* dhs = a.dhs + (int64_t(bh) * a.NC + c) * KD * VD + v0;
    for (int e = threadIdx.x; e < KD * VT / 8; e += kThreads) {
      const int d = e / (VT / 8), j = (e % (VT / 8)) * 8;
      store8_bf16(sdS + d * L::ldsf + j, sdSb + d * L::ldsb + j, dhs + int64_t(d) * VD + j);
    }
    __syncthreads();
    smem_gemm<false, false>(kC, VT, KD, buf(c, 1), L::ldk, sdSb, L::ldsb, sdUf, L::ldu, false);  // Kh dS_out
    __syncthreads();
    // dU = scale Pᵀ dO + Kh dS_out (this block's tile of du is overwritten with it).
    const bf16* dul = buf(c, 4);
    bf16* du = a.du + row0 * VD + v0;
    for (int e = threadIdx.x; e < kC * VT / 8; e += kThreads) {
      const int i = e / (VT / 8), j = (e % (VT / 8)) * 8;
      float x[8], xn[8];
#pragma unroll
      for (int n = 0; n < 8; ++n) {
        x[n] = __bfloat162float(dul[i * L::ldt + j + n]) + sdUf[i * L::ldu + j + n];
        xn[n] = -x[n];
      }
      store8_bf16(x, sdUb + i * L::ldt + j, du + int64_t(i) * VD + j);
      store8_bf16(xn, sdUn + i * L::ldt + j, sdUn + i * L::ldt + j);
    }
    if (decay != 1.f)
      for (int e = threadIdx.x; e < KD * VT; e += kThreads) sdS[(e / VT) * L::ldsf + e % VT] *= decay;
    __syncthreads();
    // dS += Qtᵀ dO - Wᵀ dU (K x VT).
    smem_gemm<true, false>(KD, VT, kC, buf(c, 0), L::ldk, buf(c, 3), L::ldt, sdS, L::ldsf, true);
    smem_gemm<true, false>(KD, VT, kC, buf(c, 2), L::ldk, sdUn, L::ldt, sdS, L::ldsf, true);
  }
  __syncthreads();
  if (a.ds0)
    for (int e = threadIdx.x; e < KD * VT; e += kThreads) {
      const int d = e / VT, j = e % VT;
      a.ds0[state0 + int64_t(d) * VD + v0 + j] = __float2bfloat16_rn(sdS[d * L::ldsf + j]);
    }
}

template <int KD, int VD>
struct DqkLayout {
  static constexpr int ldk = KD + 8, ldv = VD + 8, ldf = KD + 4, ldp = kC + 4, ldpb = kC + 8;
  static constexpr int q_off = 0;
  static constexpr int k_off = q_off + smem_round(kC * ldk * 2);
  static constexpr int do_off = k_off + smem_round(kC * ldk * 2);
  static constexpr int u_off = do_off + smem_round(kC * ldv * 2);
  // Region r: S and dS_out (K x V each), later P, dP (f32) and dPD (bf16).
  static constexpr int r_off = u_off + smem_round(kC * ldv * 2);
  static constexpr int s_size = smem_round(KD * ldv * 2), p_size = smem_round(kC * ldp * 4);
  static constexpr int r_size = cmax(2 * s_size, 2 * p_size + smem_round(kC * ldpb * 2));
  static constexpr int fq_off = r_off + r_size;
  static constexpr int fk_off = fq_off + smem_round(kC * ldf * 4);
  static constexpr int b_off = fk_off + smem_round(kC * ldf * 4);
  static constexpr int bytes = b_off + smem_round(6 * kC * 4);
};

// Grid (NC, B*H): dq (final), dkp and dbp (partial, finished by wy_kernel).
template <int KD, int VD>
__global__ void __launch_bounds__(kThreads) dqk_kernel(DeltaArgs a) {
  using L = DqkLayout<KD, VD>;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* sQ = reinterpret_cast<bf16*>(smem + L::q_off);
  bf16* sK = reinterpret_cast<bf16*>(smem + L::k_off);
  bf16* sdO = reinterpret_cast<bf16*>(smem + L::do_off);
  bf16* sU = reinterpret_cast<bf16*>(smem + L::u_off);
  bf16* sS = reinterpret_cast<bf16*>(smem + L::r_off);
  bf16* sdS = reinterpret_cast<bf16*>(smem + L::r_off + L::s_size);
  float* sP = reinterpret_cast<float*>(smem + L::r_off);
  float* sdP = reinterpret_cast<float*>(smem + L::r_off + L::p_size);
  bf16* sPb = reinterpret_cast<bf16*>(smem + L::r_off + 2 * L::p_size);
  float* fQ = reinterpret_cast<float*>(smem + L::fq_off);
  float* fK = reinterpret_cast<float*>(smem + L::fk_off);
  float* sb = reinterpret_cast<float*>(smem + L::b_off);
  float* dbq = sb + kC;     // q_i·dQ_i (state part)
  float* dbk = dbq + kC;    // k_i·dK_i (Kh part)
  float* dbpr = dbk + kC;   // row sums of dPD ∘ P
  float* dbpc = dbpr + kC;  // column sums of dPD ∘ P
  float* red = dbpc + kC;   // per-warp partial sums of <dS_out, S>
  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kC;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t row0 = chunk_row0(a, bh, c), st0 = (int64_t(bh) * a.NC + c) * KD * VD;

  chunk_gates(a, b, h, t0, sb, nullptr);
  load_rows(a, a.q, KD, b, h, t0, 0, KD, sQ, L::ldk);
  load_rows(a, a.k, KD, b, h, t0, 0, KD, sK, L::ldk);
  load_rows(a, a.dout, VD, b, h, t0, 0, VD, sdO, L::ldv);
  load_block(a.u + row0 * VD, VD, kC, VD, sU, L::ldv);
  load_block(a.hs + st0, VD, KD, VD, sS, L::ldv);
  load_block(a.dhs + st0, VD, KD, VD, sdS, L::ldv);
  cp_async_wait_all();
  __syncthreads();
  smem_gemm<false, true>(kC, KD, VD, sdO, L::ldv, sS, L::ldv, fQ, L::ldf, false);  // dO Sᵀ
  smem_gemm<false, true>(kC, KD, VD, sU, L::ldv, sdS, L::ldv, fK, L::ldf, false);  // U dS_outᵀ
  {
    float acc = 0.f;
    for (int e = threadIdx.x; e < KD * VD; e += kThreads) {
      const int n = (e / VD) * L::ldv + e % VD;
      acc += __bfloat162float(sS[n]) * __bfloat162float(sdS[n]);
    }
    acc = warp_sum(acc);
    if (lane == 0) red[warp] = acc;
  }
  __syncthreads();
  smem_gemm<false, true>(kC, kC, KD, sQ, L::ldk, sK, L::ldk, sP, L::ldp, false, kTriCLower);    // Q Kᵀ
  smem_gemm<false, true>(kC, kC, VD, sdO, L::ldv, sU, L::ldv, sdP, L::ldp, false, kTriCLower);  // dO Uᵀ
  __syncthreads();
  for (int i = warp; i < kC; i += kThreads / 32) {
    const float bi = sb[i];
    float rs = 0.f;
    for (int j = lane; j < kC; j += 32) {
      float t = 0.f, dpd = 0.f;
      if (j <= i) {
        const float dij = exp2f(bi - sb[j]);
        dpd = a.scale * sdP[i * L::ldp + j] * dij;  // gradient of (Q Kᵀ)_ij
        t = dpd * sP[i * L::ldp + j];               // dP_ij P_ij, P = (Q Kᵀ) ∘ D
      }
      sPb[i * L::ldpb + j] = __float2bfloat16_rn(dpd);
      sP[i * L::ldp + j] = t;
      rs += t;
    }
    const float gq = a.scale * exp2f(bi), gk = exp2f(sb[kC - 1] - bi);
    float aq = 0.f, ak = 0.f;
    for (int d = lane; d < KD; d += 32) {
      const float fq = fQ[i * L::ldf + d] * gq, fk = fK[i * L::ldf + d] * gk;
      fQ[i * L::ldf + d] = fq;
      fK[i * L::ldf + d] = fk;
      aq += __bfloat162float(sQ[i * L::ldk + d]) * fq;
      ak += __bfloat162float(sK[i * L::ldk + d]) * fk;
    }
    rs = warp_sum(rs), aq = warp_sum(aq), ak = warp_sum(ak);
    if (lane == 0) dbpr[i] = rs, dbq[i] = aq, dbk[i] = ak;
  }
  __syncthreads();
  smem_gemm<false, false>(kC, KD, kC, sPb, L::ldpb, sK, L::ldk, fQ, L::ldf, true, kTriALower);  // dPD K
  smem_gemm<true, false>(kC, KD, kC, sPb, L::ldpb, sQ, L::ldk, fK, L::ldf, true, kTriAUpper);   // dPDᵀ Q
  if (threadIdx.x < kC) {
    float s = 0.f;
    for (int i = 0; i < kC; ++i) s += sP[i * L::ldp + threadIdx.x];
    dbpc[threadIdx.x] = s;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < kC * KD; e += kThreads) {
    const int i = e / KD, d = e % KD;
    if (t0 + i < a.T) a.dq[row_of(a, b, t0 + i, h) * KD + d] = __float2bfloat16_rn(fQ[i * L::ldf + d]);
    a.dkp[(row0 + i) * KD + d] = fK[i * L::ldf + d];
  }
  if (threadIdx.x < kC) {
    const int i = threadIdx.x;
    float db = dbq[i] - dbk[i] + dbpr[i] - dbpc[i];
    if (i == kC - 1) {
      float state = 0.f, kh = 0.f;
      for (int w = 0; w < kThreads / 32; ++w) state += red[w];
      for (int j = 0; j < kC; ++j) kh += dbk[j];
      db += exp2f(sb[kC - 1]) * state + kh;
    }
    a.dbp[row0 + i] = db;
  }
}

template <int KD, int VD>
struct WyLayout {
  static constexpr int ldk = KD + 8, ldv = VD + 8, ldfk = KD + 4, ldfv = VD + 4, lda = kC + 4, ldm = kC + 8;
  static constexpr int bk = smem_round(kC * ldk * 2), bv = smem_round(kC * ldv * 2), bm = smem_round(kC * ldm * 2);
  static constexpr int ba = smem_round(kC * lda * 4);
  static constexpr int k_off = 0;
  // Region c: S (K x V) in steps 1-2, then dY_V, dY_K (bf16).
  static constexpr int c_off = k_off + bk;
  static constexpr int c_size = cmax(smem_round(KD * ldv * 2), bv + bk);
  // Region d: dU Sᵀ, then dY_K (f32), then the dK accumulator.
  static constexpr int d_off = c_off + c_size;
  // Region e: dY_V (f32), then dT (f32) and E (bf16).
  static constexpr int e_off = d_off + smem_round(kC * ldfk * 4);
  static constexpr int e_size = cmax(smem_round(kC * ldfv * 4), ba + bm);
  static constexpr int a_off = e_off + e_size;
  // Region u: dU, dW (bf16), Ti hi, lo in steps 1-5; then W, Ut (bf16).
  static constexpr int u_off = a_off + ba;
  static constexpr int u_size = cmax(bv + bk + 2 * bm, bk + bv);
  static constexpr int b_off = u_off + u_size;
  static constexpr int bytes = b_off + smem_round(5 * kC * 4);
};

// Grid (NC, B*H): dk, dv, dbeta and dg of the chunk's valid rows.
template <int KD, int VD>
__global__ void __launch_bounds__(kThreads) wy_kernel(DeltaArgs a) {
  using L = WyLayout<KD, VD>;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* sK = reinterpret_cast<bf16*>(smem + L::k_off);
  bf16* sS = reinterpret_cast<bf16*>(smem + L::c_off);
  bf16* sdYV = reinterpret_cast<bf16*>(smem + L::c_off);
  bf16* sdYK = reinterpret_cast<bf16*>(smem + L::c_off + L::bv);
  float* fD = reinterpret_cast<float*>(smem + L::d_off);
  float* fYV = reinterpret_cast<float*>(smem + L::e_off);
  float* sdT = reinterpret_cast<float*>(smem + L::e_off);
  bf16* sE = reinterpret_cast<bf16*>(smem + L::e_off + L::ba);
  float* sA = reinterpret_cast<float*>(smem + L::a_off);
  bf16* sdU = reinterpret_cast<bf16*>(smem + L::u_off);
  bf16* sdW = reinterpret_cast<bf16*>(smem + L::u_off + L::bv);
  bf16* sTh = reinterpret_cast<bf16*>(smem + L::u_off + L::bv + L::bk);
  bf16* sTl = reinterpret_cast<bf16*>(smem + L::u_off + L::bv + L::bk + L::bm);
  bf16* sW = reinterpret_cast<bf16*>(smem + L::u_off);
  bf16* sUt = reinterpret_cast<bf16*>(smem + L::u_off + L::bk);
  float* sb = reinterpret_cast<float*>(smem + L::b_off);
  float* sbeta = sb + kC;
  float* dbeta = sbeta + kC;  // dbeta per row
  float* dbr = dbeta + kC;    // gate gradient: row terms
  float* dbc = dbr + kC;      // gate gradient: column sums of dAD ∘ AD
  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kC;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t row0 = chunk_row0(a, bh, c), st0 = (int64_t(bh) * a.NC + c) * KD * VD;

  chunk_gates(a, b, h, t0, sb, sbeta);
  load_rows(a, a.k, KD, b, h, t0, 0, KD, sK, L::ldk);
  load_block(a.du + row0 * VD, VD, kC, VD, sdU, L::ldv);
  load_block(a.hs + st0, VD, KD, VD, sS, L::ldv);
  cp_async_wait_all();
  __syncthreads();
  smem_gemm<false, true>(kC, KD, VD, sdU, L::ldv, sS, L::ldv, fD, L::ldfk, false);            // dU Sᵀ
  smem_gemm<false, true>(kC, kC, KD, sK, L::ldk, sK, L::ldk, sA, L::lda, false, kTriCLower);  // K Kᵀ
  __syncthreads();
  for (int e = threadIdx.x; e < kC * KD; e += kThreads) {
    const int i = e / KD, d = e % KD;
    sdW[i * L::ldk + d] = __float2bfloat16_rn(-fD[i * L::ldfk + d]);  // dW = -dU Sᵀ
  }
  for (int e = threadIdx.x; e < kC * kC; e += kThreads) {
    const int i = e / kC, j = e % kC;
    if (j < i) sA[i * L::lda + j] *= exp2f(sb[i] - sb[j]);
  }
  __syncthreads();
  {
    float x[16];
    unit_lower_inverse(sA, L::lda, sbeta, x);
    const int col = threadIdx.x >> 2, part = threadIdx.x & 3;
#pragma unroll
    for (int m = 0; m < 16; ++m) {
      const int idx = (4 * m + part) * L::ldm + col;
      split_bf16(x[m], sTh + idx, sTl + idx);
    }
  }
  __syncthreads();
  // dY = Tiᵀ [dU | dW] (Tiᵀ upper triangular).
  smem_gemm<true, false>(kC, VD, kC, sTh, L::ldm, sdU, L::ldv, fYV, L::ldfv, false, kTriAUpper);
  smem_gemm<true, false>(kC, VD, kC, sTl, L::ldm, sdU, L::ldv, fYV, L::ldfv, true, kTriAUpper);
  smem_gemm<true, false>(kC, KD, kC, sTh, L::ldm, sdW, L::ldk, fD, L::ldfk, false, kTriAUpper);
  smem_gemm<true, false>(kC, KD, kC, sTl, L::ldm, sdW, L::ldk, fD, L::ldfk, true, kTriAUpper);
  __syncthreads();
  load_block(a.w + row0 * KD, KD, kC, KD, sW, L::ldk);
  load_block(a.ut + row0 * VD, VD, kC, VD, sUt, L::ldv);
  for (int i = warp; i < kC; i += kThreads / 32) {
    const bool valid = t0 + i < a.T;
    const int64_t grow = valid ? row_of(a, b, t0 + i, h) : 0;
    const float beta = sbeta[i], gi = exp2f(sb[i]);
    float av = 0.f, ag = 0.f;
    for (int j = lane; j < VD; j += 32) {
      const float y = fYV[i * L::ldfv + j];
      if (valid) {
        a.dv[grow * VD + j] = __float2bfloat16_rn(beta * y);
        av += y * __bfloat162float(a.v[grow * VD + j]);
      }
      sdYV[i * L::ldv + j] = __float2bfloat16_rn(y);
    }
    for (int d = lane; d < KD; d += 32) {
      const float y = fD[i * L::ldfk + d];
      ag += __bfloat162float(sK[i * L::ldk + d]) * y;
      sdYK[i * L::ldk + d] = __float2bfloat16_rn(y);
      fD[i * L::ldfk + d] = a.dkp[(row0 + i) * KD + d] + beta * gi * y;  // now the dK accumulator
    }
    av = warp_sum(av), ag = warp_sum(ag);
    if (lane == 0) dbeta[i] = av + gi * ag, dbr[i] = beta * gi * ag;
  }
  cp_async_wait_all();  // W, Ut
  __syncthreads();
  // dT = -(dY_V Utᵀ + dY_K Wᵀ), lower part; negated below.
  smem_gemm<false, true>(kC, kC, VD, sdYV, L::ldv, sUt, L::ldv, sdT, L::lda, false, kTriCLower);
  smem_gemm<false, true>(kC, kC, KD, sdYK, L::ldk, sW, L::ldk, sdT, L::lda, true, kTriCLower);
  __syncthreads();
  for (int i = warp; i < kC; i += kThreads / 32) {
    const float beta = sbeta[i], bi = sb[i];
    float bs = 0.f, rs = 0.f;
    for (int j = lane; j < kC; j += 32) {
      float e = 0.f, t = 0.f;
      if (j < i) {
        const float dt = -sdT[i * L::lda + j], ad = sA[i * L::lda + j], da = beta * dt;
        bs += ad * dt;
        e = da * exp2f(bi - sb[j]);
        t = da * ad;
      }
      sE[i * L::ldm + j] = __float2bfloat16_rn(e);
      sdT[i * L::lda + j] = t;
      rs += t;
    }
    bs = warp_sum(bs), rs = warp_sum(rs);
    if (lane == 0) dbeta[i] += bs, dbr[i] += rs;
  }
  __syncthreads();
  smem_gemm<false, false>(kC, KD, kC, sE, L::ldm, sK, L::ldk, fD, L::ldfk, true, kTriALower);  // E K
  smem_gemm<true, false>(kC, KD, kC, sE, L::ldm, sK, L::ldk, fD, L::ldfk, true, kTriAUpper);   // Eᵀ K
  if (threadIdx.x < kC) {
    float s = 0.f;
    for (int i = 0; i < kC; ++i) s += sdT[i * L::lda + threadIdx.x];
    dbc[threadIdx.x] = s;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < kC * KD; e += kThreads) {
    const int i = e / KD, d = e % KD;
    if (t0 + i < a.T) a.dk[row_of(a, b, t0 + i, h) * KD + d] = __float2bfloat16_rn(fD[i * L::ldfk + d]);
  }
  if (threadIdx.x < kC && t0 + int(threadIdx.x) < a.T)
    a.dbeta[row_of(a, b, t0 + threadIdx.x, h)] = __float2bfloat16_rn(dbeta[threadIdx.x]);
  if (a.gated && threadIdx.x == 0) {
    float acc = 0.f;  // dg_i = sum_{s >= i} db_s
    for (int i = kC - 1; i >= 0; --i) {
      acc += a.dbp[row0 + i] + dbr[i] - dbc[i];
      if (t0 + i < a.T) a.dg[row_of(a, b, t0 + i, h)] = __float2bfloat16_rn(acc);
    }
  }
}

}  // namespace delta_chunked
}  // namespace linea
