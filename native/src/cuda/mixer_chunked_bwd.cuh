// The per-chunk backward of the chunked mixer. With, for chunk c, h = hs_c
// (state entering it), dh = dhs_c (gradient of the state leaving it), P its
// scores (mixer_chunked_fwd.cuh), D_ij = 2^{b_i - b_j} and dP = scale dO Vᵀ
// (masked to j <= i):
//   dV = scale Pᵀ dO + K̂ dh                       K̂_j = k_j ⊙ 2^{b_L - b_j}
//   dK = (V dhᵀ) ⊙ 2^{b_L - b} + dK^P,  dK^P_j = sum_{i>=j} dP_ij q_i ⊙ D_ij
//   dQ = scale (dO hᵀ) ⊙ 2^{b} + dQ^P,  dQ^P_i = sum_{j<=i} dP_ij k_j ⊙ D_ij
//   db = q ⊙ dQ - k ⊙ dK, plus rowsum(dh ⊙ hs_{c+1}) (rpart) at the chunk's last
//        row (the state's decay and K̂'s common factor 2^{b_L});
//   dg = reverse cumsum of db inside the chunk (summed over d for scalar gates,
//        and over b and t for the fixed gate: reduce_fixed_dg).
// Vector gates reuse the block-pair references of the scores: dQ^P for block I
// against blocks J < I with reference 16 I (K̄, factor 2^{b_i - b_{16I}} after
// the GEMM), dK^P for block J against blocks I > J with reference 16 J + 15
// (Q̂, factor 2^{b_{16J+15} - b_j}); diagonal blocks exactly.
//
// Each thread owns the elements e = tid + 256 n of the 64 x KD gradients
// (row e / KD, key dim e % KD), so dK and dQ are summed in registers across
// the GEMMs that produce their parts.
#pragma once

#include "mixer_chunked_fwd.cuh"

namespace linea {
namespace chunked {

template <int G, int KD, int VD>
struct BwdLayout {
  static constexpr int LDK = KD + 8, LDV = VD + 8, LDB = KD + 1;
  static constexpr int LDS = (KD > VD ? KD : VD) + 4;  // f32 staging row stride
  static constexpr int qs = 0;
  static constexpr int ks = qs + smem_round(kBT * LDK * 2);
  static constexpr int vs = ks + smem_round(kBT * LDK * 2);
  static constexpr int dos = vs + smem_round(kBT * LDV * 2);
  static constexpr int bs = dos + smem_round(kBT * LDV * 2);
  static constexpr int Pb = bs + smem_round((G == kGateVector ? kBT * LDB : kBT) * 4);
  static constexpr int dPb = Pb + smem_round(kBT * kLdPb * 2);
  static constexpr int sc = dPb + smem_round(kBT * kLdPb * 2);  // K̄ / Q̂ (96 rows) or K̂ (64 rows)
  static constexpr int Hs = sc + smem_round((G == kGateVector ? 96 : kBT) * LDK * 2);
  static constexpr int stage = Hs + smem_round(KD * LDV * 2);
  // The f32 scores and Q̄ share the staging buffer during the scores phase.
  static constexpr int qbar = stage + smem_round(kBT * kLdP * 4);
  static constexpr int stage_bytes_a = smem_round(kBT * kLdP * 4) + smem_round(kBT * LDK * 2);
  static constexpr int stage_bytes = smem_round(kBT * LDS * 4) > stage_bytes_a ? smem_round(kBT* LDS * 4)
                                                                               : stage_bytes_a;
  static constexpr int red = stage + stage_bytes;
  static constexpr int bytes = red + smem_round(kBT * 4);
};

// dg for scalar and fixed gates from red[i] = sum over d of db (row i of the
// chunk): the reverse cumsum from the chunk's last row, which also gets the
// state's share rp (rparts * KD partial sums). Warp 0 only; red is complete.
__device__ inline void scalar_dg_from_rows(const ChunkArgs& a, int KD, const float* rp, const float* red, int b, int h,
                                           int bh, int c) {
  const int lane = threadIdx.x % 32, t0 = c * kBT;
  float r = 0.f;
  for (int d = lane; d < KD * a.rparts; d += 32) r += rp[d];
  for (int off = 16; off > 0; off >>= 1) r += __shfl_xor_sync(0xffffffffu, r, off);
  if (lane != 0) return;
  float total = 0.f;  // fixed gate: sum over the chunk's steps
  for (int i = kBT - 1; i >= 0; --i) {
    r += red[i];
    if (t0 + i >= a.T) continue;
    if (a.fixed) total += r;
    else put_grad(a.dg, a.dg_add, row_of(a, b, t0 + i, h), r);
  }
  if (a.fixed) a.dgpart[int64_t(bh) * a.NC + c] = total;
}

// dg for scalar and fixed gates: row sums of db, then the reverse cumsum.
__device__ inline void write_scalar_dg(const ChunkArgs& a, const float* stage, int LDS, int KD, const float* rp,
                                       float* red, int b, int h, int bh, int c) {
  const int tid = threadIdx.x;
  const int warp = tid / 32, lane = tid % 32;
  for (int i = warp; i < kBT; i += blockDim.x / 32) {
    float s = 0.f;
    for (int d = lane; d < KD; d += 32) s += stage[i * LDS + d];
    for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
    if (lane == 0) red[i] = s;
  }
  __syncthreads();
  if (warp == 0) scalar_dg_from_rows(a, KD, rp, red, b, h, bh, c);
}

// ---- dg ------------------------------------------------------------------------
// dg of chunk c from db (this thread's elements of the 64 x KD gate gradient
// before the reverse cumsum); stage (64 x LDS f32) and red (64 f32) are free.
template <int G, int KD, int VD>
__device__ void write_dg(const ChunkArgs& a, const float* db, float* stage, float* red, int b, int h, int bh, int c) {
  constexpr int LDS = BwdLayout<G, KD, VD>::LDS, NE = kBT * KD / 256;
  const int tid = threadIdx.x, t0 = c * kBT;
  __syncthreads();
#pragma unroll
  for (int n = 0; n < NE; ++n) {
    const int e = tid + 256 * n;
    stage[(e / KD) * LDS + e % KD] = db[n];
  }
  __syncthreads();
  const float* rp = a.rpart + (int64_t(bh) * a.NC + c) * a.rparts * KD;  // [rparts, KD]
  if constexpr (G == kGateVector) {
    for (int d = tid; d < KD; d += blockDim.x) {
      float s = 0.f;
      for (int p = 0; p < a.rparts; ++p) s += rp[p * KD + d];
      for (int i = kBT - 1; i >= 0; --i) {
        s += stage[i * LDS + d];
        if (t0 + i < a.T) put_grad(a.dg, a.dg_add, row_of(a, b, t0 + i, h) * KD + d, s);
      }
    }
  } else {
    write_scalar_dg(a, stage, LDS, KD, rp, red, b, h, bh, c);
  }
}

// Grid (NC, B * H), 256 threads.
template <int G, int KD, int VD>
__global__ void __launch_bounds__(256) bwd_chunk_kernel(ChunkArgs a) {
  using L = BwdLayout<G, KD, VD>;
  constexpr int LDK = L::LDK, LDV = L::LDV, LDB = L::LDB, LDS = L::LDS;
  constexpr int NE = kBT * KD / 256;  // elements of dQ / dK per thread
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* qs = reinterpret_cast<bf16*>(smem + L::qs);
  bf16* ks = reinterpret_cast<bf16*>(smem + L::ks);
  bf16* vs = reinterpret_cast<bf16*>(smem + L::vs);
  bf16* dos = reinterpret_cast<bf16*>(smem + L::dos);
  float* bs = reinterpret_cast<float*>(smem + L::bs);
  bf16* Pb = reinterpret_cast<bf16*>(smem + L::Pb);
  bf16* dPb = reinterpret_cast<bf16*>(smem + L::dPb);
  bf16* sc = reinterpret_cast<bf16*>(smem + L::sc);
  bf16* Hs = reinterpret_cast<bf16*>(smem + L::Hs);
  float* stage = reinterpret_cast<float*>(smem + L::stage);
  bf16* qbar = reinterpret_cast<bf16*>(smem + L::qbar);
  float* red = reinterpret_cast<float*>(smem + L::red);

  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kBT, tid = threadIdx.x;
  const int64_t KV = int64_t(KD) * VD;
  // log2 decay of element (row i, key dim d), and the chunk's last row.
  auto bv = [&](int i, int d) { return G == kGateVector ? bs[i * LDB + d] : (G == kGateScalar ? bs[i] : 0.f); };

  // ---- scores P and dP --------------------------------------------------------
  load_rows(a, a.q, KD, b, h, t0, 0, KD, qs, LDK);
  load_rows(a, a.k, KD, b, h, t0, 0, KD, ks, LDK);
  load_rows(a, a.v, VD, b, h, t0, 0, VD, vs, LDV);
  load_rows(a, a.dout, VD, b, h, t0, 0, VD, dos, LDV);
  if (G == kGateScalar) scalar_cumsum(a, b, h, t0, bs);
  if (G == kGateVector) vector_cumsum(a, b, h, t0, 0, KD, bs, LDB);
  __syncthreads();
  chunk_scores<G, KD>(qs, ks, bs, stage, qbar, sc);
  __syncthreads();
  convert_scores<G>(stage, bs, a.scale, Pb);
  __syncthreads();
  smem_gemm<false, true>(kBT, kBT, VD, dos, LDV, vs, LDV, stage, kLdP, false, kTriCLower);  // dO Vᵀ
  __syncthreads();
  convert_scores<G>(stage, bs, a.scale, dPb);  // scalar: dP ⊙ D
  // ---- dV = Pᵀ dO + K̂ dh -------------------------------------------------------
  load_block(a.dhs + (int64_t(bh) * (a.NC + 1) + c + 1) * KV, VD, KD, VD, Hs, LDV);
  for (int e = tid; e < kBT * KD; e += blockDim.x) {
    const int j = e / KD, d = e % KD;
    const float f = G == kGateNone ? 1.f : fast_exp2(bv(kBT - 1, d) - bv(j, d));
    sc[j * LDK + d] = __float2bfloat16_rn(__bfloat162float(ks[j * LDK + d]) * f);
  }
  __syncthreads();
  smem_gemm<true, false>(kBT, VD, kBT, Pb, kLdPb, dos, LDV, stage, LDS, false, kTriAUpper);
  smem_gemm<false, false>(kBT, VD, KD, sc, LDK, Hs, LDV, stage, LDS, true);
  __syncthreads();
  for (int e = tid; e < kBT * VD / 2; e += blockDim.x) {
    const int i = e / (VD / 2), j = (e % (VD / 2)) * 2;
    if (t0 + i < a.T)
      put_grad2(a.dv, a.dv_add, row_of(a, b, t0 + i, h) * VD + j, stage[i * LDS + j], stage[i * LDS + j + 1]);
  }
  __syncthreads();
  // ---- dK ------------------------------------------------------------------------
  float acc[NE], db[NE];
  smem_gemm<false, true>(kBT, KD, VD, vs, LDV, Hs, LDV, stage, LDS, false);  // V dhᵀ
  __syncthreads();
#pragma unroll
  for (int n = 0; n < NE; ++n) {
    const int e = tid + 256 * n, j = e / KD, d = e % KD;
    acc[n] = stage[j * LDS + d] * (G == kGateNone ? 1.f : fast_exp2(bv(kBT - 1, d) - bv(j, d)));
  }
  __syncthreads();
  if constexpr (G != kGateVector) {
    smem_gemm<true, false>(kBT, KD, kBT, dPb, kLdPb, qs, LDK, stage, LDS, false, kTriAUpper);  // (dP ⊙ D)ᵀ Q
    __syncthreads();
#pragma unroll
    for (int n = 0; n < NE; ++n) {
      const int e = tid + 256 * n;
      acc[n] += stage[(e / KD) * LDS + e % KD];
    }
  } else {
    build_qhat<KD>(qs, bs, sc);
    __syncthreads();
    // Rows of block J (< 3) against blocks I > J: (dP_{I,J})ᵀ Q̂^{(J)}_I.
    const int warp = tid / 32, tn_count = KD / 16;
    for (int tile = warp; tile < 3 * tn_count; tile += blockDim.x / 32) {
      const int J = tile / tn_count, tn = tile % tn_count;
      warp_tile_gemm<true, false>(3 - J, dPb + 16 * (J + 1) * kLdPb + 16 * J, 16 * kLdPb, kLdPb,
                                  sc + qhat_offset(J) * LDK + 16 * tn, 16 * LDK, LDK, stage + 16 * J * LDS + 16 * tn,
                                  LDS);
    }
    __syncthreads();
#pragma unroll
    for (int n = 0; n < NE; ++n) {
      const int e = tid + 256 * n, j = e / KD, d = e % KD, J = j / 16;
      const float bj = bs[j * LDB + d];
      float s = J < 3 ? stage[j * LDS + d] * fast_exp2(bs[(16 * J + 15) * LDB + d] - bj) : 0.f;
      for (int i = j; i < 16 * J + 16; ++i)
        s += __bfloat162float(dPb[i * kLdPb + j]) * __bfloat162float(qs[i * LDK + d]) * fast_exp2(bs[i * LDB + d] - bj);
      acc[n] += s;
    }
  }
#pragma unroll
  for (int n = 0; n < NE; ++n) {
    const int e = tid + 256 * n, j = e / KD, d = e % KD;
    if (t0 + j < a.T) put_grad(a.dk, a.dk_add, row_of(a, b, t0 + j, h) * KD + d, acc[n]);
    db[n] = -__bfloat162float(ks[j * LDK + d]) * acc[n];
  }
  __syncthreads();
  // ---- dQ ------------------------------------------------------------------------
  load_block(a.hs + (int64_t(bh) * (a.NC + 1) + c) * KV, VD, KD, VD, Hs, LDV);
  __syncthreads();
  smem_gemm<false, true>(kBT, KD, VD, dos, LDV, Hs, LDV, stage, LDS, false);  // dO hᵀ
  __syncthreads();
#pragma unroll
  for (int n = 0; n < NE; ++n) {
    const int e = tid + 256 * n, i = e / KD, d = e % KD;
    acc[n] = a.scale * stage[i * LDS + d] * (G == kGateNone ? 1.f : fast_exp2(bv(i, d)));
  }
  __syncthreads();
  if constexpr (G != kGateVector) {
    smem_gemm<false, false>(kBT, KD, kBT, dPb, kLdPb, ks, LDK, stage, LDS, false, kTriALower);  // (dP ⊙ D) K
    __syncthreads();
#pragma unroll
    for (int n = 0; n < NE; ++n) {
      const int e = tid + 256 * n;
      acc[n] += stage[(e / KD) * LDS + e % KD];
    }
  } else {
    build_kbar<KD>(ks, bs, sc);
    __syncthreads();
    // Rows of block I (> 0) against blocks J < I: dP_{I,J} K̄^{(I)}_J.
    const int warp = tid / 32, tn_count = KD / 16;
    for (int tile = warp; tile < 3 * tn_count; tile += blockDim.x / 32) {
      const int I = 1 + tile / tn_count, tn = tile % tn_count;
      warp_tile_gemm<false, false>(I, dPb + 16 * I * kLdPb, 16, kLdPb, sc + kbar_offset(I) * LDK + 16 * tn, 16 * LDK,
                                   LDK, stage + 16 * I * LDS + 16 * tn, LDS);
    }
    __syncthreads();
#pragma unroll
    for (int n = 0; n < NE; ++n) {
      const int e = tid + 256 * n, i = e / KD, d = e % KD, I = i / 16;
      const float bi = bs[i * LDB + d];
      float s = I > 0 ? stage[i * LDS + d] * fast_exp2(bi - bs[16 * I * LDB + d]) : 0.f;
      for (int j = 16 * I; j <= i; ++j)
        s += __bfloat162float(dPb[i * kLdPb + j]) * __bfloat162float(ks[j * LDK + d]) * fast_exp2(bi - bs[j * LDB + d]);
      acc[n] += s;
    }
  }
#pragma unroll
  for (int n = 0; n < NE; ++n) {
    const int e = tid + 256 * n, i = e / KD, d = e % KD;
    if (t0 + i < a.T) put_grad(a.dq, a.dq_add, row_of(a, b, t0 + i, h) * KD + d, acc[n]);
    db[n] += __bfloat162float(qs[i * LDK + d]) * acc[n];
  }
  // A fixed gate whose dg is not asked for has no dgpart (the same for every block).
  if constexpr (G != kGateNone)
    if (wants_dg(a)) write_dg<G, KD, VD>(a, db, stage, red, b, h, bh, c);
}

// Fixed gate: dg[h] = sum over b and chunks of dgpart[(b H + h) NC + c], in a
// fixed order (a block per head, tree reduction). Grid H, 256 threads.
__global__ void __launch_bounds__(256) reduce_fixed_dg(ChunkArgs a) {
  __shared__ float part[256];
  const int h = blockIdx.x, n = a.B * a.NC;
  float s = 0.f;
  for (int e = threadIdx.x; e < n; e += blockDim.x) s += a.dgpart[(int64_t(e / a.NC) * a.H + h) * a.NC + e % a.NC];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = 128; w > 0; w >>= 1) {
    if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) a.dg[h] = __float2bfloat16_rn(part[0]);
}

}  // namespace chunked
}  // namespace linea
