// The chunked mixer's forward in one pass (no gate, fixed or scalar gate):
// a block owns one head and 64 columns of V and walks the chunks in order,
// the K x 64 state in registers, so the per-chunk states are never written
// (the two-kernel forward stores all of them, hs, and reads them back).
//
// Per chunk c (rows t0 .. t0+63; b the cumulative log2 gates, L the last row):
//   O   = scale (diag(2^{b}) Q S + P V),  P_ij = (q_i · k_j) 2^{b_i - b_j} for j <= i
//   S  <- 2^{b_L} S + Kᵀ V̂,              V̂_j = 2^{b_L - b_j} v_j
// Every factor is 2^{x} with x <= 0 (mixer_chunked_common.cuh).
//
// Four warps, each owning 16 rows of the chunk for the output and K / 4 rows
// of the state. Everything goes through mma.sync m16n8k16 with register
// fragments (mma_sm80.cuh): the scores' accumulators become P's A fragments
// without leaving registers, Q S reads a bf16 copy of the state that the
// block keeps in shared memory (as the two-kernel form reads hs, bf16), and
// the state update accumulates in f32 registers across the whole sequence.
// q, k, v of the next chunk load with cp.async while this one computes.
//
// Blocks: (V / 64) * B * H; mixer_chunked.cu (use_fused_fwd) takes it when
// they give every SM one. With fewer heads T is cut into segments of chunks
// (split-T, opt-in until the GPU box has timed it): kSegState walks each
// segment from a zero state and keeps only its final state (no output);
// segment_prefix_kernel chains those into the state entering each segment;
// kSegOut is the one pass over each segment from that state.
#pragma once

#include "async_copy.cuh"
#include "mixer_chunked_common.cuh"
#include "mma_sm80.cuh"

namespace linea {
namespace chunked {

constexpr int kFusedThreads = 128;
constexpr int kFusedVT = 64;  // columns of V per block

// What a block of fused_fwd_kernel does: all of T from s0 (kFull), or one
// segment of chunks (blockIdx.z), either only its state from zero (kSegState,
// into seg_out, its total log2 decay into seg_decay) or its output from the
// state entering it (kSegOut, from seg_in).
enum FusedMode : int { kFull = 0, kSegState = 1, kSegOut = 2 };

// Shared memory (bytes): two stages of q, k (64 x KD) and v (64 x 64), the
// bf16 state (KD x 64) and the chunk's cumulative gates. Rows are padded by 8
// bf16 so the 8 rows of an ldmatrix phase fall in distinct bank groups.
template <int KD>
struct FusedFwdLayout {
  static constexpr int LDK = KD + 8, LDV = kFusedVT + 8;
  static constexpr int qs = 0;
  static constexpr int ks = qs + smem_round(kBT * LDK * 2);
  static constexpr int vs = ks + smem_round(kBT * LDK * 2);
  static constexpr int stage = vs + smem_round(kBT * LDV * 2);
  static constexpr int Sb = 2 * stage;
  static constexpr int bs = Sb + smem_round(KD * LDV * 2);
  static constexpr int bytes = bs + smem_round(kBT * 4);
};

// Grid (V / 64, B * H, segments), kFusedThreads threads. G: kGateNone or kGateScalar.
template <int G, int KD, int MODE>
__global__ void __launch_bounds__(kFusedThreads, 2) fused_fwd_kernel(ChunkArgs a) {
  using L = FusedFwdLayout<KD>;
  using namespace mma;
  constexpr int LDK = L::LDK, LDV = L::LDV;
  constexpr int RW = KD / 4, MW = RW / 16;  // state rows per warp, and their 16-row tiles
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Sb = reinterpret_cast<bf16*>(smem + L::Sb);
  float* bs = reinterpret_cast<float*>(smem + L::bs);
  auto qs_of = [&](int st) { return reinterpret_cast<bf16*>(smem + st * L::stage + L::qs); };
  auto ks_of = [&](int st) { return reinterpret_cast<bf16*>(smem + st * L::stage + L::ks); };
  auto vs_of = [&](int st) { return reinterpret_cast<bf16*>(smem + st * L::stage + L::vs); };

  const int v0 = blockIdx.x * kFusedVT, bh = blockIdx.y, b = bh / a.H, h = bh % a.H;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, q2 = 2 * (lane % 4);
  const int64_t KV = int64_t(KD) * a.V;
  // This block's chunks [c_begin, NC).
  const int seg = MODE == kFull ? 0 : int(blockIdx.z);
  const int c_begin = MODE == kFull ? 0 : seg * a.seg_chunks;
  const int NC = MODE == kFull ? a.NC : min(a.NC, c_begin + a.seg_chunks);
  const int64_t seg_slot = (int64_t(bh) * a.segs + seg) * KV;  // this segment's K x V state in seg_in / seg_out

  // Starts loading chunk c into stage st (one cp.async group per thread).
  auto issue = [&](int c, int st) {
    const int t0 = c * kBT;
    constexpr int KG = KD / 8;  // 16-byte groups per row of q, k
    for (int e = tid; e < kBT * KG; e += kFusedThreads) {
      const int i = e / KG, j = (e % KG) * 8;
      const bool valid = t0 + i < a.T;
      const int64_t r = valid ? row_of(a, b, t0 + i, h) : 0;
      if (MODE != kSegState) cp_async16(qs_of(st) + i * LDK + j, a.q + r * KD + j, valid);
      cp_async16(ks_of(st) + i * LDK + j, a.k + r * KD + j, valid);
    }
    for (int e = tid; e < kBT * 8; e += kFusedThreads) {
      const int i = e / 8, j = (e % 8) * 8;
      const bool valid = t0 + i < a.T;
      const int64_t r = valid ? row_of(a, b, t0 + i, h) : 0;
      cp_async16(vs_of(st) + i * LDV + j, a.v + r * a.V + v0 + j, valid);
    }
    cp_async_commit();
  };
  // Scalar gates are strided ([B, T, H] or [H]): warp 0 keeps the next chunk's in registers.
  float g_lo = 0.f, g_hi = 0.f, n_lo = 0.f, n_hi = 0.f;
  auto gates_of = [&](int c, float& lo, float& hi) {
    if (G != kGateScalar || warp != 0) return;
    lo = scalar_gate(a, b, c * kBT + lane, h);
    hi = scalar_gate(a, b, c * kBT + 32 + lane, h);
  };
  if (c_begin < NC) {
    issue(c_begin, c_begin & 1);
    gates_of(c_begin, g_lo, g_hi);
  }

  // The state: this warp's rows d = RW warp + 16 m + (g, g + 8), columns 8 n + q2 (+1).
  float S[MW][8][4];
  const int d_base = RW * warp;
#pragma unroll
  for (int m = 0; m < MW; ++m)
#pragma unroll
    for (int n = 0; n < 8; ++n)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        float2 x = make_float2(0.f, 0.f);
        const int64_t at = int64_t(d_base + 16 * m + g + 8 * half) * a.V + v0 + 8 * n + q2;
        if (MODE == kFull && a.s0)
          x = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(a.s0 + bh * KV + at));
        if (MODE == kSegOut) x = *reinterpret_cast<const float2*>(a.seg_in + seg_slot + at);
        S[m][n][2 * half] = x.x, S[m][n][2 * half + 1] = x.y;
      }
  // Its bf16 copy for Q S (rows of this warp only; the loop's first sync publishes it).
  auto publish_state = [&]() {
#pragma unroll
    for (int m = 0; m < MW; ++m)
#pragma unroll
      for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int d = d_base + 16 * m + g + 8 * half;
          *reinterpret_cast<unsigned*>(Sb + d * LDV + 8 * n + q2) = pack_bf16(S[m][n][2 * half], S[m][n][2 * half + 1]);
        }
  };
  publish_state();

  const int i0 = 16 * warp;  // this warp's output rows inside the chunk
  float log2_decay = 0.f;    // kSegState: the segment's total, sum of each chunk's b_L
  for (int c = c_begin; c < NC; ++c) {
    const int st = c & 1, t0 = c * kBT;
    __syncthreads();  // the previous chunk is done with the other stage, bs, and Sb is published
    if (c + 1 < NC) {
      issue(c + 1, st ^ 1);
      gates_of(c + 1, n_lo, n_hi);
    } else {
      cp_async_commit();  // an empty group keeps the wait below counting the same way
    }
    cp_async_wait<1>();
    if (G == kGateScalar && warp == 0) {
      float lo = g_lo, hi = g_hi;
      for (int off = 1; off < 32; off <<= 1) {
        const float l = __shfl_up_sync(0xffffffffu, lo, off), u = __shfl_up_sync(0xffffffffu, hi, off);
        if (lane >= off) lo += l, hi += u;
      }
      hi += __shfl_sync(0xffffffffu, lo, 31);
      bs[lane] = lo * kLog2e;
      bs[32 + lane] = hi * kLog2e;
    }
    __syncthreads();  // every thread's copies have landed; bs is complete
    const bf16* Qs = qs_of(st);
    const bf16* Ks = ks_of(st);
    bf16* Vs = vs_of(st);
    auto bv = [&](int i) { return G == kGateScalar ? bs[i] : 0.f; };

    if constexpr (MODE != kSegState) {
      // ---- scores of rows i0 .. i0+15 against keys 0 .. i0+15 -------------------
      float P[8][4];
#pragma unroll
      for (int n = 0; n < 8; ++n) P[n][0] = P[n][1] = P[n][2] = P[n][3] = 0.f;
#pragma unroll
      for (int kc = 0; kc < KD / 16; ++kc) {
        unsigned qa[4];
        ldmatrix_x4(qa, a_rows(Qs, LDK, i0, 16 * kc));
#pragma unroll
        for (int n2 = 0; n2 < 4; ++n2) {
          if (n2 > warp) continue;  // keys past the warp's last row (warp-uniform)
          unsigned kb[4];
          ldmatrix_x4(kb, b_rows(Ks, LDK, 16 * n2, 16 * kc));
          mma_bf16(P[2 * n2], qa, kb[0], kb[1]);
          mma_bf16(P[2 * n2 + 1], qa, kb[2], kb[3]);
        }
      }
      // Causal mask and decay, rounded to bf16 as the A fragments of P V.
      unsigned pa[4][4];
      {
        const int ia = i0 + g, ib = ia + 8;
        const float ba = bv(ia), bb = bv(ib);
#pragma unroll
        for (int n = 0; n < 8; ++n) {
          const int j = 8 * n + q2;
          float p[4];
          p[0] = j <= ia ? P[n][0] * (G == kGateScalar ? fast_exp2(ba - bv(j)) : 1.f) : 0.f;
          p[1] = j + 1 <= ia ? P[n][1] * (G == kGateScalar ? fast_exp2(ba - bv(j + 1)) : 1.f) : 0.f;
          p[2] = j <= ib ? P[n][2] * (G == kGateScalar ? fast_exp2(bb - bv(j)) : 1.f) : 0.f;
          p[3] = j + 1 <= ib ? P[n][3] * (G == kGateScalar ? fast_exp2(bb - bv(j + 1)) : 1.f) : 0.f;
          // n-tile n is the low (even n) or high (odd n) half of k-step n / 2.
          pa[n / 2][(n % 2) * 2] = pack_bf16(p[0], p[1]);
          pa[n / 2][(n % 2) * 2 + 1] = pack_bf16(p[2], p[3]);
        }
      }

      // ---- O = diag(2^{b}) Q S + P V ------------------------------------------------
      float O[8][4];
#pragma unroll
      for (int n = 0; n < 8; ++n) O[n][0] = O[n][1] = O[n][2] = O[n][3] = 0.f;
#pragma unroll
      for (int kc = 0; kc < KD / 16; ++kc) {
        unsigned qa[4];
        ldmatrix_x4(qa, a_rows(Qs, LDK, i0, 16 * kc));
#pragma unroll
        for (int n2 = 0; n2 < 4; ++n2) {
          unsigned sb[4];
          ldmatrix_x4_trans(sb, kn_rows(Sb, LDV, 16 * kc, 16 * n2));
          mma_bf16(O[2 * n2], qa, sb[0], sb[1]);
          mma_bf16(O[2 * n2 + 1], qa, sb[2], sb[3]);
        }
      }
      if (G == kGateScalar) {
        const float fa = fast_exp2(bv(i0 + g)), fb = fast_exp2(bv(i0 + g + 8));
#pragma unroll
        for (int n = 0; n < 8; ++n) O[n][0] *= fa, O[n][1] *= fa, O[n][2] *= fb, O[n][3] *= fb;
      }
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) {
        if (kk > warp) continue;  // P is zero past the warp's rows (warp-uniform)
        // pa's k-step kk: keys 16 kk .. 16 kk + 15 (the low and high n-tiles as above).
        unsigned pk[4] = {pa[kk][0], pa[kk][1], pa[kk][2], pa[kk][3]};
#pragma unroll
        for (int n2 = 0; n2 < 4; ++n2) {
          unsigned vb[4];
          ldmatrix_x4_trans(vb, kn_rows(Vs, LDV, 16 * kk, 16 * n2));
          mma_bf16(O[2 * n2], pk, vb[0], vb[1]);
          mma_bf16(O[2 * n2 + 1], pk, vb[2], vb[3]);
        }
      }
      // Out, by rows of 16 bytes: the warp's rows of q (no longer read) stage its 16 x 64 output.
      {
        bf16* Os = qs_of(st) + i0 * LDK;
        __syncwarp();
#pragma unroll
        for (int n = 0; n < 8; ++n) {
          *reinterpret_cast<unsigned*>(Os + g * LDK + 8 * n + q2) = pack_bf16(a.scale * O[n][0], a.scale * O[n][1]);
          *reinterpret_cast<unsigned*>(Os + (g + 8) * LDK + 8 * n + q2) =
              pack_bf16(a.scale * O[n][2], a.scale * O[n][3]);
        }
        __syncwarp();
#pragma unroll
        for (int e = lane; e < 16 * 8; e += 32) {
          const int r = e / 8, j = (e % 8) * 8, t = t0 + i0 + r;
          if (t < a.T)
            *reinterpret_cast<uint4*>(a.o + row_of(a, b, t, h) * a.V + v0 + j) =
                *reinterpret_cast<const uint4*>(Os + r * LDK + j);
        }
      }
    }
    __syncthreads();  // every warp is done with Sb and Vs (Q S, P V)

    // ---- S = 2^{b_L} S + Kᵀ V̂ ------------------------------------------------------
    if (G == kGateScalar) {
      const float bl = bv(kBT - 1);
      log2_decay += bl;
      for (int e = tid; e < kBT * 32; e += kFusedThreads) {
        const int j = e / 32, col = (e % 32) * 2;
        __nv_bfloat162* p = reinterpret_cast<__nv_bfloat162*>(Vs + j * LDV + col);
        const float2 x = __bfloat1622float2(*p);
        const float f = fast_exp2(bl - bv(j));
        *p = __floats2bfloat162_rn(x.x * f, x.y * f);
      }
      __syncthreads();
      const float dec = fast_exp2(bl);
#pragma unroll
      for (int m = 0; m < MW; ++m)
#pragma unroll
        for (int n = 0; n < 8; ++n)
#pragma unroll
          for (int r = 0; r < 4; ++r) S[m][n][r] *= dec;
    }
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)
#pragma unroll
      for (int m = 0; m < MW; ++m) {
        unsigned ka[4];
        ldmatrix_x4_trans(ka, at_rows(Ks, LDK, 16 * kk, d_base + 16 * m));
#pragma unroll
        for (int n2 = 0; n2 < 4; ++n2) {
          unsigned vb[4];
          ldmatrix_x4_trans(vb, kn_rows(Vs, LDV, 16 * kk, 16 * n2));
          mma_bf16(S[m][2 * n2], ka, vb[0], vb[1]);
          mma_bf16(S[m][2 * n2 + 1], ka, vb[2], vb[3]);
        }
      }
    if (MODE != kSegState) publish_state();  // Sb's readers finished before the sync above
    g_lo = n_lo, g_hi = n_hi;
  }
  cp_async_wait_all();
  if (MODE == kSegState) {
#pragma unroll
    for (int m = 0; m < MW; ++m)
#pragma unroll
      for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int64_t at = int64_t(d_base + 16 * m + g + 8 * half) * a.V + v0 + 8 * n + q2;
          *reinterpret_cast<float2*>(a.seg_out + seg_slot + at) = make_float2(S[m][n][2 * half], S[m][n][2 * half + 1]);
        }
    if (blockIdx.x == 0 && tid == 0) a.seg_decay[int64_t(bh) * a.segs + seg] = log2_decay;
    return;
  }
  if (a.s_final && (MODE == kFull || seg == a.segs - 1))
#pragma unroll
    for (int m = 0; m < MW; ++m)
#pragma unroll
      for (int n = 0; n < 8; ++n)
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int d = d_base + 16 * m + g + 8 * half;
          *reinterpret_cast<unsigned*>(a.s_final + bh * KV + int64_t(d) * a.V + v0 + 8 * n + q2) =
              pack_bf16(S[m][n][2 * half], S[m][n][2 * half + 1]);
        }
}

// The state entering each segment: seg_in[s] = 2^{seg_decay[s-1]} seg_in[s-1] + seg_out[s-1],
// seg_in[0] = s0 (or zero). One thread per element of a head's K x V state; grid
// over B * H * K * V elements.
__global__ void __launch_bounds__(256) segment_prefix_kernel(ChunkArgs a) {
  const int64_t KV = int64_t(a.K) * a.V, e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= int64_t(a.B) * a.H * KV) return;
  const int64_t bh = e / KV, at = e % KV;
  float state = a.s0 ? __bfloat162float(a.s0[e]) : 0.f;
  for (int s = 0; s < a.segs; ++s) {
    const int64_t slot = (bh * a.segs + s) * KV + at;
    a.seg_in[slot] = state;
    state = fast_exp2(a.seg_decay[bh * a.segs + s]) * state + a.seg_out[slot];
  }
}

}  // namespace chunked
}  // namespace linea
