// Warp-level tensor-core primitives (sm_80+): ldmatrix and mma.sync
// m16n8k16 with bf16 operands and f32 accumulators, for kernels that keep
// their fragments in registers (FlashAttention-2 style) instead of going
// through WMMA's opaque fragments and shared-memory staging.
//
// Fragment layouts of mma.sync m16n8k16 (g = lane / 4, q = lane % 4):
//   A (16 x 16, row): a[0] (g, 2q..2q+1), a[1] (g+8, 2q..), a[2] (g, 2q+8..), a[3] (g+8, 2q+8..)
//   B (16 x 8, col):  b0 (k 2q..2q+1, n g), b1 (k 2q+8.., n g)
//   C (16 x 8, f32):  c[0..1] (g, 2q..2q+1), c[2..3] (g+8, 2q..2q+1)
// so a C fragment pair (columns 16 kk .. 16 kk + 15) rounded to bf16 is the A
// fragment of the next product over those columns.
#pragma once

#include <cuda_bf16.h>

namespace linea {
namespace mma {

// Four 8x8 b16 matrices; lane i gives the address of row i % 8 of matrix i / 8,
// and receives in r[j] row lane / 4, elements 2 (lane % 4) and +1 of matrix j
// (with .trans: of matrix j transposed).
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* p) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* p) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

// c (16x8 f32) += a (16x16 bf16, row) b (16x8 bf16, col).
__device__ __forceinline__ void mma_bf16(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as a bf16 pair, lo in the low half (the lower column).
__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const unsigned*>(&v);
}

// Lane addresses for x4 loads of a 16 x 16 block at (r0, c0) of a row-major
// bf16 tile with row stride ld, by what the four matrices must become:
//   a_rows: the A fragment of the block itself (ldmatrix_x4);
//   b_rows: the B fragments of two n-tiles when the tile is stored [n][k]
//           (rows are n): r = {b0, b1} of n-tile r0, then of r0 + 8 (ldmatrix_x4);
//   kn_rows: the B fragments of two n-tiles when the tile is stored [k][n]
//           (ldmatrix_x4_trans), same order;
//   at_rows: the A fragment of the block's transpose (stored [k][m], ldmatrix_x4_trans).
template <class T>
__device__ __forceinline__ const T* a_rows(const T* tile, int ld, int r0, int c0) {
  const int lane = threadIdx.x % 32;
  return tile + (r0 + lane % 16) * ld + c0 + (lane / 16) * 8;
}
template <class T>
__device__ __forceinline__ const T* b_rows(const T* tile, int ld, int r0, int c0) {
  const int lane = threadIdx.x % 32;
  return tile + (r0 + lane % 8 + (lane / 16) * 8) * ld + c0 + ((lane / 8) % 2) * 8;
}
template <class T>
__device__ __forceinline__ const T* kn_rows(const T* tile, int ld, int r0, int c0) {
  const int lane = threadIdx.x % 32;
  return tile + (r0 + lane % 16) * ld + c0 + (lane / 16) * 8;
}
template <class T>
__device__ __forceinline__ const T* at_rows(const T* tile, int ld, int r0, int c0) {
  return b_rows(tile, ld, r0, c0);
}

}  // namespace mma
}  // namespace linea
