// The sequential pass of the chunked mixer over the chunks of one head: the
// only loop that runs along T. One block per (64 key dims, 64 value columns,
// head) keeps its 64 x 64 tile of the state in shared memory (f32) and, per
// chunk, stores it (bf16) before adding the chunk.
//
//   forward (REV = false): S <- diag(2^{b_L}) S + K̂ᵀ V,  K̂_j = k_j ⊙ 2^{b_L - b_j};
//     S starts at s0 (or 0); hs slot c gets the state entering chunk c, slot NC the
//     final state (also written to s_final when asked).
//   reverse (REV = true): dS <- diag(2^{b_L}) dS + Q̃ᵀ dO,  Q̃_i = scale q_i ⊙ 2^{b_i};
//     dS starts at ds_final (or 0) at the last chunk; dhs slot c gets the gradient of
//     the state leaving chunk c (ds0 gets the final dS). With a gate it also stores
//     rpart = rowsum(dhs_c ⊙ hs_{c+1}), the gate gradient of the chunk's last row.
//
// Shapes: X (k or q) and Y (v or do) tiles 64 rows x 64 cols bf16; S 64 x 64 f32.
#pragma once

#include "mixer_chunked_common.cuh"

namespace linea {
namespace chunked {

constexpr int kScanLd = 72;   // bf16 tile row stride (64 + 8: WMMA-aligned, fewer bank conflicts)
constexpr int kScanLdS = 68;  // f32 state row stride
constexpr int kScanLdB = 65;  // f32 gate row stride (vector kind)

constexpr int scan_smem_bytes(int G) {
  return 2 * smem_round(kBT * kScanLd * 2) + smem_round(64 * kScanLdS * 4) +
         smem_round((G == kGateVector ? kBT * kScanLdB : kBT) * 4) + smem_round(64 * 4);
}

// Grid (K / 64, V / 64, B * H), 128 threads.
template <int G, bool REV>
__global__ void __launch_bounds__(128) scan_kernel(ChunkArgs a) {
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Xs = reinterpret_cast<bf16*>(smem);
  bf16* Ys = Xs + smem_round(kBT * kScanLd * 2) / 2;
  float* Ss = reinterpret_cast<float*>(Ys + smem_round(kBT * kScanLd * 2) / 2);
  float* bs = Ss + smem_round(64 * kScanLdS * 4) / 4;
  float* decay = bs + smem_round((G == kGateVector ? kBT * kScanLdB : kBT) * 4) / 4;

  const int d0 = blockIdx.x * 64, v0 = blockIdx.y * 64, bh = blockIdx.z;
  const int b = bh / a.H, h = bh % a.H;
  const int K = a.K, V = a.V, NC = a.NC, tid = threadIdx.x;
  const int64_t KV = int64_t(K) * V;
  const int vtiles = V / 64;

  // Initial state tile.
  const bf16* init = REV ? a.ds_final : a.s0;
  for (int e = tid; e < 64 * 64; e += blockDim.x) {
    const int r = e / 64, col = e % 64;
    Ss[r * kScanLdS + col] = init ? __bfloat162float(init[bh * KV + int64_t(d0 + r) * V + v0 + col]) : 0.f;
  }
  __syncthreads();

  for (int step = 0; step < NC; ++step) {
    const int c = REV ? NC - 1 - step : step;
    const int t0 = c * kBT;
    // (1) Store the state (bf16, two columns per thread).
    bf16* slot = REV ? a.dhs + (int64_t(bh) * NC + c) * KV : a.hs + (int64_t(bh) * (NC + 1) + c) * KV;
    for (int e = tid; e < 64 * 32; e += blockDim.x) {
      const int r = e / 32, col = (e % 32) * 2;
      *reinterpret_cast<__nv_bfloat162*>(slot + int64_t(d0 + r) * V + v0 + col) =
          __floats2bfloat162_rn(Ss[r * kScanLdS + col], Ss[r * kScanLdS + col + 1]);
    }
    if (REV && G != kGateNone) {
      // rpart[bh, c, v-tile, d] = sum_v dS[d, v] h_{c+1}[d, v]: one warp per row, lanes over v.
      const bf16* next = a.hs + (int64_t(bh) * (NC + 1) + c + 1) * KV;
      const int warp = tid / 32, lane = tid % 32;
      for (int r = warp; r < 64; r += blockDim.x / 32) {
        const float2 hn = __bfloat1622float2(
            *reinterpret_cast<const __nv_bfloat162*>(next + int64_t(d0 + r) * V + v0 + 2 * lane));
        float s = Ss[r * kScanLdS + 2 * lane] * hn.x + Ss[r * kScanLdS + 2 * lane + 1] * hn.y;
        for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
        if (lane == 0) a.rpart[((int64_t(bh) * NC + c) * vtiles + blockIdx.y) * K + d0 + r] = s;
      }
    }
    // (2) Gates of this chunk.
    if (G == kGateScalar) scalar_cumsum(a, b, h, t0, bs);
    if (G == kGateVector) vector_cumsum(a, b, h, t0, d0, 64, bs, kScanLdB);
    __syncthreads();
    if (G != kGateNone && tid < 64) decay[tid] = exp2f(G == kGateVector ? bs[(kBT - 1) * kScanLdB + tid] : bs[kBT - 1]);
    // (3) X with its factor, Y as is. Rows past T are zero.
    const bf16* xsrc = REV ? a.q : a.k;
    const bf16* ysrc = REV ? a.dout : a.v;
    load_rows(a, ysrc, V, b, h, t0, v0, 64, Ys, kScanLd);
    for (int e = tid; e < kBT * 32; e += blockDim.x) {
      const int i = e / 32, j = (e % 32) * 2;
      float2 x = make_float2(0.f, 0.f);
      if (t0 + i < a.T)
        x = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(xsrc + row_of(a, b, t0 + i, h) * K + d0 + j));
      float f0 = 1.f, f1 = 1.f;
      if (G == kGateScalar) f0 = f1 = REV ? exp2f(bs[i]) : exp2f(bs[kBT - 1] - bs[i]);
      if (G == kGateVector) {
        const float* bi = bs + i * kScanLdB + j;
        const float* bl = bs + (kBT - 1) * kScanLdB + j;
        f0 = REV ? exp2f(bi[0]) : exp2f(bl[0] - bi[0]);
        f1 = REV ? exp2f(bi[1]) : exp2f(bl[1] - bi[1]);
      }
      if (REV) f0 *= a.scale, f1 *= a.scale;
      *reinterpret_cast<__nv_bfloat162*>(Xs + i * kScanLd + j) = __floats2bfloat162_rn(x.x * f0, x.y * f1);
    }
    __syncthreads();
    // (4) Decay the state rows (row r is key dim d0 + r).
    if (G != kGateNone)
      for (int e = tid; e < 64 * 64; e += blockDim.x) Ss[(e / 64) * kScanLdS + e % 64] *= decay[e / 64];
    __syncthreads();
    // (5) S (64 x 64) += Xᵀ (64 x kBT) Y (kBT x 64).
    smem_gemm<true, false>(64, 64, kBT, Xs, kScanLd, Ys, kScanLd, Ss, kScanLdS, true);
    __syncthreads();
  }

  // The final state (forward: also hs slot NC, read by the backward).
  bf16* fin = REV ? a.ds0 : a.s_final;
  bf16* last = REV ? nullptr : a.hs + (int64_t(bh) * (NC + 1) + NC) * KV;
  for (int e = tid; e < 64 * 64; e += blockDim.x) {
    const int r = e / 64, col = e % 64;
    const bf16 val = __float2bfloat16_rn(Ss[r * kScanLdS + col]);
    const int64_t at = int64_t(d0 + r) * V + v0 + col;
    if (fin) fin[bh * KV + at] = val;
    if (last) last[at] = val;
  }
}

}  // namespace chunked
}  // namespace linea
