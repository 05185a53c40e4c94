// The chunked delta rule's output kernel with register fragments (the
// products of out_kernel, mixer_delta_chunked_fwd.cuh):
//   o = scale (diag(2^b) Q S + (Q Kᵀ ∘ D) U),  D_ij = 2^{b_i - b_j} for j <= i,
// with S the state entering the chunk (hs) and U its new values (u), both left
// by fwd_scan_kernel. The scores stay in registers as the A fragments of P U
// (chunked::rows_times_rows and chunked::scores_to_a, the additive mixer's
// helpers: the same decayed causal scores), so nothing is staged in f32.
// Warp w owns rows 16 (w % 4) .. +15 of the chunk and one half (w / 4) of V's
// columns; the two halves recompute the 16 x 64 scores (small beside the
// output's products). About 86 KiB of shared memory at K = V = 128: two
// blocks of 8 warps per SM.
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
struct OutMmaLayout {
  static constexpr int LDK = KD + 8, LDV = VD + 8;
  static constexpr int qs = 0;
  static constexpr int ks = qs + smem_round(kC * LDK * 2);
  static constexpr int us = ks + smem_round(kC * LDK * 2);
  static constexpr int ss = us + smem_round(kC * LDV * 2);
  static constexpr int sb = ss + smem_round(KD * LDV * 2);
  static constexpr int bytes = sb + smem_round(kC * 4);
};

// Grid (NC, B*H), 256 threads: o for the chunk's valid rows.
template <int KD, int VD>
__global__ void __launch_bounds__(kThreads, 2) out_mma_kernel(DeltaArgs a) {
  using L = OutMmaLayout<KD, VD>;
  using namespace mma;
  constexpr int LDK = L::LDK, LDV = L::LDV, NV = VD / 16;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Qs = reinterpret_cast<bf16*>(smem + L::qs);
  bf16* Ks = reinterpret_cast<bf16*>(smem + L::ks);
  bf16* Us = reinterpret_cast<bf16*>(smem + L::us);
  bf16* Ss = reinterpret_cast<bf16*>(smem + L::ss);
  float* sb = reinterpret_cast<float*>(smem + L::sb);
  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kC;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, q2 = 2 * (lane % 4);
  const int rg = warp % 4, r0 = 16 * rg, v0 = (warp / 4) * VD / 2;
  const int ra = r0 + g, rb = ra + 8;

  chunk_gates(a, b, h, t0, sb, nullptr);
  load_rows(a, a.q, KD, b, h, t0, 0, KD, Qs, LDK);
  load_rows(a, a.k, KD, b, h, t0, 0, KD, Ks, LDK);
  load_block(a.u + chunk_row0(a, bh, c) * VD, VD, kC, VD, Us, LDV);
  load_block(a.hs + (int64_t(bh) * a.NC + c) * KD * VD, VD, KD, VD, Ss, LDV);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();

  // P rows r0 .. r0+15 (columns of blocks <= rg), decayed and masked, as A fragments.
  float C[8][4];
  unsigned pa[4][4];
  chunked::rows_times_rows<KD>(Qs, LDK, r0, Ks, LDK, 0, rg, C);
  chunked::scores_to_a<true>(C, r0, a.gated ? sb : nullptr, 1.f, pa);

  float acc[8][4];
#pragma unroll
  for (int n = 0; n < 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
#pragma unroll
  for (int kc = 0; kc < KD / 16; ++kc) {  // Q S
    unsigned qa[4];
    ldmatrix_x4(qa, a_rows(Qs, LDK, r0, 16 * kc));
#pragma unroll
    for (int n2 = 0; n2 < NV / 2; ++n2) {
      unsigned sbf[4];
      ldmatrix_x4_trans(sbf, kn_rows(Ss, LDV, 16 * kc, v0 + 16 * n2));
      mma_bf16(acc[2 * n2], qa, sbf[0], sbf[1]);
      mma_bf16(acc[2 * n2 + 1], qa, sbf[2], sbf[3]);
    }
  }
  if (a.gated) {  // diag(2^b) on the state's share
    const float fa = exp2f(sb[ra]), fb = exp2f(sb[rb]);
#pragma unroll
    for (int n = 0; n < 8; ++n) acc[n][0] *= fa, acc[n][1] *= fa, acc[n][2] *= fb, acc[n][3] *= fb;
  }
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // + P U over columns j <= i
    if (kk > rg) continue;
#pragma unroll
    for (int n2 = 0; n2 < NV / 2; ++n2) {
      unsigned ub[4];
      ldmatrix_x4_trans(ub, kn_rows(Us, LDV, 16 * kk, v0 + 16 * n2));
      mma_bf16(acc[2 * n2], pa[kk], ub[0], ub[1]);
      mma_bf16(acc[2 * n2 + 1], pa[kk], ub[2], ub[3]);
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

}  // namespace delta_chunked
}  // namespace linea
