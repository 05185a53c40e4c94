// The forward kernels of the chunked delta-rule mixer (mixer_delta_chunked.cu):
//   prep_kernel     per chunk: the WY form W = Ti diag(beta 2^b) K, Ut = Ti diag(beta) V
//                   with Ti = (I + diag(beta) AD)^-1 (an f32 solve);
//                   and (from the gates) Kh = diag(2^{b_63 - b}) K, decay = 2^{b_63};
//   fwd_scan_kernel per head and 16- or 32-column tile of V, along the chunks: stores the
//                   state S entering each chunk (hs), the new values U = Ut - W S,
//                   and advances S <- 2^{b_63} S + Khᵀ U;
//   out_kernel      per chunk: o = scale (diag(2^b) Q S + (Q Kᵀ ∘ D) U).
// Shapes per chunk: Q, K, W, Kh (64 x K); V, Ut, U, O (64 x V); AD, P, Ti (64 x 64).
#pragma once

#include "mixer_delta_chunked_common.cuh"

namespace linea {
namespace delta_chunked {

template <int KD, int VD>
struct PrepLayout {
  static constexpr int ldk = KD + 8, ldv = VD + 8, ldm = kC + 8, lda = kC + 4, ldf = cmax(KD, VD) + 4;
  static constexpr int k_off = 0;
  static constexpr int v_off = k_off + smem_round(kC * ldk * 2);
  // AD (64 x 64 f32) until the inverse is done, then the products (64 x max(K, V) f32);
  // sharing one region keeps K = V = 128 at two blocks per SM.
  static constexpr int a_off = v_off + smem_round(kC * ldv * 2);
  static constexpr int f_off = a_off;
  static constexpr int m_off = a_off + cmax(smem_round(kC * lda * 4), smem_round(kC* ldf * 4));
  static constexpr int m_size = smem_round(kC * ldm * 2);
  static constexpr int b_off = m_off + 4 * m_size;
  static constexpr int bytes = b_off + smem_round(2 * kC * 4);
};

// Grid (NC, B*H). Writes w and ut (all 64 rows; padded rows are zeros since beta = 0 there).
template <int KD, int VD>
__global__ void __launch_bounds__(kThreads) prep_kernel(DeltaArgs a) {
  using L = PrepLayout<KD, VD>;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* sK = reinterpret_cast<bf16*>(smem + L::k_off);
  bf16* sV = reinterpret_cast<bf16*>(smem + L::v_off);
  float* sA = reinterpret_cast<float*>(smem + L::a_off);
  bf16* sM = reinterpret_cast<bf16*>(smem + L::m_off);  // 4 matrices: M1 hi, M1 lo, M2 hi, M2 lo
  float* sF = reinterpret_cast<float*>(smem + L::f_off);
  float* sb = reinterpret_cast<float*>(smem + L::b_off);
  float* sbeta = sb + kC;
  constexpr int MS = L::m_size / 2;  // elements between the 4 matrices
  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kC;
  const int64_t row0 = chunk_row0(a, bh, c);

  chunk_gates(a, b, h, t0, sb, sbeta);
  load_rows(a, a.k, KD, b, h, t0, 0, KD, sK, L::ldk);
  load_rows(a, a.v, VD, b, h, t0, 0, VD, sV, L::ldv);
  cp_async_wait_all();
  __syncthreads();
  smem_gemm<false, true>(kC, kC, KD, sK, L::ldk, sK, L::ldk, sA, L::lda, false, kTriCLower);
  __syncthreads();
  for (int e = threadIdx.x; e < kC * kC; e += kThreads) {
    const int i = e / kC, j = e % kC;
    if (j < i) sA[i * L::lda + j] *= exp2f(sb[i] - sb[j]);
  }
  __syncthreads();
  float x[16];
  unit_lower_inverse(sA, L::lda, sbeta, x);
  {
    // M1 = Ti diag(beta), M2 = Ti diag(beta 2^b): column col of each.
    const int col = threadIdx.x >> 2, part = threadIdx.x & 3;
    const float f1 = sbeta[col], f2 = f1 * exp2f(sb[col]);
#pragma unroll
    for (int m = 0; m < 16; ++m) {
      const int idx = (4 * m + part) * L::ldm + col;
      split_bf16(x[m] * f1, sM + idx, sM + MS + idx);
      split_bf16(x[m] * f2, sM + 2 * MS + idx, sM + 3 * MS + idx);
    }
  }
  __syncthreads();
  // Ut = M1 V (64 x V); M1 is lower triangular.
  smem_gemm<false, false>(kC, VD, kC, sM, L::ldm, sV, L::ldv, sF, L::ldf, false, kTriALower);
  smem_gemm<false, false>(kC, VD, kC, sM + MS, L::ldm, sV, L::ldv, sF, L::ldf, true, kTriALower);
  __syncthreads();
  for (int e = threadIdx.x; e < kC * VD; e += kThreads) {
    const int i = e / VD, j = e % VD;
    a.ut[(row0 + i) * VD + j] = __float2bfloat16_rn(sF[i * L::ldf + j]);
  }
  __syncthreads();
  // W = M2 K (64 x K).
  smem_gemm<false, false>(kC, KD, kC, sM + 2 * MS, L::ldm, sK, L::ldk, sF, L::ldf, false, kTriALower);
  smem_gemm<false, false>(kC, KD, kC, sM + 3 * MS, L::ldm, sK, L::ldk, sF, L::ldf, true, kTriALower);
  __syncthreads();
  for (int e = threadIdx.x; e < kC * KD; e += kThreads) {
    const int i = e / KD, j = e % KD;
    a.w[(row0 + i) * KD + j] = __float2bfloat16_rn(sF[i * L::ldf + j]);
    a.kh[(row0 + i) * KD + j] = __float2bfloat16_rn(__bfloat162float(sK[i * L::ldk + j]) * exp2f(sb[kC - 1] - sb[i]));
  }
  if (threadIdx.x == 0) a.decay[int64_t(bh) * a.NC + c] = exp2f(sb[kC - 1]);
}

// The state scans work on a VT-column tile of V (blockIdx.x) of one head (VT =
// 32, or 16 when B*H*V/32 blocks would leave most SMs idle), so that B*H*V/VT
// blocks share the sequential work; each chunk's operands are prefetched
// (cp.async, two buffers) while the previous chunk is computed.
template <int KD, int VT>
struct FwdScanLayout {
  static constexpr int ldsf = VT + 4, ldsb = VT + 8, ldk = KD + 8, ldt = VT + 8, ldu = VT + 4;
  static constexpr int bk = smem_round(kC * ldk * 2), bt = smem_round(kC * ldt * 2);
  static constexpr int s_off = 0;
  static constexpr int sb16_off = s_off + smem_round(KD * ldsf * 4);
  static constexpr int buf_off = sb16_off + smem_round(KD * ldsb * 2);
  static constexpr int buf_size = 2 * bk + bt;  // W, Kh (64 x K), Ut tile (64 x VT)
  static constexpr int uf_off = buf_off + 2 * buf_size;
  static constexpr int ub_off = uf_off + smem_round(kC * ldu * 4);
  static constexpr int bytes = ub_off + bt;
};

// Grid (V / VT, B*H). S (K x VT tile) lives in f32 shared memory across chunks;
// the products use its bf16 copy, which is also what hs stores.
template <int KD, int VD, int VT>
__global__ void __launch_bounds__(kThreads) fwd_scan_kernel(DeltaArgs a) {
  using L = FwdScanLayout<KD, VT>;
  extern __shared__ __align__(128) unsigned char smem[];
  float* sS = reinterpret_cast<float*>(smem + L::s_off);
  bf16* sSb = reinterpret_cast<bf16*>(smem + L::sb16_off);
  float* sUf = reinterpret_cast<float*>(smem + L::uf_off);
  bf16* sUb = reinterpret_cast<bf16*>(smem + L::ub_off);
  const int v0 = blockIdx.x * VT, bh = blockIdx.y;
  const int64_t state0 = int64_t(bh) * KD * VD;  // [B,H,K,V] offset of this head
  auto buf = [&](int c, int n) {                 // n: 0 W, 1 Kh, 2 Ut
    return reinterpret_cast<bf16*>(smem + L::buf_off + (c & 1) * L::buf_size + n * L::bk);
  };
  auto issue = [&](int c) {
    const int64_t row0 = chunk_row0(a, bh, c);
    load_block(a.w + row0 * KD, KD, kC, KD, buf(c, 0), L::ldk);
    load_block(a.kh + row0 * KD, KD, kC, KD, buf(c, 1), L::ldk);
    load_block(a.ut + row0 * VD + v0, VD, kC, VT, buf(c, 2), L::ldt);
    cp_async_commit();
  };

  for (int e = threadIdx.x; e < KD * VT; e += kThreads) {
    const int d = e / VT, j = e % VT;
    sS[d * L::ldsf + j] = a.s0 ? __bfloat162float(a.s0[state0 + int64_t(d) * VD + v0 + j]) : 0.f;
  }
  float decay_next = 1.f;
  if (a.NC > 0) issue(0), decay_next = a.decay[int64_t(bh) * a.NC];
  for (int c = 0; c < a.NC; ++c) {
    const float decay = decay_next;
    const int64_t row0 = chunk_row0(a, bh, c);
    cp_async_wait<0>();
    __syncthreads();  // chunk c's operands are in; the previous chunk's products are done
    if (c + 1 < a.NC) issue(c + 1), decay_next = a.decay[int64_t(bh) * a.NC + c + 1];
    bf16* hs = a.hs + (int64_t(bh) * a.NC + c) * KD * VD + v0;
    for (int e = threadIdx.x; e < KD * VT / 8; e += kThreads) {
      const int d = e / (VT / 8), j = (e % (VT / 8)) * 8;
      store8_bf16(sS + d * L::ldsf + j, sSb + d * L::ldsb + j, hs + int64_t(d) * VD + j);
    }
    __syncthreads();
    smem_gemm<false, false>(kC, VT, KD, buf(c, 0), L::ldk, sSb, L::ldsb, sUf, L::ldu, false);  // W S
    __syncthreads();
    // U = Ut - W S; the state decays by 2^{b_63} before the chunk's writes.
    const bf16* ut = buf(c, 2);
    bf16* u = a.u + row0 * VD + v0;
    for (int e = threadIdx.x; e < kC * VT / 8; e += kThreads) {
      const int i = e / (VT / 8), j = (e % (VT / 8)) * 8;
      float x[8];
#pragma unroll
      for (int n = 0; n < 8; ++n) x[n] = __bfloat162float(ut[i * L::ldt + j + n]) - sUf[i * L::ldu + j + n];
      store8_bf16(x, sUb + i * L::ldt + j, u + int64_t(i) * VD + j);
    }
    if (decay != 1.f)
      for (int e = threadIdx.x; e < KD * VT; e += kThreads) sS[(e / VT) * L::ldsf + e % VT] *= decay;
    __syncthreads();
    // S += Khᵀ U (K x VT).
    smem_gemm<true, false>(KD, VT, kC, buf(c, 1), L::ldk, sUb, L::ldt, sS, L::ldsf, true);
  }
  __syncthreads();
  if (a.s_final)
    for (int e = threadIdx.x; e < KD * VT; e += kThreads) {
      const int d = e / VT, j = e % VT;
      a.s_final[state0 + int64_t(d) * VD + v0 + j] = __float2bfloat16_rn(sS[d * L::ldsf + j]);
    }
}

template <int KD, int VD>
struct OutLayout {
  static constexpr int ldk = KD + 8, ldv = VD + 8, ldp = kC + 4, ldpb = kC + 8, ldo = VD + 4;
  static constexpr int q_off = 0;
  static constexpr int k_off = q_off + smem_round(kC * ldk * 2);
  static constexpr int s_off = k_off + smem_round(kC * ldk * 2);
  static constexpr int u_off = s_off + smem_round(KD * ldv * 2);
  static constexpr int p_off = u_off + smem_round(kC * ldv * 2);
  static constexpr int pb_off = p_off + smem_round(kC * ldp * 4);
  static constexpr int o_off = pb_off + smem_round(kC * ldpb * 2);
  static constexpr int b_off = o_off + smem_round(kC * ldo * 4);
  static constexpr int bytes = b_off + smem_round(kC * 4);
};

// Grid (NC, B*H): o for the chunk's valid rows.
template <int KD, int VD>
__global__ void __launch_bounds__(kThreads) out_kernel(DeltaArgs a) {
  using L = OutLayout<KD, VD>;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* sQ = reinterpret_cast<bf16*>(smem + L::q_off);
  bf16* sK = reinterpret_cast<bf16*>(smem + L::k_off);
  bf16* sS = reinterpret_cast<bf16*>(smem + L::s_off);
  bf16* sU = reinterpret_cast<bf16*>(smem + L::u_off);
  float* sP = reinterpret_cast<float*>(smem + L::p_off);
  bf16* sPb = reinterpret_cast<bf16*>(smem + L::pb_off);
  float* sO = reinterpret_cast<float*>(smem + L::o_off);
  float* sb = reinterpret_cast<float*>(smem + L::b_off);
  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kC;
  const int64_t row0 = chunk_row0(a, bh, c);

  chunk_gates(a, b, h, t0, sb, nullptr);
  load_rows(a, a.q, KD, b, h, t0, 0, KD, sQ, L::ldk);
  load_rows(a, a.k, KD, b, h, t0, 0, KD, sK, L::ldk);
  load_block(a.hs + (int64_t(bh) * a.NC + c) * KD * VD, VD, KD, VD, sS, L::ldv);
  load_block(a.u + row0 * VD, VD, kC, VD, sU, L::ldv);
  cp_async_wait_all();
  __syncthreads();
  smem_gemm<false, true>(kC, kC, KD, sQ, L::ldk, sK, L::ldk, sP, L::ldp, false, kTriCLower);
  smem_gemm<false, false>(kC, VD, KD, sQ, L::ldk, sS, L::ldv, sO, L::ldo, false);
  __syncthreads();
  for (int e = threadIdx.x; e < kC * kC; e += kThreads) {
    const int i = e / kC, j = e % kC;
    sPb[i * L::ldpb + j] = __float2bfloat16_rn(j <= i ? sP[i * L::ldp + j] * exp2f(sb[i] - sb[j]) : 0.f);
  }
  if (a.gated)
    for (int e = threadIdx.x; e < kC * VD; e += kThreads) sO[(e / VD) * L::ldo + e % VD] *= exp2f(sb[e / VD]);
  __syncthreads();
  smem_gemm<false, false>(kC, VD, kC, sPb, L::ldpb, sU, L::ldv, sO, L::ldo, true, kTriALower);
  __syncthreads();
  for (int e = threadIdx.x; e < kC * VD; e += kThreads) {
    const int i = e / VD, j = e % VD;
    if (t0 + i < a.T) a.o[row_of(a, b, t0 + i, h) * VD + j] = __float2bfloat16_rn(a.scale * sO[i * L::ldo + j]);
  }
}

}  // namespace delta_chunked
}  // namespace linea
