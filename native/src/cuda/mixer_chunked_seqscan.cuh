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
// needs B * H * (K / 64) * (V / 64) blocks to fill the GPU, and
// mixer_chunked.cu (use_seq_scan) takes it when they fill every SM twice.
//
// Each step's tiles (and, reverse, the forward states it needs) are loaded
// with cp.async one step ahead, so a step waits for its loads only when the
// previous step was shorter than their latency.
//
// rpart here is per 64-column tile of V: [B*H, NC, V / 64, K] (ChunkArgs::rparts
// = V / 64), summed in a fixed order by its reader.
#pragma once

#include "async_copy.cuh"
#include "mixer_chunked_common.cuh"

namespace linea {
namespace chunked {

constexpr int kSeqLdX = 72;  // bf16 64 x 64 tile row stride
constexpr int kSeqLdS = 68;  // f32 64 x 64 state staging row stride
constexpr int kSeqLdB = 65;  // f32 gate row stride (vector kind)
constexpr int kSeqThreads = 128;

// Shared memory: two stages of the chunk tiles (this step's and the next one's,
// loaded with cp.async while this one computes), the state staging tile, the
// gates' cumulative sums and the chunk's decay. A stage holds X (k or q) and
// Y (v or dO), 64 x 64 bf16, then the raw vector gates, then (reverse with
// ROWSUM) the tile of hs and hlo at slot c + 1.
template <int G, bool REV, bool ROWSUM>
struct SeqScanLayout {
  static constexpr int tile = smem_round(kBT * kSeqLdX * 2);
  static constexpr int gate_tile = G == kGateVector ? 2 : -1;  // tile index in a stage, -1: none
  static constexpr int h_tile = REV && ROWSUM ? (G == kGateVector ? 3 : 2) : -1;
  static constexpr int tiles = 2 + (G == kGateVector) + 2 * (REV && ROWSUM);
  static constexpr int stage = tiles * tile;
  static constexpr int St = 2 * stage;
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
  using L = SeqScanLayout<G, REV, ROWSUM>;
  extern __shared__ __align__(128) unsigned char smem[];
  float* St = reinterpret_cast<float*>(smem + L::St);
  float* bs = reinterpret_cast<float*>(smem + L::bs);
  float* dec = reinterpret_cast<float*>(smem + L::dec);
  auto tile_of = [&](int stage, int t) { return reinterpret_cast<bf16*>(smem + stage * L::stage + t * L::tile); };

  const int d0 = blockIdx.x * 64, v0 = blockIdx.y * 64, vt = blockIdx.y, bh = blockIdx.z;
  const int b = bh / a.H, h = bh % a.H, tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int64_t KV = int64_t(a.K) * a.V, NC = a.NC;
  int row, col;
  seq_lane_cells(row, col);
  const int64_t cell = int64_t(d0 + row) * a.V + v0 + col;  // this lane's first element inside a K x V state
  float* srow = St + row * kSeqLdS + col;                   // ... and in the staging tile
  bf16* base = REV ? a.dhs : a.hs;
  auto bv = [&](int i, int j) { return G == kGateVector ? bs[i * kSeqLdB + j] : (G == kGateScalar ? bs[i] : 0.f); };
  auto chunk_of = [&](int64_t step) { return REV ? NC - 1 - step : step; };

  // Starts loading chunk c's tiles into `stage` (one cp.async group per thread).
  auto issue = [&](int64_t c, int stage) {
    const int t0 = int(c) * kBT;
    const bf16* xsrc = REV ? a.q : a.k;
    const bf16* ysrc = REV ? a.dout : a.v;
    for (int e = tid; e < kBT * 8; e += kSeqThreads) {
      const int i = e / 8, j = (e % 8) * 8;
      const bool valid = t0 + i < a.T;
      const int64_t r = valid ? row_of(a, b, t0 + i, h) : 0;
      cp_async16(tile_of(stage, 0) + i * kSeqLdX + j, xsrc + r * a.K + d0 + j, valid);
      cp_async16(tile_of(stage, 1) + i * kSeqLdX + j, ysrc + r * a.V + v0 + j, valid);
      if (L::gate_tile >= 0) cp_async16(tile_of(stage, L::gate_tile) + i * kSeqLdX + j, a.g + r * a.K + d0 + j, valid);
      if (L::h_tile >= 0) {
        // rows of the state tile (key dims d0 + i), slot c + 1
        const int64_t at = (bh * (NC + 1) + c + 1) * KV + int64_t(d0 + i) * a.V + v0 + j;
        cp_async16(tile_of(stage, L::h_tile) + i * kSeqLdX + j, a.hs + at, true);
        cp_async16(tile_of(stage, L::h_tile + 1) + i * kSeqLdX + j, hlo + at, true);
      }
    }
    cp_async_commit();
  };
  // Scalar gates are strided ([B, T, H] or [H]): warp 0 keeps the next chunk's in registers.
  float g_lo = 0.f, g_hi = 0.f, n_lo = 0.f, n_hi = 0.f;
  auto gates_of = [&](int64_t c, float& lo, float& hi) {
    if (G != kGateScalar || warp != 0) return;
    lo = scalar_gate(a, b, int(c) * kBT + lane, h);
    hi = scalar_gate(a, b, int(c) * kBT + 32 + lane, h);
  };

  if (NC > 0) {
    issue(chunk_of(0), 0);
    gates_of(chunk_of(0), g_lo, g_hi);
  }

  // This warp's 16 state rows as 4 accumulator tiles of 16 x 16, from the initial state.
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4];
  const bf16* init = REV ? a.ds_final : a.s0;
#pragma unroll
  for (int n = 0; n < 4; ++n) {
    uint4 u = make_uint4(0, 0, 0, 0);
    if (init) u = *reinterpret_cast<const uint4*>(init + bh * KV + cell + 8 * n);
    const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
    for (int m = 0; m < 4; ++m) {
      const float2 x = __bfloat1622float2(p[m]);
      srow[8 * n + 2 * m] = x.x, srow[8 * n + 2 * m + 1] = x.y;
    }
  }
  __syncwarp();
#pragma unroll
  for (int n = 0; n < 4; ++n)
    wmma::load_matrix_sync(acc[n], St + 16 * warp * kSeqLdS + 16 * n, kSeqLdS, wmma::mem_row_major);

  // Writes this lane's cells of the state in St to `slot` (bf16), and forward
  // the residual to hlo's slot; reverse with ROWSUM also the tile's row sums of
  // dh ⊙ (hs + hlo)[c + 1] (from `stage`) into rpart[c].
  auto store_state = [&](int64_t slot, int64_t c, int stage) {
    float r = 0.f;
#pragma unroll
    for (int n = 0; n < 4; ++n) {
      float s[8];
#pragma unroll
      for (int m = 0; m < 8; ++m) s[m] = srow[8 * n + m];
      uint4 hi;
      __nv_bfloat162* ph = reinterpret_cast<__nv_bfloat162*>(&hi);
#pragma unroll
      for (int m = 0; m < 4; ++m) ph[m] = __floats2bfloat162_rn(s[2 * m], s[2 * m + 1]);
      *reinterpret_cast<uint4*>(base + (bh * (NC + 1) + slot) * KV + cell + 8 * n) = hi;
      if (!REV && hlo) {
        uint4 lo;
        __nv_bfloat162* pl = reinterpret_cast<__nv_bfloat162*>(&lo);
#pragma unroll
        for (int m = 0; m < 4; ++m) {
          const float2 x = __bfloat1622float2(ph[m]);
          pl[m] = __floats2bfloat162_rn(s[2 * m] - x.x, s[2 * m + 1] - x.y);
        }
        *reinterpret_cast<uint4*>(hlo + (bh * (NC + 1) + slot) * KV + cell + 8 * n) = lo;
      }
      if (L::h_tile >= 0) {
        const int at = row * kSeqLdX + col + 8 * n;
        const uint4 hu = *reinterpret_cast<const uint4*>(tile_of(stage, L::h_tile) + at);
        const uint4 lu = *reinterpret_cast<const uint4*>(tile_of(stage, L::h_tile + 1) + at);
        const __nv_bfloat162* h2 = reinterpret_cast<const __nv_bfloat162*>(&hu);
        const __nv_bfloat162* l2 = reinterpret_cast<const __nv_bfloat162*>(&lu);
#pragma unroll
        for (int m = 0; m < 4; ++m) {
          const float2 hv = __bfloat1622float2(h2[m]), lv = __bfloat1622float2(l2[m]);
          r += s[2 * m] * (hv.x + lv.x) + s[2 * m + 1] * (hv.y + lv.y);
        }
      }
    }
    if (L::h_tile >= 0) {
      r += __shfl_xor_sync(0xffffffffu, r, 1);  // the row's other 32 columns
      if (lane % 2 == 0) a.rpart[((bh * NC + c) * a.rparts + vt) * a.K + d0 + row] = r;
    }
  };

  for (int64_t step = 0; step < NC; ++step) {
    const int64_t c = chunk_of(step);
    const int stage = int(step & 1);
    __syncthreads();  // every warp is done with the other stage, bs and dec (the previous step)
    if (step + 1 < NC) {
      issue(chunk_of(step + 1), stage ^ 1);
      gates_of(chunk_of(step + 1), n_lo, n_hi);
    } else {
      cp_async_commit();  // an empty group: the wait below counts the same way on the last step
    }
    cp_async_wait<1>();  // this stage's copies (this thread's) have landed
                         // The state as it enters this step goes out first (warp-private rows of St).
#pragma unroll
    for (int n = 0; n < 4; ++n)
      wmma::store_matrix_sync(St + 16 * warp * kSeqLdS + 16 * n, acc[n], kSeqLdS, wmma::mem_row_major);
    __syncthreads();  // every thread's copies have landed
    store_state(REV ? c + 1 : c, c, stage);
    // The chunk's cumulative log2 gates.
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
    if (G == kGateVector) {
      // Column d = tid % 64 in two halves of 32 rows; the lower half's total is added to the upper's.
      const bf16* graw = tile_of(stage, L::gate_tile);
      const int d = tid % 64, r0 = 32 * (tid / 64);
      float run = 0.f;
      for (int i = r0; i < r0 + 32; ++i) {
        run += __bfloat162float(graw[i * kSeqLdX + d]) * kLog2e;
        bs[i * kSeqLdB + d] = run;
      }
      __syncthreads();
      if (r0 > 0) {
        const float below = bs[31 * kSeqLdB + d];
        for (int i = 32; i < 64; ++i) bs[i * kSeqLdB + d] += below;
      }
    }
    __syncthreads();  // bs complete
    // K̂ (forward) or Q̃ (reverse) in place, and the chunk's decay per key dim.
    bf16* Xs = tile_of(stage, 0);
    const bf16* Ys = tile_of(stage, 1);
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
    g_lo = n_lo, g_hi = n_hi;
  }
  cp_async_wait_all();
  // Forward: the final state (slot NC, s_final); reverse: ds0.
#pragma unroll
  for (int n = 0; n < 4; ++n)
    wmma::store_matrix_sync(St + 16 * warp * kSeqLdS + 16 * n, acc[n], kSeqLdS, wmma::mem_row_major);
  __syncwarp();
  if (!REV) store_state(NC, NC, 0);
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
