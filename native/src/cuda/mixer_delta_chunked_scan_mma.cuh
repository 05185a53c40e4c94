// The chunked delta rule's two state scans with the state in register
// fragments: the recurrences of fwd_scan_kernel and bwd_scan_kernel
// (mixer_delta_chunked_fwd.cuh, _bwd.cuh) with mma.sync (mma_sm80.cuh) in
// place of WMMA tiles and the f32 state kept in shared memory.
//   forward, per chunk c:  hs_c = S (bf16);  U = Ut - W S;  S <- 2^{b_63} S + Khᵀ U
//   backward, c reversed:  dhs_c = dS (bf16); dU = scale Pᵀ dO + Kh dS;
//                          dS <- 2^{b_63} dS + Qtᵀ dO - Wᵀ dU
// A block owns one head and VT columns of V (grid (V / VT, B*H)) and four
// warps. Warp w keeps the state's rows (K / 4) w .. +K/4 - 1 in f32 fragments
// across the whole sequence, and computes rows 16 w .. +15 of U (dU); the
// state's bf16 copy and U (dU) pass through shared memory once per chunk as
// the B operands of the other product. The next chunk's operands load with
// cp.async while this one computes, as in the v1 scans. -dU never exists: the
// A fragments of Wᵀ are negated by flipping their bf16 sign bits.
//
// STAGES: 2 keeps two chunks' operands in shared memory (the next one loads
// with cp.async while this one computes); 1 keeps one, loaded after the chunk
// is done, so that more blocks fit on an SM and one block's loads overlap
// another's products instead (ncu, sixteenth session, B = 16, T = 2048, K =
// V = 128: with two stages the backward scan's 137 KiB allowed one block of 4
// warps per SM, 6 % of the SM's warps; the forward's 93 KiB, two). Selected by
// LINEA_DELTA_SCAN_STAGES (mixer_delta_chunked.cu).
//
// The default since the eighth session (LINEA_DELTA_KERNELS=wmma keeps the
// older scans): checked by the cross-backend test on an H200; there the
// forward scan took 0.83 -> 0.38 ms and the reverse 1.17 -> 0.71 ms at
// B = 16, T = 2048, H = 16, K = V = 128 (ncu; bench/gpu/README.md).
#pragma once

#include "mixer_delta_chunked_common.cuh"
#include "mma_sm80.cuh"

namespace linea {
namespace delta_chunked {

constexpr int kScanThreads = 128;

// STAGES stages of NM (64 x KD) matrices and NT (64 x VT) tiles, the bf16
// state (KD x VT) and the chunk's U or dU (64 x VT).
template <int KD, int VT, int NM, int NT, int STAGES>
struct ScanMmaLayout {
  static_assert(STAGES == 1 || STAGES == 2, "one or two stages");
  static constexpr int LDK = KD + 8, LDT = VT + 8;
  static constexpr int mat = smem_round(kC * LDK * 2), tile = smem_round(kC * LDT * 2);
  static constexpr int stage = NM * mat + NT * tile;
  // Chunk c's stage: c's parity with two stages, the only one with one.
  __host__ __device__ static constexpr int stage_of(int c) { return STAGES == 2 ? (c & 1) * stage : 0; }
  static constexpr int sb = STAGES * stage;
  static constexpr int ub = sb + smem_round(KD * LDT * 2);
  static constexpr int bytes = ub + tile;
};

// The state's fragments: rows (K/4) warp + 16 m + g (+8), columns 8 n + q2 (+1) of the tile.
template <int KD, int VT>
struct StateFrags {
  static constexpr int MW = KD / 64, NT = VT / 8;
  float x[MW][NT][4];
};

// Fills the state from a [B,H,K,V] bf16 tensor (nullptr: zeros), columns v0 .. v0+VT.
template <int KD, int VD, int VT>
__device__ __forceinline__ void state_load(StateFrags<KD, VT>& s, const bf16* src, int64_t state0, int v0) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q2 = 2 * (lane % 4);
#pragma unroll
  for (int m = 0; m < StateFrags<KD, VT>::MW; ++m)
#pragma unroll
    for (int n = 0; n < StateFrags<KD, VT>::NT; ++n)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int d = (KD / 4) * warp + 16 * m + g + 8 * half;
        float2 x = make_float2(0.f, 0.f);
        if (src)
          x = __bfloat1622float2(
              *reinterpret_cast<const __nv_bfloat162*>(src + state0 + int64_t(d) * VD + v0 + 8 * n + q2));
        s.x[m][n][2 * half] = x.x, s.x[m][n][2 * half + 1] = x.y;
      }
}

// Writes the state as bf16 into the shared tile Sb (KD x VT, row stride ldt).
template <int KD, int VT>
__device__ __forceinline__ void state_publish(const StateFrags<KD, VT>& s, bf16* Sb, int ldt) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q2 = 2 * (lane % 4);
#pragma unroll
  for (int m = 0; m < StateFrags<KD, VT>::MW; ++m)
#pragma unroll
    for (int n = 0; n < StateFrags<KD, VT>::NT; ++n)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int d = (KD / 4) * warp + 16 * m + g + 8 * half;
        *reinterpret_cast<unsigned*>(Sb + d * ldt + 8 * n + q2) =
            mma::pack_bf16(s.x[m][n][2 * half], s.x[m][n][2 * half + 1]);
      }
}

// Copies a rows x VT bf16 tile from shared memory (row stride ldt) to global
// memory (row stride gld), 16 bytes a thread.
template <int VT>
__device__ __forceinline__ void tile_store(const bf16* src, int ldt, int rows, bf16* dst, int64_t gld) {
  constexpr int G = VT / 8;
  for (int e = threadIdx.x; e < rows * G; e += kScanThreads) {
    const int i = e / G, j = (e % G) * 8;
    *reinterpret_cast<uint4*>(dst + i * gld + j) = *reinterpret_cast<const uint4*>(src + i * ldt + j);
  }
}

// s = decay s + sign * Aᵀ X over the chunk's 64 rows: A (64 x KD, row stride ldk)
// read transposed, X (64 x VT, row stride ldt).
template <int KD, int VT>
__device__ __forceinline__ void state_update(StateFrags<KD, VT>& s, const bf16* A, int ldk, const bf16* X, int ldt,
                                             bool negate) {
  using namespace mma;
  const int warp = threadIdx.x / 32;
  const unsigned flip = negate ? 0x80008000u : 0u;
#pragma unroll
  for (int kk = 0; kk < 4; ++kk)
#pragma unroll
    for (int m = 0; m < StateFrags<KD, VT>::MW; ++m) {
      unsigned aa[4];
      ldmatrix_x4_trans(aa, at_rows(A, ldk, 16 * kk, (KD / 4) * warp + 16 * m));
#pragma unroll
      for (int r = 0; r < 4; ++r) aa[r] ^= flip;
#pragma unroll
      for (int n2 = 0; n2 < VT / 16; ++n2) {
        unsigned xb[4];
        ldmatrix_x4_trans(xb, kn_rows(X, ldt, 16 * kk, 16 * n2));
        mma_bf16(s.x[m][2 * n2], aa, xb[0], xb[1]);
        mma_bf16(s.x[m][2 * n2 + 1], aa, xb[2], xb[3]);
      }
    }
}

template <int KD, int VT>
__device__ __forceinline__ void state_scale(StateFrags<KD, VT>& s, float f) {
#pragma unroll
  for (int m = 0; m < StateFrags<KD, VT>::MW; ++m)
#pragma unroll
    for (int n = 0; n < StateFrags<KD, VT>::NT; ++n)
#pragma unroll
      for (int r = 0; r < 4; ++r) s.x[m][n][r] *= f;
}

// Rows 16 warp .. +15 of Y = base + sign * A Sb (A 64 x KD row stride ldk; Sb KD x VT;
// base 64 x VT bf16 tile), rounded to bf16 into Ys (row stride ldt).
template <int KD, int VT>
__device__ __forceinline__ void rows_plus_product(const bf16* base, const bf16* A, int ldk, const bf16* Sb, int ldt,
                                                  float sign, bf16* Ys) {
  using namespace mma;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q2 = 2 * (lane % 4);
  const int r0 = 16 * warp;
  float acc[VT / 8][4];
#pragma unroll
  for (int n = 0; n < VT / 8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
#pragma unroll
  for (int kc = 0; kc < KD / 16; ++kc) {
    unsigned aa[4];
    ldmatrix_x4(aa, a_rows(A, ldk, r0, 16 * kc));
#pragma unroll
    for (int n2 = 0; n2 < VT / 16; ++n2) {
      unsigned sb[4];
      ldmatrix_x4_trans(sb, kn_rows(Sb, ldt, 16 * kc, 16 * n2));
      mma_bf16(acc[2 * n2], aa, sb[0], sb[1]);
      mma_bf16(acc[2 * n2 + 1], aa, sb[2], sb[3]);
    }
  }
#pragma unroll
  for (int n = 0; n < VT / 8; ++n)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int i = r0 + g + 8 * half, j = 8 * n + q2;
      const float2 x = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(base + i * ldt + j));
      *reinterpret_cast<unsigned*>(Ys + i * ldt + j) =
          pack_bf16(x.x + sign * acc[n][2 * half], x.y + sign * acc[n][2 * half + 1]);
    }
}

// Grid (V / VT, B*H), kScanThreads threads: hs, u (and s_final when asked).
template <int KD, int VD, int VT, int STAGES>
__global__ void __launch_bounds__(kScanThreads) fwd_scan_mma_kernel(DeltaArgs a) {
  using L = ScanMmaLayout<KD, VT, 2, 1, STAGES>;  // W, Kh; Ut
  constexpr int LDK = L::LDK, LDT = L::LDT;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Sb = reinterpret_cast<bf16*>(smem + L::sb);
  bf16* Ub = reinterpret_cast<bf16*>(smem + L::ub);
  auto mat = [&](int c, int n) { return reinterpret_cast<bf16*>(smem + L::stage_of(c) + n * L::mat); };
  auto tile = [&](int c) { return reinterpret_cast<bf16*>(smem + L::stage_of(c) + 2 * L::mat); };
  const int v0 = blockIdx.x * VT, bh = blockIdx.y;
  const int64_t state0 = int64_t(bh) * KD * VD;
  auto issue = [&](int c) {
    const int64_t row0 = chunk_row0(a, bh, c);
    load_block(a.w + row0 * KD, KD, kC, KD, mat(c, 0), LDK);
    load_block(a.kh + row0 * KD, KD, kC, KD, mat(c, 1), LDK);
    load_block(a.ut + row0 * VD + v0, VD, kC, VT, tile(c), LDT);
    cp_async_commit();
  };

  StateFrags<KD, VT> S;
  state_load<KD, VD, VT>(S, a.s0, state0, v0);
  float decay_next = 1.f;
  if (a.NC > 0) issue(0), decay_next = a.decay[int64_t(bh) * a.NC];
  for (int c = 0; c < a.NC; ++c) {
    const float decay = decay_next;
    const int64_t row0 = chunk_row0(a, bh, c);
    cp_async_wait<0>();
    __syncthreads();  // chunk c's operands are in; every warp is done with chunk c-1 (Ub, its stage)
    if (STAGES == 2 && c + 1 < a.NC) issue(c + 1), decay_next = a.decay[int64_t(bh) * a.NC + c + 1];
    state_publish(S, Sb, LDT);
    __syncthreads();
    tile_store<VT>(Sb, LDT, KD, a.hs + (int64_t(bh) * a.NC + c) * KD * VD + v0, VD);
    rows_plus_product<KD, VT>(tile(c), mat(c, 0), LDK, Sb, LDT, -1.f, Ub);  // U = Ut - W S
    __syncthreads();
    tile_store<VT>(Ub, LDT, kC, a.u + row0 * VD + v0, VD);
    if (decay != 1.f) state_scale(S, decay);
    state_update(S, mat(c, 1), LDK, Ub, LDT, false);  // += Khᵀ U
    if (STAGES == 1 && c + 1 < a.NC) {
      __syncthreads();  // every warp is done with chunk c's operands: the one stage takes c + 1's
      issue(c + 1), decay_next = a.decay[int64_t(bh) * a.NC + c + 1];
    }
  }
  if (a.s_final) {
    __syncthreads();  // Sb's last readers are done
    state_publish(S, Sb, LDT);
    __syncthreads();
    tile_store<VT>(Sb, LDT, KD, a.s_final + state0 + v0, VD);
  }
}

// Grid (V / VT, B*H), kScanThreads threads, chunks in reverse: dhs, du (overwriting the
// scale Pᵀ dO that bwd_prep_kernel left there) and ds0 when asked.
template <int KD, int VD, int VT, int STAGES>
__global__ void __launch_bounds__(kScanThreads) bwd_scan_mma_kernel(DeltaArgs a) {
  using L = ScanMmaLayout<KD, VT, 3, 2, STAGES>;  // Qt, Kh, W; dO, scale Pᵀ dO
  constexpr int LDK = L::LDK, LDT = L::LDT;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Sb = reinterpret_cast<bf16*>(smem + L::sb);
  bf16* Ub = reinterpret_cast<bf16*>(smem + L::ub);
  auto mat = [&](int c, int n) { return reinterpret_cast<bf16*>(smem + L::stage_of(c) + n * L::mat); };
  auto tile = [&](int c, int n) { return reinterpret_cast<bf16*>(smem + L::stage_of(c) + 3 * L::mat + n * L::tile); };
  const int v0 = blockIdx.x * VT, bh = blockIdx.y, b = bh / a.H, h = bh % a.H;
  const int64_t state0 = int64_t(bh) * KD * VD;
  auto issue = [&](int c) {
    const int64_t row0 = chunk_row0(a, bh, c);
    load_block(a.qt + row0 * KD, KD, kC, KD, mat(c, 0), LDK);
    load_block(a.kh + row0 * KD, KD, kC, KD, mat(c, 1), LDK);
    load_block(a.w + row0 * KD, KD, kC, KD, mat(c, 2), LDK);
    load_rows(a, a.dout, VD, b, h, c * kC, v0, VT, tile(c, 0), LDT);
    load_block(a.du + row0 * VD + v0, VD, kC, VT, tile(c, 1), LDT);
    cp_async_commit();
  };

  StateFrags<KD, VT> dS;
  state_load<KD, VD, VT>(dS, a.ds_final, state0, v0);
  float decay_next = 1.f;
  if (a.NC > 0) issue(a.NC - 1), decay_next = a.decay[int64_t(bh) * a.NC + a.NC - 1];
  for (int c = a.NC - 1; c >= 0; --c) {
    const float decay = decay_next;
    const int64_t row0 = chunk_row0(a, bh, c);
    cp_async_wait<0>();
    __syncthreads();
    if (STAGES == 2 && c > 0) issue(c - 1), decay_next = a.decay[int64_t(bh) * a.NC + c - 1];
    state_publish(dS, Sb, LDT);
    __syncthreads();
    tile_store<VT>(Sb, LDT, KD, a.dhs + (int64_t(bh) * a.NC + c) * KD * VD + v0, VD);
    rows_plus_product<KD, VT>(tile(c, 1), mat(c, 1), LDK, Sb, LDT, 1.f, Ub);  // dU = scale Pᵀ dO + Kh dS
    __syncthreads();
    tile_store<VT>(Ub, LDT, kC, a.du + row0 * VD + v0, VD);
    if (decay != 1.f) state_scale(dS, decay);
    state_update(dS, mat(c, 0), LDK, tile(c, 0), LDT, false);  // += Qtᵀ dO
    state_update(dS, mat(c, 2), LDK, Ub, LDT, true);           // -= Wᵀ dU
    if (STAGES == 1 && c > 0) {
      __syncthreads();  // every warp is done with chunk c's operands: the one stage takes c - 1's
      issue(c - 1), decay_next = a.decay[int64_t(bh) * a.NC + c - 1];
    }
  }
  if (a.ds0) {
    __syncthreads();
    state_publish(dS, Sb, LDT);
    __syncthreads();
    tile_store<VT>(Sb, LDT, KD, a.ds0 + state0 + v0, VD);
  }
}

}  // namespace delta_chunked
}  // namespace linea
