// Shared pieces of the chunked delta-rule mixer (mixer_delta_chunked.cu): the
// launch arguments, the gate / beta loads of one chunk, row copies between
// global and shared memory, a shared-memory WMMA GEMM (bf16 operands, f32
// accumulators) and the fp32 inverse of a chunk's unit lower triangular
// matrix T = I + diag(beta) AD.
//
// Conventions, per head bh = b * H + h and chunk c of kC = 64 steps (t0 = 64 c):
//   b_i   cumulative log decay inside the chunk, in log2 units
//         (b_i = log2(e) * sum_{s <= i} g_s), 0 without a gate; rows past T
//         have g = 0, beta = 0 and zero q, k, v, do, so a partial last chunk
//         needs no other masking (its padded rows contribute nothing, and
//         b_63 = b_{L-1}).
//   D_ij  = 2^{b_i - b_j} for j <= i: every exponential is of a difference
//         that is <= 0, so no factor exceeds 1.
//   Scratch rows of a chunk: r = (bh * NC + c) * 64 + i (rows past T are
//   written too, as zeros or garbage-free values, and never read as outputs).
#pragma once

#include <cuda_bf16.h>
#include <mma.h>

#include <cstdint>
#include <type_traits>

#include "async_copy.cuh"
#include "cuda_types.cuh"
#include "mma_sm80.cuh"
#include "smem_gemm.cuh"

namespace linea {
namespace delta_chunked {

constexpr int kC = 64;         // internal chunk length
constexpr int kThreads = 256;  // every kernel: 8 warps (the triangular inverse needs exactly 256)
constexpr float kLog2e = 1.4426950408889634f;

// Everything a kernel reads or writes; absent tensors are nullptr.
struct DeltaArgs {
  int B = 0, T = 0, H = 0, K = 0, V = 0, NC = 0;  // NC = ceil(T / 64)
  float scale = 1;
  bool gated = false;  // scalar gate g [B,T,H]
  const bf16 *q = nullptr, *k = nullptr, *v = nullptr, *g = nullptr, *beta = nullptr, *s0 = nullptr;
  const bf16 *dout = nullptr, *ds_final = nullptr;
  bf16 *o = nullptr, *s_final = nullptr;
  bf16 *dq = nullptr, *dk = nullptr, *dv = nullptr, *dg = nullptr, *dbeta = nullptr, *ds0 = nullptr;
  // Scratch, by chunk rows (see above): w [rows, K] = W = T^-1 diag(beta 2^b) K,
  // ut [rows, V] = T^-1 diag(beta) V, u [rows, V] = U = ut - W S (the new values),
  // du [rows, V] its gradient; hs [BH, NC, K, V] the state entering each chunk,
  // dhs [BH, NC, K, V] the gradient of the state leaving each chunk; dkp [rows, K]
  // and dbp [rows] the partial dk and gate gradient of the dq/dk kernel.
  // kh [rows, K] = diag(2^{b_63 - b}) K and decay [BH, NC] = 2^{b_63} (prep_kernel);
  // qt [rows, K] = scale diag(2^b) Q (bwd_prep_kernel, which also starts du as scale Pᵀ dO).
  bf16 *w = nullptr, *ut = nullptr, *u = nullptr, *du = nullptr, *hs = nullptr, *dhs = nullptr;
  bf16 *kh = nullptr, *qt = nullptr;
  float *dkp = nullptr, *dbp = nullptr, *decay = nullptr;
};

// Row offset of (b, t, h) in a [B, T, H, X] tensor, in rows of X.
__device__ __forceinline__ int64_t row_of(const DeltaArgs& a, int b, int t, int h) {
  return (int64_t(b) * a.T + t) * a.H + h;
}

// First scratch row of chunk c of head bh.
__device__ __forceinline__ int64_t chunk_row0(const DeltaArgs& a, int bh, int c) {
  return (int64_t(bh) * a.NC + c) * kC;
}

// sb[0..63] = cumulative log2 decay of the chunk at t0 (warp 0, a shuffle
// scan); sbeta[0..63] = beta, 0 past T (warp 1; skipped for nullptr). The
// caller syncs afterwards.
__device__ __forceinline__ void chunk_gates(const DeltaArgs& a, int b, int h, int t0, float* sb, float* sbeta) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (warp == 0) {
    float lo = 0.f, hi = 0.f;
    if (a.gated) {
      if (t0 + lane < a.T) lo = __bfloat162float(a.g[row_of(a, b, t0 + lane, h)]);
      if (t0 + 32 + lane < a.T) hi = __bfloat162float(a.g[row_of(a, b, t0 + 32 + lane, h)]);
      for (int off = 1; off < 32; off <<= 1) {
        const float l = __shfl_up_sync(0xffffffffu, lo, off), u = __shfl_up_sync(0xffffffffu, hi, off);
        if (lane >= off) lo += l, hi += u;
      }
      hi += __shfl_sync(0xffffffffu, lo, 31);
    }
    sb[lane] = lo * kLog2e;
    sb[32 + lane] = hi * kLog2e;
  } else if (warp == 1 && sbeta != nullptr) {
    sbeta[lane] = t0 + lane < a.T ? __bfloat162float(a.beta[row_of(a, b, t0 + lane, h)]) : 0.f;
    sbeta[32 + lane] = t0 + 32 + lane < a.T ? __bfloat162float(a.beta[row_of(a, b, t0 + 32 + lane, h)]) : 0.f;
  }
}

// Starts copying rows [t0, t0+64) of a [B,T,H,X] bf16 tensor (columns c0 .. c0+nc)
// into shared memory dst (row stride ld), zeros past T; 16 bytes a copy.
__device__ __forceinline__ void load_rows(const DeltaArgs& a, const bf16* src, int X, int b, int h, int t0, int c0,
                                          int nc, bf16* dst, int ld) {
  const int per_row = nc / 8;
  for (int e = threadIdx.x; e < kC * per_row; e += blockDim.x) {
    const int i = e / per_row, j = (e % per_row) * 8;
    const bool valid = t0 + i < a.T;
    cp_async16(dst + i * ld + j, valid ? src + row_of(a, b, t0 + i, h) * X + c0 + j : src, valid);
  }
}

// Starts copying a rows x nc bf16 block (global row stride gld) into shared memory.
__device__ __forceinline__ void load_block(const bf16* src, int64_t gld, int rows, int nc, bf16* dst, int ld) {
  const int per_row = nc / 8;
  for (int e = threadIdx.x; e < rows * per_row; e += blockDim.x) {
    const int i = e / per_row, j = (e % per_row) * 8;
    cp_async16(dst + i * ld + j, src + i * gld + j, true);
  }
}

// smem_gemm and its triangular shapes (smem_gemm.cuh)
using tile::kTriALower;
using tile::kTriAUpper;
using tile::kTriCLower;
using tile::kTriNone;
using tile::smem_gemm;
using tile::Tri;

__device__ __forceinline__ float warp_sum(float x) {
  for (int off = 16; off > 0; off >>= 1) x += __shfl_xor_sync(0xffffffffu, x, off);
  return x;
}

// The chunk's T = I + diag(beta) AD (AD_ij = gated key scores for j < i, f32
// in shared memory, row stride lda; entries on and above the diagonal are not
// read) is unit lower triangular; its inverse Ti is found by forward
// substitution, column by column: Ti_ic = delta_ic - beta_i sum_{j<i} AD_ij Ti_jc.
// Thread tid works on column tid / 4 with 3 partners; x[m] = Ti[4 m + tid % 4][tid / 4]
// (zero above the diagonal). All in f32: strong betas (up to 2) make T
// ill-conditioned, and this is the one solve of the chunk. Needs 256 threads.
__device__ __forceinline__ void unit_lower_inverse(const float* AD, int lda, const float* sbeta, float (&x)[16]) {
  const int col = threadIdx.x >> 2, part = threadIdx.x & 3;
#pragma unroll
  for (int m = 0; m < 16; ++m) x[m] = 0.f;
#pragma unroll
  for (int i = 0; i < kC; ++i) {
    float s = 0.f;
#pragma unroll
    for (int m = 0; m < (i + 3) / 4; ++m) {
      const int j = 4 * m + part;
      if (j < i) s += AD[i * lda + j] * x[m];
    }
    s += __shfl_xor_sync(0xffffffffu, s, 1);
    s += __shfl_xor_sync(0xffffffffu, s, 2);
    const float val = (i == col ? 1.f : 0.f) - sbeta[i] * s;
    if ((i & 3) == part) x[i >> 2] = val;
  }
}

// C (rows r0 .. r0+15 of X, against rows c0 .. c0+15 of Y) (+)= X Yᵀ over D
// columns: C[n] is the n-tile of columns c0 + 8 n .. +7.
template <int D>
__device__ __forceinline__ void block_x_yt(const bf16* X, int ldx, int r0, const bf16* Y, int ldy, int c0,
                                           float (&C)[2][4]) {
  using namespace mma;
#pragma unroll
  for (int kc = 0; kc < D / 16; ++kc) {
    unsigned xa[4], yb[4];
    ldmatrix_x4(xa, a_rows(X, ldx, r0, 16 * kc));
    ldmatrix_x4(yb, b_rows(Y, ldy, c0, 16 * kc));
    mma_bf16(C[0], xa, yb[0], yb[1]);
    mma_bf16(C[1], xa, yb[2], yb[3]);
  }
}

// The 16 x 16 blocks of a chunk's lower triangle (i block >= j block) that
// warp w owns in the kernels that split it: i block w % 4, and the j blocks
// lo .. hi of its column half w / 4 (cb < 2 for half 0, cb >= 2 for half 1;
// none when lo > hi), at most two per warp.
struct TriangleBlocks {
  int lo, hi;
};
__device__ __forceinline__ TriangleBlocks triangle_blocks() {
  const int warp = threadIdx.x / 32, rg = warp % 4, ch = warp / 4;
  return {ch ? 2 : 0, ch ? rg : min(rg, 1)};
}

// The strict lower triangle of AD = (K Kᵀ) ∘ D (f32, row stride lda; zeros on
// and above the diagonal of the diagonal blocks, blocks above them untouched)
// from K (64 x KD bf16, row stride ldk) and the cumulative log2 gates sb. Warp
// w computes its triangle_blocks. The caller syncs.
template <int KD>
__device__ __forceinline__ void decayed_key_scores(const bf16* Ks, int ldk, const float* sb, float* As, int lda) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q2 = 2 * (lane % 4);
  const int r0 = 16 * (warp % 4), ra = r0 + g, rb = ra + 8;
  const TriangleBlocks blocks = triangle_blocks();
  for (int cb = blocks.lo; cb <= blocks.hi; ++cb) {
    float C[2][4] = {};
    block_x_yt<KD>(Ks, ldk, r0, Ks, ldk, 16 * cb, C);
#pragma unroll
    for (int n = 0; n < 2; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = e < 2 ? ra : rb, j = 16 * cb + 8 * n + q2 + (e & 1);
        As[i * lda + j] = j < i ? C[n][e] * exp2f(sb[i] - sb[j]) : 0.f;
      }
  }
}

// Stores x = hi + lo as two bf16 values: products with a split operand keep
// about 16 bits of its mantissa instead of 8.
__device__ __forceinline__ void split_bf16(float x, bf16* hi, bf16* lo) {
  const bf16 h = __float2bfloat16_rn(x);
  *hi = h;
  *lo = __float2bfloat16_rn(x - __bfloat162float(h));
}

// Bytes of a shared-memory buffer, rounded up to 128 so every buffer carved
// after it stays aligned for WMMA (32-byte) and 16-byte vector accesses.
__host__ __device__ constexpr int smem_round(int bytes) { return (bytes + 127) / 128 * 128; }
__host__ __device__ constexpr int cmax(int x, int y) { return x > y ? x : y; }

// Converts 8 consecutive f32 values to bf16 and stores them (16 bytes) at dst and dst2.
__device__ __forceinline__ void store8_bf16(const float* src, bf16* dst, bf16* dst2) {
  uint4 u;
  __nv_bfloat162* p = reinterpret_cast<__nv_bfloat162*>(&u);
#pragma unroll
  for (int n = 0; n < 4; ++n) p[n] = __floats2bfloat162_rn(src[2 * n], src[2 * n + 1]);
  *reinterpret_cast<uint4*>(dst) = u;
  *reinterpret_cast<uint4*>(dst2) = u;
}

}  // namespace delta_chunked
}  // namespace linea
