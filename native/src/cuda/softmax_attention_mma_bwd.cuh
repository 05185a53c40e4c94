// bf16 softmax attention backward on tensor cores (mma.sync m16n8k16, f32
// accumulate; sm_80+) for D = V = HD in {64, 128}: FlashAttention-2's
// backward with a deterministic dq. Layouts and mask:
// softmax_attention_common.cuh; fragment helpers: softmax_attention_mma.cuh.
//
// After delta_t = do_t . o_t (attn_delta_kernel, f32), two kernels, each
// output row with exactly one writer (no atomics):
//   dk, dv: a block owns BKV = 16 NW keys (16 per warp) and streams the query
//     tiles that see them (BQ = 32 queries, double-buffered cp.async of q, do
//     and their lse, delta). Per tile and warp, transposed so the keys are the
//     MMA rows: S^T = K Q^T, dP^T = V dO^T (16 x 32 in registers),
//     P^T = exp2(scale log2e S^T - log2e lse), dS^T = P^T (dP^T - delta);
//     dV += P^T dO, dK += dS^T Q, with P^T, dS^T rounded to bf16 as the A
//     fragments straight from the accumulators and dO, Q by ldmatrix.trans.
//     dk = scale dK.
//   dq: a block owns BQ = 16 NW queries and streams the key tiles they see
//     (BK = 32 keys, double-buffered k, v): S = Q K^T, dP = dO V^T, P, dS as
//     above, dQ += dS K (K by ldmatrix.trans); dq = scale dQ.
// The dq pass recomputes S and dP (7 tile products per tile pair instead of
// FA2's 5 with atomic dq), the price of determinism. Positions past T are
// zero-filled and masked; rows past T are not stored.
#pragma once

#include "softmax_attention_mma.cuh"

namespace linea {
namespace attn {

constexpr int kMmaBwdTile = 32;  // streamed positions per tile (queries for dk/dv, keys for dq)
constexpr int kMmaBwdWarps = 4;

struct MmaBwdArgs {
  const bf16 *q, *k, *v;
  const float* lse;  // a stats tensor: f32 in bf16 calls
  const bf16* d_o;
  const float* delta;  // (B, H, T)
  bf16 *dq, *dk, *dv;
  AttnShape s;
};

template <int HD, int NW>
constexpr size_t mma_dkdv_smem() {
  return sizeof(bf16) * size_t(2 * 16 * NW + 4 * kMmaBwdTile) * (HD + kMmaPad) + sizeof(float) * 4 * kMmaBwdTile;
}
template <int HD, int NW>
constexpr size_t mma_dq_smem() {
  return sizeof(bf16) * size_t(2 * 16 * NW + 4 * kMmaBwdTile) * (HD + kMmaPad);
}

// The A fragments (16 x 16, rows = the warp's 16 rows) of columns 16 kc..16 kc+15
// of a 16 x N accumulator tile acc[N/8][4], rounded to bf16.
template <int N>
__device__ __forceinline__ void acc_to_a(unsigned (&f)[4], const float (&acc)[N][4], int kc) {
  f[0] = pack_bf16(acc[2 * kc][0], acc[2 * kc][1]);
  f[1] = pack_bf16(acc[2 * kc][2], acc[2 * kc][3]);
  f[2] = pack_bf16(acc[2 * kc + 1][0], acc[2 * kc + 1][1]);
  f[3] = pack_bf16(acc[2 * kc + 1][2], acc[2 * kc + 1][3]);
}

// acc (16 x N) += A (16 x HD, the warp's 16 rows of `a_tile`) B^T, with B the
// first N rows of `b_tile` (N x HD): both row-major in shared memory (row
// stride LD), B read as the col-major operand by plain ldmatrix.
template <int HD, int N, int LD>
__device__ __forceinline__ void mma_abt(float (&acc)[N / 8][4], const bf16* a_tile, const bf16* b_tile, int lane) {
#pragma unroll
  for (int kc = 0; kc < HD / 16; ++kc) {
    unsigned af[4];
    ldmatrix_x4(af, a_tile + (lane % 16) * LD + kc * 16 + (lane / 16) * 8);
#pragma unroll
    for (int n2 = 0; n2 < N / 16; ++n2) {
      unsigned bf[4];
      ldmatrix_x4(bf, b_tile + (n2 * 16 + lane % 8 + (lane / 16) * 8) * LD + kc * 16 + ((lane / 8) % 2) * 8);
      mma_bf16(acc[2 * n2], af, bf[0], bf[1]);
      mma_bf16(acc[2 * n2 + 1], af, bf[2], bf[3]);
    }
  }
}

// acc (16 x HD) += P (16 x K, in registers as accumulators) B, with B the
// K x HD row-major tile `b_tile` read by ldmatrix.trans.
template <int HD, int K, int LD>
__device__ __forceinline__ void mma_pb(float (&acc)[HD / 8][4], const float (&p)[K / 8][4], const bf16* b_tile,
                                       int lane) {
#pragma unroll
  for (int kc = 0; kc < K / 16; ++kc) {
    unsigned pf[4];
    acc_to_a<K / 8>(pf, p, kc);
#pragma unroll
    for (int n2 = 0; n2 < HD / 16; ++n2) {
      unsigned bf[4];
      ldmatrix_x4_trans(bf, b_tile + (kc * 16 + lane % 8 + ((lane / 8) % 2) * 8) * LD + n2 * 16 + (lane / 16) * 8);
      mma_bf16(acc[2 * n2], pf, bf[0], bf[1]);
      mma_bf16(acc[2 * n2 + 1], pf, bf[2], bf[3]);
    }
  }
}

// dk, dv. Grid: B*H * ceil(T / BKV) blocks, the earliest key blocks (most
// queries) first. Shared: k, v [BKV][LD]; q, do [2][32][LD]; lse, delta [2][32] f32.
template <int HD, int NW>
__global__ void __launch_bounds__(32 * NW) attn_dkdv_mma_kernel(MmaBwdArgs a) {
  constexpr int BKV = 16 * NW, BQ = kMmaBwdTile, NT = 32 * NW, LD = HD + kMmaPad;
  const AttnShape& s = a.s;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* sk = reinterpret_cast<bf16*>(smem_raw);
  bf16* sv = sk + BKV * LD;
  bf16* sq = sv + BKV * LD;                                   // [2][BQ][LD]
  bf16* sdo = sq + 2 * BQ * LD;                               // [2][BQ][LD]
  float* slse = reinterpret_cast<float*>(sdo + 2 * BQ * LD);  // [2][BQ], log2 domain
  float* sdelta = slse + 2 * BQ;                              // [2][BQ]
  const int64_t BH = s.B * s.H;
  const int64_t bh = blockIdx.x % BH, b = bh / s.H, h = bh % s.H;
  const int64_t s0 = (blockIdx.x / BH) * BKV;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, qd = lane % 4;
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
  const int64_t key_a = s0 + warp * 16 + g;  // key of rows g; key_a + 8 for g + 8
  for (int it = 0; it < nqb; ++it) {
    cp_async_wait_all();
    __syncthreads();  // tile it landed everywhere; tile it-1's buffers are free
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
    for (int nt = 0; nt < BQ / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int col = nt * 8 + 2 * qd + e % 2;
        const int64_t t = t0 + col, key = key_a + (e / 2) * 8;
        const bool vis = full || (t < s.T && key <= t && (s.window <= 0 || key > t - s.window));
        const float p = vis ? exp2f(st[nt][e] * scale2 - slse[buf * BQ + col]) : 0.f;
        st[nt][e] = p;
        dpt[nt][e] = p * (dpt[nt][e] - sdelta[buf * BQ + col]);
      }
    mma_pb<HD, BQ, LD>(dv, st, do_tile, lane);
    mma_pb<HD, BQ, LD>(dk, dpt, q_tile, lane);
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

// dq. Grid: B*H * ceil(T / BQ) blocks, latest query blocks first.
// Shared: q, do [BQ][LD]; k, v [2][32][LD].
template <int HD, int NW>
__global__ void __launch_bounds__(32 * NW) attn_dq_mma_kernel(MmaBwdArgs a) {
  constexpr int BQ = 16 * NW, BK = kMmaBwdTile, NT = 32 * NW, LD = HD + kMmaPad;
  const AttnShape& s = a.s;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* sq = reinterpret_cast<bf16*>(smem_raw);
  bf16* sdo = sq + BQ * LD;
  bf16* sk = sdo + BQ * LD;     // [2][BK][LD]
  bf16* sv = sk + 2 * BK * LD;  // [2][BK][LD]
  const int64_t BH = s.B * s.H, nqb = ceil_div(s.T, BQ);
  const int64_t bh = blockIdx.x % BH, b = bh / s.H, h = bh % s.H;
  const int64_t t0 = (nqb - 1 - blockIdx.x / BH) * BQ;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, qd = lane % 4;
  const float scale2 = static_cast<float>(s.scale) * kLog2e;

  const int64_t t_last = min(t0 + BQ, s.T) - 1;
  const int64_t kb_first = first_key(t0, s.window) / BK;
  const int nkb = static_cast<int>(t_last / BK - kb_first + 1);
  cp_async_rows<HD, NT>(sq, a.q, s, b, h, t0, BQ);
  cp_async_rows<HD, NT>(sdo, a.d_o, s, b, h, t0, BQ);
  cp_async_rows<HD, NT>(sk, a.k, s, b, h, kb_first * BK, BK);
  cp_async_rows<HD, NT>(sv, a.v, s, b, h, kb_first * BK, BK);
  cp_async_commit();

  const int64_t row_a = t0 + warp * 16 + g;  // query of rows g; row_a + 8 for g + 8
  float lse2[2], delta[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t t = row_a + 8 * r;
    lse2[r] = t < s.T ? a.lse[bh * s.T + t] * kLog2e : 0.f;
    delta[r] = t < s.T ? a.delta[bh * s.T + t] : 0.f;
  }
  float dq[HD / 8][4] = {};
  for (int it = 0; it < nkb; ++it) {
    cp_async_wait_all();
    __syncthreads();
    const int64_t s0 = (kb_first + it) * BK;
    if (it + 1 < nkb) {
      const int nb = (it + 1) & 1;
      cp_async_rows<HD, NT>(sk + nb * BK * LD, a.k, s, b, h, s0 + BK, BK);
      cp_async_rows<HD, NT>(sv + nb * BK * LD, a.v, s, b, h, s0 + BK, BK);
      cp_async_commit();
    }
    const bf16* k_tile = sk + (it & 1) * BK * LD;
    const bf16* v_tile = sv + (it & 1) * BK * LD;

    float sc[BK / 8][4] = {}, dp[BK / 8][4] = {};
    mma_abt<HD, BK, LD>(sc, sq + warp * 16 * LD, k_tile, lane);
    mma_abt<HD, BK, LD>(dp, sdo + warp * 16 * LD, v_tile, lane);
    const bool full = s0 + BK - 1 <= t0 && (s.window <= 0 || s0 > t0 + BQ - 1 - s.window);
#pragma unroll
    for (int nt = 0; nt < BK / 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t t = row_a + (e / 2) * 8, key = s0 + nt * 8 + 2 * qd + e % 2;
        const bool vis = full || (key <= t && (s.window <= 0 || key > t - s.window));
        const float p = vis ? exp2f(sc[nt][e] * scale2 - lse2[e / 2]) : 0.f;
        dp[nt][e] = p * (dp[nt][e] - delta[e / 2]);
      }
    mma_pb<HD, BK, LD>(dq, dp, k_tile, lane);
  }

  const float scale = static_cast<float>(s.scale);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t t = row_a + 8 * r;
    if (t >= s.T) continue;
    const int64_t row = ((b * s.T + t) * s.H + h) * HD;
#pragma unroll
    for (int nt = 0; nt < HD / 8; ++nt)
      *reinterpret_cast<__nv_bfloat162*>(a.dq + row + nt * 8 + 2 * qd) =
          __floats2bfloat162_rn(dq[nt][2 * r] * scale, dq[nt][2 * r + 1] * scale);
  }
}

template <int HD>
void launch_bwd_mma_hd(const AttnEnv& env, const MmaBwdArgs& a) {
  constexpr int NW = kMmaBwdWarps;
  const int64_t BH = a.s.B * a.s.H;
  constexpr size_t dq_smem = mma_dq_smem<HD, NW>();
  set_smem(attn_dq_mma_kernel<HD, NW>, dq_smem);
  attn_dq_mma_kernel<HD, NW><<<static_cast<unsigned>(BH * ceil_div(a.s.T, 16 * NW)), 32 * NW, dq_smem, env.stream>>>(a);
  LINEA_CUDA_CHECK_LAUNCH("attn_dq_mma_kernel");
  constexpr size_t dkdv_smem = mma_dkdv_smem<HD, NW>();
  set_smem(attn_dkdv_mma_kernel<HD, NW>, dkdv_smem);
  attn_dkdv_mma_kernel<HD, NW>
      <<<static_cast<unsigned>(BH * ceil_div(a.s.T, 16 * NW)), 32 * NW, dkdv_smem, env.stream>>>(a);
  LINEA_CUDA_CHECK_LAUNCH("attn_dkdv_mma_kernel");
}

// Whether the tensor-core backward takes these shapes on this device.
inline bool mma_bwd_takes(const AttnEnv& env, int64_t D, int64_t V) {
  if (env.cc < 80 || D != V || (D != 64 && D != 128)) return false;
  const size_t need = D == 64 ? std::max(mma_dq_smem<64, kMmaBwdWarps>(), mma_dkdv_smem<64, kMmaBwdWarps>())
                              : std::max(mma_dq_smem<128, kMmaBwdWarps>(), mma_dkdv_smem<128, kMmaBwdWarps>());
  return need <= size_t(env.max_smem);
}

// dq, dk, dv; a.delta computed (launch_attn_delta) on the same stream.
inline void launch_bwd_mma(const AttnEnv& env, const MmaBwdArgs& a) {
  if (a.s.D == 64) launch_bwd_mma_hd<64>(env, a);
  else launch_bwd_mma_hd<128>(env, a);
}

}  // namespace attn
}  // namespace linea
