// The chunked delta rule's bwd_prep_kernel (mixer_delta_chunked_bwd.cuh) with
// register fragments: per chunk, the reverse scan's local operands
//   qt = scale diag(2^b) Q                                 (elementwise)
//   du = scale Pᵀ dO,  P_ij = (q_i · k_j) 2^{b_i - b_j}, j <= i
// where rows j of Pᵀ are the scores K Qᵀ kept in registers as A fragments
// (chunked::rows_times_rows, scores_to_a), as the additive backward computes
// dV (mixer_chunked_bwd_mma.cuh). Warp w owns rows 16 (w % 4) .. +15 of du and
// one column half (w / 4). About 52 KiB of shared memory at K = V = 128 (the
// WMMA kernel: 104 KiB).
//
// The default since the eighth session (LINEA_DELTA_KERNELS=wmma keeps the
// older kernel): checked by the cross-backend test on an H200, 0.40 -> 0.21 ms
// at B = 16, T = 2048, H = 16, K = V = 128 (ncu).
#pragma once

#include "mixer_chunked_mma_scores.cuh"
#include "mixer_delta_chunked_common.cuh"

namespace linea {
namespace delta_chunked {

template <int KD, int VD>
struct BwdPrepMmaLayout {
  static constexpr int LDK = KD + 8, LDV = VD + 8;
  static constexpr int qs = 0;
  static constexpr int ks = qs + smem_round(kC * LDK * 2);
  static constexpr int ds = ks + smem_round(kC * LDK * 2);
  static constexpr int bs = ds + smem_round(kC * LDV * 2);
  static constexpr int bytes = bs + smem_round(kC * 4);
};

// Grid (NC, B*H), kThreads threads: qt and du for all 64 rows of the chunk
// (rows past T are zeros: q and dO load as zeros there).
template <int KD, int VD>
__global__ void __launch_bounds__(kThreads) bwd_prep_mma_kernel(DeltaArgs a) {
  using L = BwdPrepMmaLayout<KD, VD>;
  using namespace mma;
  constexpr int LDK = L::LDK, LDV = L::LDV, NV = VD / 16;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Qs = reinterpret_cast<bf16*>(smem + L::qs);
  bf16* Ks = reinterpret_cast<bf16*>(smem + L::ks);
  bf16* Ds = reinterpret_cast<bf16*>(smem + L::ds);
  float* sb = reinterpret_cast<float*>(smem + L::bs);

  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kC;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, q2 = 2 * (lane % 4);
  const int rg = warp % 4, r0 = 16 * rg, v0 = (warp / 4) * VD / 2;
  const int ra = r0 + g, rb = ra + 8;
  const int64_t row0 = chunk_row0(a, bh, c);

  chunk_gates(a, b, h, t0, sb, nullptr);
  load_rows(a, a.q, KD, b, h, t0, 0, KD, Qs, LDK);
  load_rows(a, a.k, KD, b, h, t0, 0, KD, Ks, LDK);
  load_rows(a, a.dout, VD, b, h, t0, 0, VD, Ds, LDV);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();

  for (int e = tid; e < kC * KD / 2; e += kThreads) {  // qt
    const int i = e / (KD / 2), d = 2 * (e % (KD / 2));
    const float2 q = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Qs + i * LDK + d));
    const float f = a.scale * exp2f(sb[i]);
    *reinterpret_cast<unsigned*>(a.qt + (row0 + i) * KD + d) = pack_bf16(q.x * f, q.y * f);
  }

  float C[8][4];
  unsigned pa[4][4];
  chunked::rows_times_rows<KD>(Ks, LDK, r0, Qs, LDK, rg, 3, C);  // (K Qᵀ)_ji
  chunked::scores_to_a<false>(C, r0, a.gated ? sb : nullptr, a.scale, pa);
  float acc[8][4];
#pragma unroll
  for (int n = 0; n < 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {  // scale Pᵀ dO over rows i >= j
    if (kk < rg) continue;
#pragma unroll
    for (int n2 = 0; n2 < NV / 2; ++n2) {
      unsigned db[4];
      ldmatrix_x4_trans(db, kn_rows(Ds, LDV, 16 * kk, v0 + 16 * n2));
      mma_bf16(acc[2 * n2], pa[kk], db[0], db[1]);
      mma_bf16(acc[2 * n2 + 1], pa[kk], db[2], db[3]);
    }
  }
#pragma unroll
  for (int n = 0; n < 8; ++n) {
    if (n >= NV) continue;
    const int col = v0 + 8 * n + q2;
    *reinterpret_cast<unsigned*>(a.du + (row0 + ra) * VD + col) = pack_bf16(acc[n][0], acc[n][1]);
    *reinterpret_cast<unsigned*>(a.du + (row0 + rb) * VD + col) = pack_bf16(acc[n][2], acc[n][3]);
  }
}

}  // namespace delta_chunked
}  // namespace linea
