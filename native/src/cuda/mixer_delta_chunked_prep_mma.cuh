// The chunked delta rule's WY form per chunk with register fragments: the
// products of prep_kernel (mixer_delta_chunked_fwd.cuh) with mma.sync
// fragments (mma_sm80.cuh) instead of WMMA tiles staged in f32 shared memory:
//   AD = (K Kᵀ) ∘ D (j < i, f32), Ti = (I + diag(beta) AD)^-1 (the f32 forward
//   substitution), M1 = Ti diag(beta), M2 = Ti diag(beta 2^b) as bf16 hi + lo,
//   Ut = M1 V, W = M2 K (both products over M's lower triangle),
//   Kh = diag(2^{b_63 - b}) K, decay = 2^{b_63}.
// Warp w owns rows 16 (w % 4) .. +15 and one column half (w / 4) of Ut and W;
// the blocks of AD go to the halves as in decayed_key_scores. AD and the four M
// matrices share one region, so about 71 KiB of shared memory at K = V = 128:
// three blocks of 8 warps per SM (prep_kernel: 104 KiB, two).
//
// The default (LINEA_DELTA_KERNELS=wmma keeps the older kernel): checked by
// the cross-backend test and racecheck on an H200; timings in
// bench/gpu/README.md (seventh session).
#pragma once

#include "mixer_delta_chunked_common.cuh"
#include "mma_sm80.cuh"

namespace linea {
namespace delta_chunked {

template <int KD, int VD>
struct PrepMmaLayout {
  static constexpr int LDK = KD + 8, LDV = VD + 8, LDA = kC + 4, LDT = kC + 8;
  static constexpr int ks = 0;
  static constexpr int vs = ks + smem_round(kC * LDK * 2);
  // AD (f32) until the inverse is done, then M1 hi, M1 lo, M2 hi, M2 lo (bf16).
  static constexpr int ms = vs + smem_round(kC * LDV * 2);
  static constexpr int m_size = smem_round(kC * LDT * 2);
  static constexpr int bs = ms + cmax(smem_round(kC * LDA * 4), 4 * m_size);
  static constexpr int bytes = bs + smem_round(2 * kC * 4);
};

// Grid (NC, B*H), kThreads threads. Writes w, ut and kh (all 64 rows; padded
// rows are zeros since beta = 0 and k = 0 there) and decay.
template <int KD, int VD>
__global__ void __launch_bounds__(kThreads, 3) prep_mma_kernel(DeltaArgs a) {
  using L = PrepMmaLayout<KD, VD>;
  using namespace mma;
  constexpr int LDK = L::LDK, LDV = L::LDV, LDA = L::LDA, LDT = L::LDT;
  constexpr int NK = KD / 16, NV = VD / 16;  // 8-column n-tiles of a column half
  constexpr int MS = L::m_size / 2;          // elements between the M matrices
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Ks = reinterpret_cast<bf16*>(smem + L::ks);
  bf16* Vs = reinterpret_cast<bf16*>(smem + L::vs);
  float* As = reinterpret_cast<float*>(smem + L::ms);
  bf16* Ms = reinterpret_cast<bf16*>(smem + L::ms);  // M1 hi, M1 lo, M2 hi, M2 lo
  float* sb = reinterpret_cast<float*>(smem + L::bs);
  float* sbeta = sb + kC;

  const int c = blockIdx.x, bh = blockIdx.y, b = bh / a.H, h = bh % a.H, t0 = c * kC;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, q2 = 2 * (lane % 4);
  const int rg = warp % 4, r0 = 16 * rg, ch = warp / 4;
  const int ra = r0 + g, rb = ra + 8;
  const int64_t row0 = chunk_row0(a, bh, c);

  chunk_gates(a, b, h, t0, sb, sbeta);
  load_rows(a, a.k, KD, b, h, t0, 0, KD, Ks, LDK);
  load_rows(a, a.v, VD, b, h, t0, 0, VD, Vs, LDV);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();

  decayed_key_scores<KD>(Ks, LDK, sb, As, LDA);
  // Kh and decay need only K and the gates.
  const float b_last = sb[kC - 1];
  for (int e = tid; e < kC * KD / 2; e += kThreads) {
    const int i = e / (KD / 2), d = 2 * (e % (KD / 2));
    const float2 k = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(Ks + i * LDK + d));
    const float f = exp2f(b_last - sb[i]);
    *reinterpret_cast<unsigned*>(a.kh + (row0 + i) * KD + d) = pack_bf16(k.x * f, k.y * f);
  }
  if (tid == 0) a.decay[int64_t(bh) * a.NC + c] = exp2f(b_last);
  __syncthreads();
  {
    float x[16];
    unit_lower_inverse(As, LDA, sbeta, x);
    __syncthreads();  // every thread is done reading AD
    const int col = tid >> 2, part = tid & 3;
    const float f1 = sbeta[col], f2 = f1 * exp2f(sb[col]);
#pragma unroll
    for (int m = 0; m < 16; ++m) {
      const int idx = (4 * m + part) * LDT + col;
      split_bf16(x[m] * f1, Ms + idx, Ms + MS + idx);
      split_bf16(x[m] * f2, Ms + 2 * MS + idx, Ms + 3 * MS + idx);
    }
  }
  __syncthreads();

  // out (rows r0, columns c0 .. of a half) = M (lower triangular) X, M = hi + lo.
  float acc[8][4];
  auto product = [&](const bf16* Mh, const bf16* X, int ldx, int c0, int n2s) {
#pragma unroll
    for (int n = 0; n < 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      if (kk > rg) continue;
      unsigned mh[4], ml[4];
      ldmatrix_x4(mh, a_rows(Mh, LDT, r0, 16 * kk));
      ldmatrix_x4(ml, a_rows(Mh + MS, LDT, r0, 16 * kk));
#pragma unroll
      for (int n2 = 0; n2 < 4; ++n2) {
        if (n2 >= n2s) continue;
        unsigned xb[4];
        ldmatrix_x4_trans(xb, kn_rows(X, ldx, 16 * kk, c0 + 16 * n2));
        mma_bf16(acc[2 * n2], mh, xb[0], xb[1]);
        mma_bf16(acc[2 * n2 + 1], mh, xb[2], xb[3]);
        mma_bf16(acc[2 * n2], ml, xb[0], xb[1]);
        mma_bf16(acc[2 * n2 + 1], ml, xb[2], xb[3]);
      }
    }
  };
  auto store = [&](bf16* dst, int X, int c0, int ntiles) {
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      if (n >= ntiles) continue;
      const int col = c0 + 8 * n + q2;
      *reinterpret_cast<unsigned*>(dst + (row0 + ra) * X + col) = pack_bf16(acc[n][0], acc[n][1]);
      *reinterpret_cast<unsigned*>(dst + (row0 + rb) * X + col) = pack_bf16(acc[n][2], acc[n][3]);
    }
  };
  const int v0 = ch * VD / 2, d0 = ch * KD / 2;
  product(Ms, Vs, LDV, v0, NV / 2);  // Ut = M1 V
  store(a.ut, VD, v0, NV);
  product(Ms + 2 * MS, Ks, LDK, d0, NK / 2);  // W = M2 K
  store(a.w, KD, d0, NK);
}

}  // namespace delta_chunked
}  // namespace linea
