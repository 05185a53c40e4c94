// bf16 softmax attention backward on tensor cores in ONE pass over the score
// tiles (FlashAttention-2's backward): dk, dv and dq from the same S and dP,
// 5 tile products per (key block, query tile) pair instead of the default's 7
// (softmax_attention_mma_bwd.cuh, which recomputes S and dP in its dq pass).
// The default (NW = 8 warps; LINEA_ATTN_BWD=fused: 4, twopass: the older
// deterministic two kernels), lab v3 of native/lab/softmax_attention. D = V = HD in {64, 128}; layouts and mask:
// softmax_attention_common.cuh; fragment helpers: softmax_attention_mma.cuh.
//
// After delta (attn_delta_kernel) and zeroing an f32 accumulator
// dq_acc (B, H, T, HD):
//   attn_bwd_fused_mma_kernel: a block owns BKV = 16 NW keys of one (b, h),
//     16 per warp, and streams the query tiles that see them (BQ = 32 queries,
//     double-buffered cp.async of q, do and their lse, delta) exactly as
//     attn_dkdv_mma_kernel: per tile and warp, S^T = K Q^T, dP^T = V dO^T
//     (16 keys x 32 queries in registers), P^T, dS^T = P^T (dP^T - delta),
//     dV += P^T dO, dK += dS^T Q. New: each warp also writes its dS^T rows,
//     rounded to bf16, to a shared tile dS^T [BKV][BQ + 8] (keys x queries),
//     and after a barrier the block forms the tile's dQ part
//       dQ_tile (32 x HD) = dS (32 x BKV) K_block (BKV x HD)
//     on mma.sync: dS as the A operand read from the transposed tile by
//     ldmatrix.trans, K as the B operand by ldmatrix.trans from the K rows the
//     block keeps in shared memory. The dQ tile is split among the warps with
//     no overlap: warp w owns columns (w % 4) HD/4 .. +HD/4 and, for NW = 8,
//     the query rows 16 (w / 4) .. +16 (NW = 4: all 32 rows), so each element
//     gets exactly one atomic per block and tile, with no reduction between
//     warps. The warp's C fragments are paired across lanes 2j, 2j+1 (one
//     shuffle per pair of values) so that each lane holds 4 consecutive columns
//     of one row, added into dq_acc with one atomicAdd(float4) on sm_90 (a
//     vector red.global.add.f32) and four scalar ones below. Rows past T are
//     skipped.
//   attn_dq_convert_kernel: dq = scale dq_acc, to bf16 in the (B, T, H, HD)
//     layout, one thread per 4 columns.
// The price: dq's summation order across key blocks depends on which block's
// atomics land first, so dq is NOT bitwise reproducible from run to run (f32
// rounding differences, far below bf16's); dk and dv still have one writer.
// Also 4 B H T HD bytes of scratch and the atomics' L2 traffic: per (b, h)
// about T / BKV (causal: half of it) f32 additions per dq element.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string>

#include "softmax_attention_mma_bwd.cuh"

namespace linea {
namespace attn {

// The dk, dv kernel's shared memory plus the dS^T tile [BKV][BQ + 8] bf16.
template <int HD, int NW>
constexpr size_t mma_bwd_fused_smem() {
  return mma_dkdv_smem<HD, NW>() + sizeof(bf16) * size_t(16 * NW) * (kMmaBwdTile + kMmaPad);
}

// p[0..3] += x, y, z, w in global memory (p 16-byte aligned), as reductions
// whose old values are never returned: one vector red on sm_90+ (PTX 8.1's
// red.global.add.v4.f32), four scalar ones on sm_80..89.
__device__ __forceinline__ void red_add4(float* p, float x, float y, float z, float w) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"l"(p), "f"(x), "f"(y), "f"(z), "f"(w));
#elif defined(__CUDA_ARCH__)
  asm volatile("red.global.add.f32 [%0], %1;\n" ::"l"(p), "f"(x));
  asm volatile("red.global.add.f32 [%0], %1;\n" ::"l"(p + 1), "f"(y));
  asm volatile("red.global.add.f32 [%0], %1;\n" ::"l"(p + 2), "f"(z));
  asm volatile("red.global.add.f32 [%0], %1;\n" ::"l"(p + 3), "f"(w));
#else
  (void)p, (void)x, (void)y, (void)z, (void)w;
#endif
}

// Which (b h, key block) block x of the grid works on. The grid walks the
// heads in groups of G: within a group key block by key block (the earliest,
// with the most queries, first), the group's heads side by side. The blocks
// resident at once then add into the dq_acc rows of about G heads, G T HD 4
// bytes the launcher keeps within L2, so the atomics resolve there instead of
// in DRAM (ncu, H200, 16x2048, heads fastest: 67 % of DRAM bandwidth and 4.3
// ms). G = B H walks every head per key block (the order before).
__device__ __forceinline__ void fused_block_of(int64_t x, int64_t BH, int64_t nkb, int64_t G, int64_t& bh,
                                               int64_t& kb) {
  const int64_t first = (x / (G * nkb)) * G;  // the group's first head
  const int64_t size = min(G, BH - first), r = x - first * nkb;
  kb = r / size;
  bh = first + r % size;
}

// dk, dv and dq_acc. Grid: B*H * ceil(T / BKV) blocks in fused_block_of's
// order, group_heads = G. Shared: k, v [BKV][LD]; q, do [2][32][LD]; lse,
// delta [2][32] f32; dS^T [BKV][32 + 8] bf16.
template <int HD, int NW>
__global__ void __launch_bounds__(32 * NW)
    attn_bwd_fused_mma_kernel(MmaBwdArgs a, float* __restrict__ dq_acc, int64_t group_heads) {
  constexpr int BKV = 16 * NW, BQ = kMmaBwdTile, NT = 32 * NW, LD = HD + kMmaPad, LDS = BQ + kMmaPad;
  // The dQ tile's split: 4 column groups of CW = HD / 4 columns, NW / 4 row
  // groups of MTW m-tiles each.
  constexpr int MR = NW / 4, MTW = BQ / 16 / MR, CW = HD / 4;
  static_assert(NW % 4 == 0 && (BQ / 16) % MR == 0 && MTW >= 1 && CW % 16 == 0, "dQ tile split");
  const AttnShape& s = a.s;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* sk = reinterpret_cast<bf16*>(smem_raw);
  bf16* sv = sk + BKV * LD;
  bf16* sq = sv + BKV * LD;                                   // [2][BQ][LD]
  bf16* sdo = sq + 2 * BQ * LD;                               // [2][BQ][LD]
  float* slse = reinterpret_cast<float*>(sdo + 2 * BQ * LD);  // [2][BQ], log2 domain
  float* sdelta = slse + 2 * BQ;                              // [2][BQ]
  bf16* sds = reinterpret_cast<bf16*>(sdelta + 2 * BQ);       // [BKV][LDS]: dS^T, keys x queries
  const int64_t BH = s.B * s.H;
  int64_t bh, kb;
  fused_block_of(blockIdx.x, BH, ceil_div(s.T, int64_t(BKV)), group_heads, bh, kb);
  const int64_t b = bh / s.H, h = bh % s.H;
  const int64_t s0 = kb * BKV;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, qd = lane % 4;
  const int wr = warp / 4, wc = warp % 4;  // the warp's row group and column group of the dQ tile
  const float scale2 = static_cast<float>(s.scale) * kLog2e;

  const int64_t s_last = min(s0 + BKV, s.T) - 1;
  const int64_t qb_first = s0 / BQ;
  const int nqb = static_cast<int>(last_query(s_last, s.window, s.T) / BQ - qb_first + 1);
  auto load_tile = [&](int it) {
    const int buf = it & 1;
    const int64_t t0 = (qb_first + it) * BQ;
    cp_async_rows<HD, NT>(sq + buf * BQ * LD, a.q, s, b, h, t0, BQ);
    cp_async_rows<HD, NT>(sdo + buf * BQ * LD, a.d_o, s, b, h, t0, BQ);
    if (threadIdx.x < BQ) {
      const int64_t t = t0 + threadIdx.x;
      slse[buf * BQ + threadIdx.x] = t < s.T ? a.lse[bh * s.T + t] * kLog2e : 0.f;
      sdelta[buf * BQ + threadIdx.x] = t < s.T ? a.delta[bh * s.T + t] : 0.f;
    }
  };
  cp_async_rows<HD, NT>(sk, a.k, s, b, h, s0, BKV);
  cp_async_rows<HD, NT>(sv, a.v, s, b, h, s0, BKV);
  load_tile(0);
  cp_async_commit();

  float dk[HD / 8][4] = {}, dv[HD / 8][4] = {};
  const int64_t key_a = s0 + warp * 16 + g;             // key of rows g; key_a + 8 for g + 8
  bf16* ds_row = sds + (warp * 16 + g) * LDS + 2 * qd;  // this lane's dS^T element (row g, column 2 qd)
  for (int it = 0; it < nqb; ++it) {
    cp_async_wait_all();
    // Tile it landed everywhere; tile it-1's q, do buffers and the dS^T tile
    // (read by every warp's dQ product of tile it-1) are free.
    __syncthreads();
    if (it + 1 < nqb) {
      load_tile(it + 1);
      cp_async_commit();
    }
    const int buf = it & 1;
    const int64_t t0 = (qb_first + it) * BQ;
    const bf16* q_tile = sq + buf * BQ * LD;
    const bf16* do_tile = sdo + buf * BQ * LD;

    float st[BQ / 8][4] = {}, dpt[BQ / 8][4] = {};
    mma_abt<HD, BQ, LD>(st, sk + warp * 16 * LD, q_tile, lane);
    mma_abt<HD, BQ, LD>(dpt, sv + warp * 16 * LD, do_tile, lane);
    const bool full = t0 >= s0 + BKV - 1 && (s.window <= 0 || s0 > t0 + BQ - 1 - s.window) && t0 + BQ <= s.T;
#pragma unroll
    for (int nt = 0; nt < BQ / 8; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int col = nt * 8 + 2 * qd + e % 2;
        const int64_t t = t0 + col, key = key_a + (e / 2) * 8;
        const bool vis = full || (t < s.T && key <= t && (s.window <= 0 || key > t - s.window));
        const float p = vis ? exp2f(st[nt][e] * scale2 - slse[buf * BQ + col]) : 0.f;
        st[nt][e] = p;
        dpt[nt][e] = p * (dpt[nt][e] - sdelta[buf * BQ + col]);
      }
    }
    // dS^T to shared memory as bf16 (the values dK's A fragments round to):
    // lane (g, qd) of n-tile nt holds rows g, g + 8 and columns nt 8 + 2 qd, +1.
#pragma unroll
    for (int nt = 0; nt < BQ / 8; ++nt) {
      *reinterpret_cast<unsigned*>(ds_row + nt * 8) = pack_bf16(dpt[nt][0], dpt[nt][1]);
      *reinterpret_cast<unsigned*>(ds_row + 8 * LDS + nt * 8) = pack_bf16(dpt[nt][2], dpt[nt][3]);
    }
    mma_pb<HD, BQ, LD>(dv, st, do_tile, lane);
    mma_pb<HD, BQ, LD>(dk, dpt, q_tile, lane);
    __syncthreads();  // every warp's dS^T rows are in shared memory

    // dQ_tile[rows of row group wr][columns of group wc] = dS K over the BKV
    // keys. A (16 queries x 16 keys at m-tile m0, keys k0) from dS^T stored
    // [key][query]: ldmatrix.trans with lanes addressing rows k0 + lane % 8 +
    // 8 (lane / 16), columns m0 + 8 ((lane / 8) % 2), so the matrices are, in
    // order, (m 0-7, k 0-7), (m 8-15, k 0-7), (m 0-7, k 8-15), (m 8-15, k 8-15):
    // a[0..3] of the A layout. B (16 keys x 16 columns) from K stored
    // [key][column]: ldmatrix.trans with rows k0 + lane % 16, columns n0 +
    // 8 (lane / 16): b0, b1 of n-tile n0, then of n0 + 8.
    float dqt[MTW][CW / 8][4] = {};
#pragma unroll
    for (int kc = 0; kc < BKV / 16; ++kc) {
      unsigned af[MTW][4];
#pragma unroll
      for (int mt = 0; mt < MTW; ++mt)
        ldmatrix_x4_trans(
            af[mt], sds + (kc * 16 + lane % 8 + (lane / 16) * 8) * LDS + (wr * MTW + mt) * 16 + ((lane / 8) % 2) * 8);
#pragma unroll
      for (int n2 = 0; n2 < CW / 16; ++n2) {
        unsigned bfr[4];
        ldmatrix_x4_trans(bfr, sk + (kc * 16 + lane % 16) * LD + wc * CW + n2 * 16 + (lane / 16) * 8);
#pragma unroll
        for (int mt = 0; mt < MTW; ++mt) {
          mma_bf16(dqt[mt][2 * n2], af[mt], bfr[0], bfr[1]);
          mma_bf16(dqt[mt][2 * n2 + 1], af[mt], bfr[2], bfr[3]);
        }
      }
    }

    // Into dq_acc. Lane (g, qd) holds rows g (c[0], c[1]) and g + 8 (c[2],
    // c[3]), columns 2 qd, +1 of each n-tile; lanes qd = 2j and 2j+1 swap so
    // that the even one holds row g, columns 4j .. 4j+3 and the odd one row
    // g + 8, the same columns.
    const bool odd = qd & 1;
    const int row_l = g + (odd ? 8 : 0);
#pragma unroll
    for (int mt = 0; mt < MTW; ++mt) {
      const int64_t t = t0 + (wr * MTW + mt) * 16 + row_l;
      float* dst = dq_acc + (bh * s.T + t) * HD + wc * CW + 4 * (qd / 2);
#pragma unroll
      for (int nt = 0; nt < CW / 8; ++nt) {
        const float* c = dqt[mt][nt];
        const float x0 = odd ? c[0] : c[2], x1 = odd ? c[1] : c[3];  // what the partner needs
        const float y0 = __shfl_xor_sync(0xffffffffu, x0, 1), y1 = __shfl_xor_sync(0xffffffffu, x1, 1);
        if (t < s.T) {
          if (odd) red_add4(dst + nt * 8, y0, y1, c[2], c[3]);
          else red_add4(dst + nt * 8, c[0], c[1], y0, y1);
        }
      }
    }
  }

  const float scale = static_cast<float>(s.scale);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t key = key_a + 8 * r;
    if (key >= s.T) continue;
    const int64_t row = ((b * s.T + key) * s.H + h) * HD;
#pragma unroll
    for (int nt = 0; nt < HD / 8; ++nt) {
      const int c = nt * 8 + 2 * qd;
      *reinterpret_cast<__nv_bfloat162*>(a.dk + row + c) =
          __floats2bfloat162_rn(dk[nt][2 * r] * scale, dk[nt][2 * r + 1] * scale);
      *reinterpret_cast<__nv_bfloat162*>(a.dv + row + c) = __floats2bfloat162_rn(dv[nt][2 * r], dv[nt][2 * r + 1]);
    }
  }
}

// dq (B, T, H, HD) bf16 = scale dq_acc (B, H, T, HD) f32; one thread per 4
// columns (a float4 read, 8 bytes written).
template <int HD>
__global__ void attn_dq_convert_kernel(const float* __restrict__ dq_acc, bf16* __restrict__ dq, AttnShape s) {
  constexpr int C4 = HD / 4;
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= s.B * s.H * s.T * C4) return;
  const int64_t row = i / C4;  // bh T + t
  const int c = static_cast<int>(i % C4) * 4;
  const int64_t bh = row / s.T, t = row % s.T, b = bh / s.H, h = bh % s.H;
  const float4 x = *reinterpret_cast<const float4*>(dq_acc + row * HD + c);
  const float sc = static_cast<float>(s.scale);
  uint2 packed;
  packed.x = pack_bf16(x.x * sc, x.y * sc);
  packed.y = pack_bf16(x.z * sc, x.w * sc);
  *reinterpret_cast<uint2*>(dq + ((b * s.T + t) * s.H + h) * HD + c) = packed;
}

// The backward's form, LINEA_ATTN_BWD: unset or "fused8", this file's pass
// with 8 warps (BKV = 128: half the atomics per dq element of 4 warps; the
// default since the lab's v3 was timed); "fused", 4 warps (BKV = 64);
// "twopass", softmax_attention_mma_bwd.cuh's dk/dv and dq kernels, which
// write every output once (bitwise reproducible). Read once per process.
inline int bwd_fused_warps() {
  static const int nw = [] {
    const char* e = std::getenv("LINEA_ATTN_BWD");
    if (!e) return 8;
    const std::string v(e);
    return v == "twopass" ? 0 : v == "fused" ? 4 : 8;
  }();
  return nw;
}

// The warps of the fused pass this call gets: the switch's, or 4 where 8
// warps' shared memory does not fit the device (sm_86/89 at D = 128), or 0
// (the two-pass backward) where neither does or the switch says twopass.
// Asked only after mma_bwd_takes accepted the call (D = V in {64, 128}, sm_80+).
inline int mma_bwd_fused_warps(const AttnEnv& env, int64_t D) {
  const size_t limit = size_t(env.max_smem);
  const int nw = bwd_fused_warps();
  if (nw == 8 && (D == 64 ? mma_bwd_fused_smem<64, 8>() : mma_bwd_fused_smem<128, 8>()) <= limit) return 8;
  if (nw != 0 && (D == 64 ? mma_bwd_fused_smem<64, 4>() : mma_bwd_fused_smem<128, 4>()) <= limit) return 4;
  return 0;
}

// G of fused_block_of: as many heads as keep their dq_acc rows within
// LINEA_ATTN_BWD_GROUP_MB megabytes (default 16, a third of an H100's or
// H200's L2; A100's is 40 MB), at least one; 0 walks every head per key
// block, heads fastest (the order v3 was first timed with).
inline int64_t fused_group_heads(const AttnShape& s, int64_t HD) {
  static const int64_t budget_mb = [] {
    const char* e = std::getenv("LINEA_ATTN_BWD_GROUP_MB");
    return e ? std::max<int64_t>(0, std::atoll(e)) : int64_t(16);
  }();
  const int64_t BH = s.B * s.H;
  if (budget_mb == 0) return BH;
  const int64_t per_head = int64_t(sizeof(float)) * s.T * HD;
  return std::min(BH, std::max<int64_t>(1, (budget_mb << 20) / per_head));
}

template <int HD, int NW>
void launch_bwd_fused_hd(const AttnEnv& env, const MmaBwdArgs& a) {
  const AttnShape& s = a.s;
  const size_t acc_bytes = sizeof(float) * size_t(s.B * s.H * s.T * HD);
  auto* dq_acc = static_cast<float*>(env.scratch(acc_bytes));
  LINEA_CUDA_CHECK(cudaMemsetAsync(dq_acc, 0, acc_bytes, env.stream));
  constexpr size_t smem = mma_bwd_fused_smem<HD, NW>();
  set_smem(attn_bwd_fused_mma_kernel<HD, NW>, smem);
  attn_bwd_fused_mma_kernel<HD, NW>
      <<<static_cast<unsigned>(s.B * s.H * ceil_div(s.T, 16 * NW)), 32 * NW, smem, env.stream>>>(
          a, dq_acc, fused_group_heads(s, HD));
  LINEA_CUDA_CHECK_LAUNCH("attn_bwd_fused_mma_kernel");
  const int64_t threads = s.B * s.H * s.T * (HD / 4);
  attn_dq_convert_kernel<HD><<<static_cast<unsigned>(ceil_div(threads, 256)), 256, 0, env.stream>>>(dq_acc, a.dq, s);
  LINEA_CUDA_CHECK_LAUNCH("attn_dq_convert_kernel");
}

// dq, dk, dv by the fused pass with nw warps (mma_bwd_fused_warps, not 0);
// a.delta computed (launch_attn_delta) on the same stream.
inline void launch_bwd_mma_fused(const AttnEnv& env, const MmaBwdArgs& a, int nw) {
  if (nw == 8) {
    if (a.s.D == 64) launch_bwd_fused_hd<64, 8>(env, a);
    else launch_bwd_fused_hd<128, 8>(env, a);
    return;
  }
  if (a.s.D == 64) launch_bwd_fused_hd<64, 4>(env, a);
  else launch_bwd_fused_hd<128, 4>(env, a);
}

}  // namespace attn
}  // namespace linea
