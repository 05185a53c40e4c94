// Shared pieces of the chunked tensor-core mixer (mixer_chunked.cu): the
// launch arguments, the gate loads and cumulative sums of one chunk, and a
// small shared-memory WMMA GEMM (bf16 operands, f32 accumulators) that every
// kernel builds its products from.
//
// Conventions, per head (b, h) and chunk c of kBT = 64 steps (rows t0 .. t0+63):
//   b_i  cumulative log decay inside the chunk, in log2 units (b_i = log2(e) sum_{s<=i} g_s),
//        scalar (one per row) or vector (one per row and key dim d); rows past T have g = 0
//        and zero q, k, v, do, so a partial last chunk needs no other masking.
//   every exponential is exp2 of a difference b_i - b_j with j <= i (or of b_i, or of
//   b_L - b_j): all <= 0, so no factor ever exceeds 1 and nothing overflows.
#pragma once

#include <cuda_bf16.h>
#include <mma.h>

#include <cstdint>
#include <type_traits>

#include "cuda_types.cuh"
#include "smem_gemm.cuh"

namespace linea {
namespace chunked {

constexpr int kBT = 64;  // internal chunk length (rows of one chunk)
constexpr float kLog2e = 1.4426950408889634f;

// 2^x for x <= 0 (every decay factor here): the hardware approximation (relative
// error ~2^-22), results below 2^-126 flushed to 0.
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// Gate kinds as the kernels see them: none, one value per step (fixed or
// scalar; `fixed` only changes where it is read), one per step and key dim.
enum GateKind : int { kGateNone = 0, kGateScalar = 1, kGateVector = 2 };

// Everything a kernel reads or writes; absent tensors are nullptr.
struct ChunkArgs {
  int B = 0, T = 0, H = 0, K = 0, V = 0, NC = 0;  // NC = ceil(T / kBT)
  float scale = 1;
  bool fixed = false;  // g is [H] (else [B,T,H] for the scalar kind)
  const bf16 *q = nullptr, *k = nullptr, *v = nullptr, *g = nullptr, *s0 = nullptr;
  const bf16 *dout = nullptr, *ds_final = nullptr;  // [B,T,H,V], [B,H,K,V]
  bf16 *o = nullptr, *s_final = nullptr;
  bf16 *dq = nullptr, *dk = nullptr, *dv = nullptr, *dg = nullptr, *ds0 = nullptr;
  // Or, per gradient, an f32 array of the same layout that the kernel adds its result
  // into instead (the lowered mixer sums its block pairs' gradients unrounded).
  float *dq_add = nullptr, *dk_add = nullptr, *dv_add = nullptr, *dg_add = nullptr;
  // Scratch (mixer_chunked_scan.cuh): hs [B*H, NC+1, K, V] the state entering each
  // chunk (slot NC: the final state); dhs [B*H, NC+1, K, V], slot c+1: the gradient
  // of the state leaving chunk c; rpart [B*H, NC, K] the gate gradient of each
  // chunk's last row; dgpart [B*H, NC] the fixed gate's per-chunk sums of dg.
  bf16 *hs = nullptr, *dhs = nullptr;
  float *rpart = nullptr, *dgpart = nullptr;
  // rpart's partial sums per chunk and key dim (seq_scan_kernel: one per 64 columns of V),
  // laid out [B*H, NC, rparts, K] and added in that order by their reader.
  int rparts = 1;
  // The one-pass forward by segments of T (mixer_chunked_fused_fwd.cuh): `segs`
  // segments of `seg_chunks` chunks; per head and segment its state from zero
  // (seg_out) and the state entering it (seg_in), [B*H, segs, K, V], and its
  // total log2 decay (seg_decay [B*H, segs]; 0 with no gate).
  int segs = 1, seg_chunks = 0;
  float *seg_out = nullptr, *seg_in = nullptr, *seg_decay = nullptr;
};

// Row offset of (b, t, h) in a [B, T, H, X] tensor, in rows of X.
__device__ __forceinline__ int64_t row_of(const ChunkArgs& a, int b, int t, int h) {
  return (int64_t(b) * a.T + t) * a.H + h;
}

// A gradient element: added into the f32 array when there is one, else written as bf16.
__device__ __forceinline__ void put_grad(bf16* dst, float* add, int64_t i, float x) {
  if (add) add[i] += x;
  else dst[i] = __float2bfloat16_rn(x);
}

// Two adjacent elements (i even): one 4- or 8-byte access.
__device__ __forceinline__ void put_grad2(bf16* dst, float* add, int64_t i, float x, float y) {
  if (add) {
    float2* p = reinterpret_cast<float2*>(add + i);
    const float2 o = *p;
    *p = make_float2(o.x + x, o.y + y);
  } else {
    *reinterpret_cast<__nv_bfloat162*>(dst + i) = __floats2bfloat162_rn(x, y);
  }
}

__device__ __forceinline__ bool wants_dg(const ChunkArgs& a) { return a.dg != nullptr || a.dg_add != nullptr; }

// Log gate of step t (0 past T) for the scalar kind.
__device__ __forceinline__ float scalar_gate(const ChunkArgs& a, int b, int t, int h) {
  if (t >= a.T) return 0.f;
  return __bfloat162float(a.fixed ? a.g[h] : a.g[row_of(a, b, t, h)]);
}

// Scalar kind: bs[0..63] = cumulative log2 decay of the chunk starting at t0.
// Uses warp 0 (a shuffle scan); the caller syncs afterwards.
__device__ __forceinline__ void scalar_cumsum(const ChunkArgs& a, int b, int h, int t0, float* bs) {
  if (threadIdx.x >= 32) return;
  const int lane = threadIdx.x;
  float lo = scalar_gate(a, b, t0 + lane, h), hi = scalar_gate(a, b, t0 + 32 + lane, h);
  for (int off = 1; off < 32; off <<= 1) {
    const float l = __shfl_up_sync(0xffffffffu, lo, off), u = __shfl_up_sync(0xffffffffu, hi, off);
    if (lane >= off) lo += l, hi += u;
  }
  hi += __shfl_sync(0xffffffffu, lo, 31);
  bs[lane] = lo * kLog2e;
  bs[32 + lane] = hi * kLog2e;
}

// Vector kind: bs[i * ldb + j] = cumulative log2 decay of key dim d0 + j at
// row i, for j < nd. Every thread of the block calls it (blockDim.x a multiple
// of nd, nd a multiple of 8): the chunk's gates are loaded at once (16 bytes a
// thread), then each column is summed in blockDim.x / nd segments whose totals
// are added after a sync. The caller syncs afterwards.
__device__ __forceinline__ void vector_cumsum(const ChunkArgs& a, int b, int h, int t0, int d0, int nd, float* bs,
                                              int ldb) {
  const int groups = nd / 8;
#pragma unroll 4
  for (int e = threadIdx.x; e < kBT * groups; e += blockDim.x) {
    const int i = e / groups, j = (e % groups) * 8;
    uint4 u = make_uint4(0, 0, 0, 0);
    if (t0 + i < a.T) u = *reinterpret_cast<const uint4*>(a.g + row_of(a, b, t0 + i, h) * a.K + d0 + j);
    const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
    for (int n = 0; n < 4; ++n) {
      const float2 x = __bfloat1622float2(p[n]);
      bs[i * ldb + j + 2 * n] = x.x * kLog2e;
      bs[i * ldb + j + 2 * n + 1] = x.y * kLog2e;
    }
  }
  __syncthreads();
  const int segs = blockDim.x / nd, rows = kBT / segs;
  const int col = threadIdx.x % nd, seg = threadIdx.x / nd, r0 = seg * rows;
  float acc = 0.f;
  for (int i = r0; i < r0 + rows; ++i) {
    acc += bs[i * ldb + col];
    bs[i * ldb + col] = acc;
  }
  __syncthreads();
  float prefix = 0.f;
  for (int s = 0; s < seg; ++s) prefix += bs[((s + 1) * rows - 1) * ldb + col];
  __syncthreads();
  if (seg > 0)
    for (int i = r0; i < r0 + rows; ++i) bs[i * ldb + col] += prefix;
}

// Copies rows [t0, t0+64) of a [B,T,H,X] bf16 tensor (columns c0 .. c0+nc) into
// shared memory dst (row stride ld), zeros past T. nc is a multiple of 8 and
// c0 too, so each thread moves 16 bytes at a time.
__device__ __forceinline__ void load_rows(const ChunkArgs& a, const bf16* src, int X, int b, int h, int t0, int c0,
                                          int nc, bf16* dst, int ld) {
  const int per_row = nc / 8;
#pragma unroll 4
  for (int e = threadIdx.x; e < kBT * per_row; e += blockDim.x) {
    const int i = e / per_row, j = (e % per_row) * 8;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (t0 + i < a.T) val = *reinterpret_cast<const uint4*>(src + row_of(a, b, t0 + i, h) * X + c0 + j);
    *reinterpret_cast<uint4*>(dst + i * ld + j) = val;
  }
}

// Copies a rows x nc bf16 block (global row stride gld) into shared memory.
__device__ __forceinline__ void load_block(const bf16* src, int64_t gld, int rows, int nc, bf16* dst, int ld) {
  const int per_row = nc / 8;
#pragma unroll 4
  for (int e = threadIdx.x; e < rows * per_row; e += blockDim.x) {
    const int i = e / per_row, j = (e % per_row) * 8;
    *reinterpret_cast<uint4*>(dst + i * ld + j) = *reinterpret_cast<const uint4*>(src + i * gld + j);
  }
}

// smem_gemm and its triangular shapes (smem_gemm.cuh)
using tile::kTriALower;
using tile::kTriAUpper;
using tile::kTriCLower;
using tile::kTriNone;
using tile::smem_gemm;
using tile::Tri;

// One 16 x 16 output tile: C = sum over t < nk of A_t B_t, where A_t, B_t are
// the 16 x 16 tiles at a_ptr + t * a_step, b_ptr + t * b_step (for the
// vector gate's per-block products, whose operands are not one matrix).
template <bool A_COL, bool B_COL>
__device__ void warp_tile_gemm(int nk, const bf16* a_ptr, int64_t a_step, int lda, const bf16* b_ptr, int64_t b_step,
                               int ldb, float* C, int ldc) {
  using namespace nvcuda;
  using LA = typename std::conditional<A_COL, wmma::col_major, wmma::row_major>::type;
  using LB = typename std::conditional<B_COL, wmma::col_major, wmma::row_major>::type;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.f);
  for (int t = 0; t < nk; ++t) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, LA> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, LB> fb;
    wmma::load_matrix_sync(fa, a_ptr + t * a_step, lda);
    wmma::load_matrix_sync(fb, b_ptr + t * b_step, ldb);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(C, acc, ldc, wmma::mem_row_major);
}

// Bytes of a shared-memory buffer, rounded up to 128 so every buffer carved
// after it stays aligned for WMMA (32-byte) and 16-byte vector accesses.
__host__ __device__ constexpr int smem_round(int bytes) { return (bytes + 127) / 128 * 128; }

}  // namespace chunked
}  // namespace linea
