// The state passes along T in one kernel (an alternative to local_kernel +
// carry_kernel of mixer_chunked_scan.cuh, with the same results in hs, hlo,
// dhs, rpart, s_final and ds0): a block owns a 64 x 64 tile of one head's
// K x V state and walks the chunks in order, the state in tensor-core
// accumulators, so every chunk's state is written once and never read back:
//
//   forward (c = 0 .. NC-1): hs[c] = h;  h = diag(2^{b_L}) h + K̂_cᵀ V_c,   K̂_j = k_j ⊙ 2^{b_L - b_j}
//   reverse (c = NC-1 .. 0): dhs[c+1] = dh;  rpart[c] = rowsum(dh ⊙ (hs + hlo)[c+1]);
//                            dh = diag(2^{b_L}) dh + Q̃_cᵀ dO_c,           Q̃_i = scale q_i ⊙ 2^{b_i}
//
// The split passes write each chunk's own contribution and read it back in a
// second kernel (two round trips of every state through memory); this one
// needs B * H * (K / 64) * (V / 64) blocks to fill the GPU. Opt-in for now
// (LINEA_CHUNKED_SCAN=seq, mixer_chunked.cu) until the GPU box has checked it.
//
// rpart here is per 64-column tile of V: [B*H, NC, V / 64, K] (ChunkArgs::rparts
// = V / 64), summed in a fixed order by its reader.
#pragma once

#include "mixer_chunked_common.cuh"

namespace linea {
namespace chunked {

constexpr int kSeqLdX = 72;  // bf16 64 x 64 tile row stride
constexpr int kSeqLdS = 68;  // f32 64 x 64 state staging row stride
constexpr int kSeqLdB = 65;  // f32 gate row stride (vector kind)
constexpr int kSeqThreads = 128;

template <int G>
struct SeqScanLayout {
  static constexpr int Xs = 0;
  static constexpr int Ys = Xs + smem_round(kBT * kSeqLdX * 2);
  static constexpr int St = Ys + smem_round(kBT * kSeqLdX * 2);
  static constexpr int bs = St + smem_round(64 * kSeqLdS * 4);
  static constexpr int dec = bs + smem_round((G == kGateVector ? kBT * kSeqLdB : kBT) * 4);
  static constexpr int bytes = dec + smem_round(64 * 4);
};

// This lane's part of its warp's 16 state rows: row 16 warp + lane / 2, the 32
// columns from 32 (lane % 2): 4 runs of 8 (16 bytes of bf16).
__device__ __forceinline__ void seq_lane_cells(int& row, int& col) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  row = 16 * warp + lane / 2;
  col = 32 * (lane % 2);
}

// Grid (K / 64, V / 64, B * H), kSeqThreads threads. hlo: forward, where to store
// each state's bf16 residual (or nullptr); reverse with ROWSUM, where to read it.
template <int G, bool REV, bool ROWSUM>
__global__ void __launch_bounds__(kSeqThreads) seq_scan_kernel(ChunkArgs a, bf16* hlo) {
  using namespace nvcuda;
  using L = SeqScanLayout<G>;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Xs = reinterpret_cast<bf16*>(smem + L::Xs);
  bf16* Ys = reinterpret_cast<bf16*>(smem + L::Ys);
  float* St = reinterpret_cast<float*>(smem + L::St);
  float* bs = reinterpret_cast<float*>(smem + L::bs);
  float* dec = reinterpret_cast<float*>(smem + L::dec);

  const int d0 = blockIdx.x * 64, v0 = blockIdx.y * 64, vt = blockIdx.y, bh = blockIdx.z;
  const int b = bh / a.H, h = bh % a.H, tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int64_t KV = int64_t(a.K) * a.V, NC = a.NC;
  int row, col;
  seq_lane_cells(row, col);
  const int64_t cell = int64_t(d0 + row) * a.V + v0 + col;  // this lane's first element inside a K x V state
  float* srow = St + row * kSeqLdS + col;                   // ... and in the staging tile
  bf16* base = REV ? a.dhs : a.hs;
  auto bv = [&](int i, int j) { return G == kGateVector ? bs[i * kSeqLdB + j] : (G == kGateScalar ? bs[i] : 0.f); };

  // This warp's 16 state rows as 4 accumulator tiles of 16 x 16, from the initial state.
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4];
  const bf16* init = REV ? a.ds_final : a.s0;
#pragma unroll
  for (int n = 0; n < 4; ++n) {
    float f[8];
    uint4 u = make_uint4(0, 0, 0, 0);
    if (init) u = *reinterpret_cast<const uint4*>(init + bh * KV + cell + 8 * n);
    const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
    for (int m = 0; m < 4; ++m) {
      const float2 x = __bfloat1622float2(p[m]);
      f[2 * m] = x.x, f[2 * m + 1] = x.y;
    }
#pragma unroll
    for (int m = 0; m < 8; ++m) srow[8 * n + m] = f[m];
  }
  __syncwarp();
#pragma unroll
  for (int n = 0; n < 4; ++n)
    wmma::load_matrix_sync(acc[n], St + 16 * warp * kSeqLdS + 16 * n, kSeqLdS, wmma::mem_row_major);

  // Writes this lane's cells of the state in St to `slot` (bf16), and forward
  // the residual to hlo's slot; reverse with ROWSUM also the tile's row sums of
  // dh ⊙ (hs + hlo)[c + 1] into rpart[c].
  auto store_state = [&](int64_t slot, int64_t c) {
    float s[32];
#pragma unroll
    for (int m = 0; m < 32; ++m) s[m] = srow[m];
    float r = 0.f;
#pragma unroll
    for (int n = 0; n < 4; ++n) {
      uint4 hi;
      __nv_bfloat162* ph = reinterpret_cast<__nv_bfloat162*>(&hi);
#pragma unroll
      for (int m = 0; m < 4; ++m) ph[m] = __floats2bfloat162_rn(s[8 * n + 2 * m], s[8 * n + 2 * m + 1]);
      *reinterpret_cast<uint4*>(base + (bh * (NC + 1) + slot) * KV + cell + 8 * n) = hi;
      if (!REV && hlo) {
        uint4 lo;
        __nv_bfloat162* pl = reinterpret_cast<__nv_bfloat162*>(&lo);
#pragma unroll
        for (int m = 0; m < 4; ++m) {
          const float2 x = __bfloat1622float2(ph[m]);
          pl[m] = __floats2bfloat162_rn(s[8 * n + 2 * m] - x.x, s[8 * n + 2 * m + 1] - x.y);
        }
        *reinterpret_cast<uint4*>(hlo + (bh * (NC + 1) + slot) * KV + cell + 8 * n) = lo;
      }
      if (REV && ROWSUM) {
        const int64_t at = (bh * (NC + 1) + c + 1) * KV + cell + 8 * n;
        const uint4 hu = *reinterpret_cast<const uint4*>(a.hs + at), lu = *reinterpret_cast<const uint4*>(hlo + at);
        const __nv_bfloat162* h2 = reinterpret_cast<const __nv_bfloat162*>(&hu);
        const __nv_bfloat162* l2 = reinterpret_cast<const __nv_bfloat162*>(&lu);
#pragma unroll
        for (int m = 0; m < 4; ++m) {
          const float2 hv = __bfloat1622float2(h2[m]), lv = __bfloat1622float2(l2[m]);
          r += s[8 * n + 2 * m] * (hv.x + lv.x) + s[8 * n + 2 * m + 1] * (hv.y + lv.y);
        }
      }
    }
    if (REV && ROWSUM) {
      r += __shfl_xor_sync(0xffffffffu, r, 1);  // the row's other 32 columns
      if (lane % 2 == 0) a.rpart[((bh * NC + c) * a.rparts + vt) * a.K + d0 + row] = r;
    }
  };

  for (int64_t step = 0; step < NC; ++step) {
    const int64_t c = REV ? NC - 1 - step : step;
    const int t0 = int(c) * kBT;
    // The chunk's gates (cumulative, log2), its 64 x 64 tiles of k (q) and v (dO).
    if (G == kGateScalar) scalar_cumsum(a, b, h, t0, bs);
    if (G == kGateVector) vector_cumsum(a, b, h, t0, d0, 64, bs, kSeqLdB);
    load_rows(a, REV ? a.q : a.k, a.K, b, h, t0, d0, 64, Xs, kSeqLdX);
    load_rows(a, REV ? a.dout : a.v, a.V, b, h, t0, v0, 64, Ys, kSeqLdX);
    // The state as it enters this step goes out first (warp-private rows of St).
#pragma unroll
    for (int n = 0; n < 4; ++n)
      wmma::store_matrix_sync(St + 16 * warp * kSeqLdS + 16 * n, acc[n], kSeqLdS, wmma::mem_row_major);
    __syncwarp();
    store_state(REV ? c + 1 : c, c);
    __syncthreads();  // gates and tiles loaded
    // K̂ (forward) or Q̃ (reverse) in place, and the chunk's decay per key dim.
    for (int e = tid; e < kBT * 32; e += kSeqThreads) {
      const int i = e / 32, j = (e % 32) * 2;
      __nv_bfloat162* x = reinterpret_cast<__nv_bfloat162*>(Xs + i * kSeqLdX + j);
      const float2 xv = __bfloat1622float2(*x);
      float f0 = REV ? a.scale : 1.f, f1 = f0;
      if (G != kGateNone) {
        f0 *= REV ? fast_exp2(bv(i, j)) : fast_exp2(bv(kBT - 1, j) - bv(i, j));
        f1 *= REV ? fast_exp2(bv(i, j + 1)) : fast_exp2(bv(kBT - 1, j + 1) - bv(i, j + 1));
      }
      *x = __floats2bfloat162_rn(xv.x * f0, xv.y * f1);
    }
    if (tid < 64) dec[tid] = G == kGateNone ? 1.f : fast_exp2(bv(kBT - 1, tid));
    __syncthreads();
    // h = diag(dec) h: the vector kind through St (its rows are this warp's), else one factor.
    if (G == kGateVector) {
#pragma unroll
      for (int m = 0; m < 32; ++m) srow[m] *= dec[row];
      __syncwarp();
#pragma unroll
      for (int n = 0; n < 4; ++n)
        wmma::load_matrix_sync(acc[n], St + 16 * warp * kSeqLdS + 16 * n, kSeqLdS, wmma::mem_row_major);
    } else if (G == kGateScalar) {
      const float f = dec[0];
#pragma unroll
      for (int n = 0; n < 4; ++n)
#pragma unroll
        for (int m = 0; m < acc[n].num_elements; ++m) acc[n].x[m] *= f;
    }
    // h += Xᵀ Y: rows 16 warp .. of Xᵀ are columns of Xs (a column-major read).
#pragma unroll
    for (int kt = 0; kt < kBT / 16; ++kt) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::col_major> fa;
      wmma::load_matrix_sync(fa, Xs + kt * 16 * kSeqLdX + 16 * warp, kSeqLdX);
#pragma unroll
      for (int n = 0; n < 4; ++n) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> fb;
        wmma::load_matrix_sync(fb, Ys + kt * 16 * kSeqLdX + 16 * n, kSeqLdX);
        wmma::mma_sync(acc[n], fa, fb, acc[n]);
      }
    }
    __syncthreads();  // the next step overwrites Xs, Ys, bs and dec
  }
  // Forward: the final state (slot NC, s_final); reverse: ds0.
#pragma unroll
  for (int n = 0; n < 4; ++n)
    wmma::store_matrix_sync(St + 16 * warp * kSeqLdS + 16 * n, acc[n], kSeqLdS, wmma::mem_row_major);
  __syncwarp();
  if (!REV) store_state(NC, NC);
  bf16* fin = REV ? a.ds0 : a.s_final;
  if (fin)
#pragma unroll
    for (int n = 0; n < 4; ++n) {
      uint4 u;
      __nv_bfloat162* p = reinterpret_cast<__nv_bfloat162*>(&u);
#pragma unroll
      for (int m = 0; m < 4; ++m) p[m] = __floats2bfloat162_rn(srow[8 * n + 2 * m], srow[8 * n + 2 * m + 1]);
      *reinterpret_cast<uint4*>(fin + bh * KV + cell + 8 * n) = u;
    }
}

}  // namespace chunked
}  // namespace linea
