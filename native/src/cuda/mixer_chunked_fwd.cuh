// Intra-chunk scores and the forward output kernel of the chunked mixer.
//
// Scores of one chunk (64 x 64, f32, only j <= i meaningful):
//   P_ij = sum_d q_id k_jd 2^{b_id - b_jd}
// none / scalar gates: P = (Q Kᵀ) ⊙ 2^{b_i - b_j}, one GEMM and the decay applied
//   when P is converted to bf16 (convert_scores).
// vector gates (the GLA secondary chunking): rows in 4 blocks of 16. A block
//   pair I > J uses the first row r = 16 I of block I as reference,
//   P_IJ = (Q_I ⊙ 2^{b_I - b_r}) (K_J ⊙ 2^{b_r - b_J})ᵀ, both factors <= 1; the
//   four diagonal blocks are summed exactly, one 2^{b_id - b_jd} per term
//   (gates of -8 per step make 16-step ranges overflow any factoring).
#pragma once

#include "mixer_chunked_common.cuh"

namespace linea {
namespace chunked {

constexpr int kLdP = 68;   // f32 64 x 64 score row stride
constexpr int kLdPb = 72;  // bf16 64 x 64 score row stride

// Row of block I's scaled keys K̄^{(I)} (rows j < 16 I) inside the 96-row buffer.
__device__ __forceinline__ int kbar_offset(int I) { return 8 * I * (I - 1); }
// Row of block J's scaled queries Q̂^{(J)} (rows i >= 16 (J + 1)) inside the 96-row buffer.
__device__ __forceinline__ int qhat_offset(int J) { return 48 * J - 8 * J * (J - 1); }

// kbar (96 x KD) = for I = 1..3, j < 16 I: k_j ⊙ 2^{b_{16I} - b_j} (all factors <= 1).
template <int KD>
__device__ void build_kbar(const bf16* ks, const float* bs, bf16* kbar) {
  constexpr int LDK = KD + 8, LDB = KD + 1;
  for (int e = threadIdx.x; e < 96 * KD; e += blockDim.x) {
    const int r = e / KD, d = e % KD;
    const int I = r < 16 ? 1 : (r < 48 ? 2 : 3), j = r - kbar_offset(I);
    const float f = fast_exp2(bs[16 * I * LDB + d] - bs[j * LDB + d]);
    kbar[r * LDK + d] = __float2bfloat16_rn(__bfloat162float(ks[j * LDK + d]) * f);
  }
}

// qhat (96 x KD) = for J = 0..2, i >= 16 (J + 1): q_i ⊙ 2^{b_i - b_{16J+15}} (factors <= 1).
template <int KD>
__device__ void build_qhat(const bf16* qs, const float* bs, bf16* qhat) {
  constexpr int LDK = KD + 8, LDB = KD + 1;
  for (int e = threadIdx.x; e < 96 * KD; e += blockDim.x) {
    const int r = e / KD, d = e % KD;
    const int J = r < 48 ? 0 : (r < 80 ? 1 : 2), i = 16 * (J + 1) + r - qhat_offset(J);
    const float f = fast_exp2(bs[i * LDB + d] - bs[(16 * J + 15) * LDB + d]);
    qhat[r * LDK + d] = __float2bfloat16_rn(__bfloat162float(qs[i * LDK + d]) * f);
  }
}

// One step of a transposing warp reduction of 2 W partial sums per lane: lanes
// with bit 2 W set keep the upper W sums, the others the lower, each added to its
// partner's (lane ^ 2 W).
template <int W>
__device__ __forceinline__ void butterfly(float* acc, int lane) {
  const bool upper = lane & (2 * W);
#pragma unroll
  for (int n = 0; n < W; ++n) {
    const float mine = upper ? acc[W + n] : acc[n], other = upper ? acc[n] : acc[W + n];
    acc[n] = mine + __shfl_xor_sync(0xffffffffu, other, 2 * W);
  }
}

// The diagonal 16 x 16 blocks of the vector kind's scores, exactly: for every row
// i and column j of its block, store(i, j, s) with s = sum_d q_id k_jd 2^{b_id - b_jd}
// (0 for j > i). One warp per row, lanes over d; each lane sums its key dims for all
// 16 columns of the block, then a transposing butterfly leaves the total of column
// j0 + (lane >> 1) in lanes 2 (j - j0) and 2 (j - j0) + 1 (the even one stores).
template <int KD, class Store>
__device__ void diag_scores_vector(const bf16* qs, const bf16* ks, const float* bs, Store store) {
  constexpr int LDK = KD + 8, LDB = KD + 1, M = KD / 32;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nwarps = blockDim.x / 32;
  for (int i = warp; i < kBT; i += nwarps) {
    float qv[M], bi[M], acc[16];
#pragma unroll
    for (int m = 0; m < M; ++m) {
      qv[m] = __bfloat162float(qs[i * LDK + lane + 32 * m]);
      bi[m] = bs[i * LDB + lane + 32 * m];
    }
    const int j0 = i & ~15;
#pragma unroll
    for (int n = 0; n < 16; ++n) {
      acc[n] = 0.f;
      if (j0 + n > i) continue;  // warp-uniform
#pragma unroll
      for (int m = 0; m < M; ++m) {
        const int d = lane + 32 * m, j = j0 + n;
        acc[n] += qv[m] * __bfloat162float(ks[j * LDK + d]) * fast_exp2(bi[m] - bs[j * LDB + d]);
      }
    }
    butterfly<8>(acc, lane);
    butterfly<4>(acc, lane);
    butterfly<2>(acc, lane);
    butterfly<1>(acc, lane);
    const float s = acc[0] + __shfl_xor_sync(0xffffffffu, acc[0], 1);
    const int j = j0 + (lane >> 1);
    if ((lane & 1) == 0) store(i, j, j <= i ? s : 0.f);
  }
}

// chunk_scores for the vector kind.
template <int KD>
__device__ void chunk_scores_vector(const bf16* qs, const bf16* ks, const float* bs, float* Pf, bf16* qbar,
                                    bf16* kbar) {
  constexpr int LDK = KD + 8, LDB = KD + 1;
  // Q̄_i = q_i ⊙ 2^{b_i - b_{first row of i's block}}.
  for (int e = threadIdx.x; e < kBT * KD; e += blockDim.x) {
    const int i = e / KD, d = e % KD;
    const float f = fast_exp2(bs[i * LDB + d] - bs[(i & ~15) * LDB + d]);
    qbar[i * LDK + d] = __float2bfloat16_rn(__bfloat162float(qs[i * LDK + d]) * f);
  }
  build_kbar<KD>(ks, bs, kbar);
  __syncthreads();
  const int warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  // Off-diagonal blocks: pair p -> (I, J) = (1,0) (2,0) (2,1) (3,0) (3,1) (3,2).
  for (int p = warp; p < 6; p += nwarps) {
    const int I = p < 1 ? 1 : (p < 3 ? 2 : 3), J = p - kbar_offset(I) / 16;
    warp_tile_gemm<false, true>(KD / 16, qbar + 16 * I * LDK, 16, LDK, kbar + (kbar_offset(I) + 16 * J) * LDK, 16, LDK,
                                Pf + 16 * I * kLdP + 16 * J, kLdP);
  }
  // Diagonal blocks, exactly.
  diag_scores_vector<KD>(qs, ks, bs, [&](int i, int j, float s) { Pf[i * kLdP + j] = s; });
}

// Pf (64 x 64, row stride kLdP) = the chunk's scores, valid on the lower
// 16-blocks (none / scalar: undecayed Q Kᵀ; vector: decayed, zero above the
// diagonal inside diagonal blocks). qbar (64 x KD) and kbar (96 x KD) are
// scratch for the vector kind. The caller syncs before and after.
template <int G, int KD>
__device__ void chunk_scores(const bf16* qs, const bf16* ks, const float* bs, float* Pf, bf16* qbar, bf16* kbar) {
  constexpr int LDK = KD + 8;
  if constexpr (G != kGateVector) {
    smem_gemm<false, true>(kBT, kBT, KD, qs, LDK, ks, LDK, Pf, kLdP, false, kTriCLower);
  } else {
    chunk_scores_vector<KD>(qs, ks, bs, Pf, qbar, kbar);
  }
}

// Pb (bf16) = factor * P, masked to j <= i, with the scalar decay 2^{b_i - b_j}
// applied here for none / scalar gates. Pf: as chunk_scores (or dP) left it.
template <int G>
__device__ void convert_scores(const float* Pf, const float* bs, float factor, bf16* Pb) {
  for (int e = threadIdx.x; e < kBT * kBT; e += blockDim.x) {
    const int i = e / kBT, j = e % kBT;
    float p = 0.f;
    if (j <= i) {
      p = factor * Pf[i * kLdP + j];
      if (G == kGateScalar) p *= fast_exp2(bs[i] - bs[j]);
    }
    Pb[i * kLdPb + j] = __float2bfloat16_rn(p);
  }
}

// Shared-memory layout of the forward output kernel (bytes).
template <int G, int KD, int VD>
struct FwdLayout {
  static constexpr int LDK = KD + 8, LDV = VD + 8, LDB = KD + 1, LDO = VD + 4;
  static constexpr int qs = 0;
  static constexpr int Pb = qs + smem_round(kBT * LDK * 2);
  static constexpr int U = Pb + smem_round(kBT * kLdPb * 2);
  // phase A (scores)
  static constexpr int ks = U;
  static constexpr int bs = ks + smem_round(kBT * LDK * 2);
  static constexpr int Pf = bs + smem_round((G == kGateVector ? kBT * LDB : kBT) * 4);
  static constexpr int qbar = Pf + smem_round(kBT * kLdP * 4);
  static constexpr int kbar = qbar + (G == kGateVector ? smem_round(kBT * LDK * 2) : 0);
  static constexpr int endA = kbar + (G == kGateVector ? smem_round(96 * LDK * 2) : 0);
  // phase B (output)
  static constexpr int vs = U;
  static constexpr int Ss = vs + smem_round(kBT * LDV * 2);
  static constexpr int Of = Ss + smem_round(KD * LDV * 2);
  static constexpr int endB = Of + smem_round(kBT * LDO * 4);
  static constexpr int bytes = endA > endB ? endA : endB;
};

// o (rows of chunk c, columns v0 .. v0 + VT of V) = scale (Q̃ S_c + P V), Q̃ = q ⊙ 2^{b}.
// Grid (NC, B * H, V / VT), 256 threads. mixer_chunked.cu launches VT = V (the
// scores computed once per chunk): tiles of 64 columns, half the shared memory
// per block, measured slower on the H200 (vector gate 4.9 ms against 3.4).
template <int G, int KD, int VT>
__global__ void __launch_bounds__(256) fwd_out_kernel(ChunkArgs a) {
  using L = FwdLayout<G, KD, VT>;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* qs = reinterpret_cast<bf16*>(smem + L::qs);
  bf16* Pb = reinterpret_cast<bf16*>(smem + L::Pb);
  bf16* ks = reinterpret_cast<bf16*>(smem + L::ks);
  float* bs = reinterpret_cast<float*>(smem + L::bs);
  float* Pf = reinterpret_cast<float*>(smem + L::Pf);
  bf16* qbar = reinterpret_cast<bf16*>(smem + L::qbar);
  bf16* kbar = reinterpret_cast<bf16*>(smem + L::kbar);
  bf16* vs = reinterpret_cast<bf16*>(smem + L::vs);
  bf16* Ss = reinterpret_cast<bf16*>(smem + L::Ss);
  float* Of = reinterpret_cast<float*>(smem + L::Of);

  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kBT, v0 = blockIdx.z * VT;
  load_rows(a, a.q, KD, b, h, t0, 0, KD, qs, L::LDK);
  load_rows(a, a.k, KD, b, h, t0, 0, KD, ks, L::LDK);
  if (G == kGateScalar) scalar_cumsum(a, b, h, t0, bs);
  if (G == kGateVector) vector_cumsum(a, b, h, t0, 0, KD, bs, L::LDB);
  __syncthreads();
  chunk_scores<G, KD>(qs, ks, bs, Pf, qbar, kbar);
  __syncthreads();
  convert_scores<G>(Pf, bs, 1.f, Pb);
  if (G != kGateNone)
    for (int e = threadIdx.x; e < kBT * KD; e += blockDim.x) {
      const int i = e / KD, d = e % KD;
      const float f = fast_exp2(G == kGateVector ? bs[i * L::LDB + d] : bs[i]);
      qs[i * L::LDK + d] = __float2bfloat16_rn(__bfloat162float(qs[i * L::LDK + d]) * f);
    }
  __syncthreads();
  // Phase B overwrites the scores' buffers.
  load_rows(a, a.v, a.V, b, h, t0, v0, VT, vs, L::LDV);
  load_block(a.hs + (int64_t(bh) * (a.NC + 1) + c) * KD * a.V + v0, a.V, KD, VT, Ss, L::LDV);
  __syncthreads();
  smem_gemm<false, false>(kBT, VT, KD, qs, L::LDK, Ss, L::LDV, Of, L::LDO, false);
  smem_gemm<false, false>(kBT, VT, kBT, Pb, kLdPb, vs, L::LDV, Of, L::LDO, true, kTriALower);
  __syncthreads();
  for (int e = threadIdx.x; e < kBT * VT / 2; e += blockDim.x) {
    const int i = e / (VT / 2), j = (e % (VT / 2)) * 2;
    if (t0 + i >= a.T) continue;
    *reinterpret_cast<__nv_bfloat162*>(a.o + row_of(a, b, t0 + i, h) * a.V + v0 + j) =
        __floats2bfloat162_rn(a.scale * Of[i * L::LDO + j], a.scale * Of[i * L::LDO + j + 1]);
  }
}

}  // namespace chunked
}  // namespace linea
