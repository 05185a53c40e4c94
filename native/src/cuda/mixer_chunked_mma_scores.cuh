// Score blocks in register fragments, shared by the chunked mixers' mma.sync
// kernels (mixer_chunked_bwd_mma.cuh; the delta rule's
// mixer_delta_chunked_out_mma.cuh): a 16-row block of X Yᵀ, and its masking,
// decay and rounding into the A fragments of the product that uses it.
// Device functions only, so any .cu file may include it (a __global__ kernel
// in a shared header would be defined once per including file).
#pragma once

#include "mixer_chunked_common.cuh"
#include "mma_sm80.cuh"

namespace linea {
namespace chunked {

// C (rows r0 .. r0+15 of X, against rows 0 .. 63 of Y) = X Yᵀ over D columns,
// for the 16-column pairs n2 in [lo, hi] only (the others stay zero).
template <int D>
__device__ __forceinline__ void rows_times_rows(const bf16* X, int ldx, int r0, const bf16* Y, int ldy, int lo, int hi,
                                                float (&C)[8][4]) {
  using namespace mma;
#pragma unroll
  for (int n = 0; n < 8; ++n) C[n][0] = C[n][1] = C[n][2] = C[n][3] = 0.f;
#pragma unroll
  for (int kc = 0; kc < D / 16; ++kc) {
    unsigned xa[4];
    ldmatrix_x4(xa, a_rows(X, ldx, r0, 16 * kc));
#pragma unroll
    for (int n2 = 0; n2 < 4; ++n2) {
      if (n2 < lo || n2 > hi) continue;  // warp-uniform
      unsigned yb[4];
      ldmatrix_x4(yb, b_rows(Y, ldy, 16 * n2, 16 * kc));
      mma_bf16(C[2 * n2], xa, yb[0], yb[1]);
      mma_bf16(C[2 * n2 + 1], xa, yb[2], yb[3]);
    }
  }
}

// Masks and decays scores C (rows r0 + g, r0 + g + 8; columns 8 n + 2 (lane % 4) + {0, 1})
// and rounds them to bf16 A fragments over the 64 columns (pa[kk]: columns 16 kk ..).
// LOWER: keep column <= row, decay 2^{b_row - b_col}; else keep column >= row,
// decay 2^{b_col - b_row}. bs: cumulative log2 gates (nullptr: no gate).
template <bool LOWER>
__device__ __forceinline__ void scores_to_a(const float (&C)[8][4], int r0, const float* bs, float factor,
                                            unsigned (&pa)[4][4]) {
  const int lane = threadIdx.x % 32, g = lane / 4, q2 = 2 * (lane % 4);
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int row = r0 + g + 8 * half;
    const float br = bs ? bs[row] : 0.f;
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      float p[2];
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int col = 8 * n + q2 + e;
        const bool keep = LOWER ? col <= row : col >= row;
        float f = factor;
        if (bs) f *= fast_exp2(LOWER ? br - bs[col] : bs[col] - br);
        p[e] = keep ? C[n][2 * half + e] * f : 0.f;
      }
      pa[n / 2][(n % 2) * 2 + half] = mma::pack_bf16(p[0], p[1]);
    }
  }
}

}  // namespace chunked
}  // namespace linea
