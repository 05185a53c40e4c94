// The block-wide tensor-core product in shared memory that both chunked
// mixer paths use (mixer_chunked*.cuh: the gated additive family;
// mixer_delta_chunked*.cuh: the delta rule): bf16 operands, f32 results,
// optionally triangular, written once here.
#pragma once

#include <cuda_bf16.h>
#include <mma.h>

#include <type_traits>

#include "cuda_types.cuh"

namespace linea {
namespace tile {

// Triangular shapes for smem_gemm, by 16 x 16 tiles (tm, tn: output tile; kt: reduction tile).
enum Tri : int {
  kTriNone = 0,
  kTriCLower = 1,  // compute only output tiles with tn <= tm (the others are left as they are)
  kTriALower = 2,  // A is zero for kt > tm
  kTriAUpper = 3,  // A is zero for kt < tm
};

// C (M x N, f32, row-major, ldc) (+)= A (M x Kd) B (Kd x N), all in shared
// memory, bf16 operands; A_COL / B_COL: the operand is stored column-major
// (element (r, c) at [c * ld + r]), which reads a row-major matrix transposed.
// M, N, Kd are multiples of 16. Output tiles go round-robin over the warps,
// so two calls with the same M, N give each tile to the same warp (an
// accumulating call needs no block sync after the previous one).
template <bool A_COL, bool B_COL>
__device__ void smem_gemm(int M, int N, int Kd, const bf16* A, int lda, const bf16* B, int ldb, float* C, int ldc,
                          bool accumulate, int tri = kTriNone) {
  using namespace nvcuda;
  using LA = typename std::conditional<A_COL, wmma::col_major, wmma::row_major>::type;
  using LB = typename std::conditional<B_COL, wmma::col_major, wmma::row_major>::type;
  const int warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  const int tiles_n = N / 16, tiles = (M / 16) * tiles_n, ktiles = Kd / 16;
  for (int tile = warp; tile < tiles; tile += nwarps) {
    const int tm = tile / tiles_n, tn = tile % tiles_n;
    if (tri == kTriCLower && tn > tm) continue;
    int k_lo = 0, k_hi = ktiles;
    if (tri == kTriALower) k_hi = min(ktiles, tm + 1);
    if (tri == kTriAUpper) k_lo = tm;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    float* c_tile = C + tm * 16 * ldc + tn * 16;
    if (accumulate) {
      __syncwarp();  // this warp may have just stored the tile (an earlier call with the same M, N)
      wmma::load_matrix_sync(acc, c_tile, ldc, wmma::mem_row_major);
    } else {
      wmma::fill_fragment(acc, 0.f);
    }
    for (int kt = k_lo; kt < k_hi; ++kt) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, LA> fa;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, LB> fb;
      wmma::load_matrix_sync(fa, A_COL ? A + kt * 16 * lda + tm * 16 : A + tm * 16 * lda + kt * 16, lda);
      wmma::load_matrix_sync(fb, B_COL ? B + tn * 16 * ldb + kt * 16 : B + kt * 16 * ldb + tn * 16, ldb);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(c_tile, acc, ldc, wmma::mem_row_major);
  }
}

}  // namespace tile
}  // namespace linea
