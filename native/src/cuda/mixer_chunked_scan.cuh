// The passes of the chunked mixer along T, split so that only an elementwise
// recurrence is sequential:
//
//   local_kernel (parallel over chunks): each chunk's own contribution to the state,
//     forward: L_c = K̂_cᵀ V_c,  K̂_j = k_j ⊙ 2^{b_L - b_j}, and the chunk's decay 2^{b_L}
//              (decay [B*H, NC, K] f32);
//     reverse: L'_c = Q̃_cᵀ dO_c,  Q̃_i = scale q_i ⊙ 2^{b_i};
//   carry_kernel (parallel over heads and state elements, sequential over chunks):
//     forward: h_0 = s0 (or 0), h_{c+1} = decay_c ⊙ h_c + L_c;
//     reverse: dh_{NC-1} = ds_final (or 0), dh_{c-1} = decay_c ⊙ dh_c + L'_c, ds0 = dh_{-1}.
//
// Storage (bf16, each slot a K x V state): hs [B*H, NC+1]: slot c = h_c, the state
// entering chunk c (slot NC: the final state); local_kernel leaves L_c in slot c+1
// and carry_kernel overwrites it with h_{c+1} after reading it. dhs [B*H, NC+1]:
// slot c+1 = dh_c, the gradient of the state leaving chunk c; L'_c waits in slot c.
// With a gate, the reverse carry also stores rpart [B*H, NC, K] = rowsum(dh_c ⊙ h_{c+1}),
// the gate gradient at the chunk's last row, from f32 dh and h_{c+1} = hs + hlo (hlo:
// the bf16 residual of each stored state, written by the forward carry when asked).
#pragma once

#include "mixer_chunked_common.cuh"

namespace linea {
namespace chunked {

constexpr int kLocLdX = 72;  // bf16 64 x 64 tile row stride
constexpr int kLocLdB = 65;  // f32 gate row stride (vector kind)

template <int G, int VD>
struct LocalLayout {
  static constexpr int LDY = VD + 8, LDO = VD + 4;
  static constexpr int Xs = 0;
  static constexpr int Ys = Xs + smem_round(kBT * kLocLdX * 2);
  static constexpr int bs = Ys + smem_round(kBT * LDY * 2);
  static constexpr int Os = bs + smem_round((G == kGateVector ? kBT * kLocLdB : kBT) * 4);
  static constexpr int bytes = Os + smem_round(64 * LDO * 4);
};

// Grid (NC, B * H, K / 64), 256 threads: rows d0 .. d0+63 of L_c (or L'_c).
template <int G, bool REV, int VD>
__global__ void __launch_bounds__(256) local_kernel(ChunkArgs a, float* decay) {
  using L = LocalLayout<G, VD>;
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Xs = reinterpret_cast<bf16*>(smem + L::Xs);
  bf16* Ys = reinterpret_cast<bf16*>(smem + L::Ys);
  float* bs = reinterpret_cast<float*>(smem + L::bs);
  float* Os = reinterpret_cast<float*>(smem + L::Os);
  const int c = blockIdx.x, bh = blockIdx.y, d0 = blockIdx.z * 64, b = bh / a.H, h = bh % a.H, t0 = c * kBT;
  const int K = a.K, tid = threadIdx.x;
  load_rows(a, REV ? a.dout : a.v, VD, b, h, t0, 0, VD, Ys, L::LDY);
  if (G == kGateScalar) scalar_cumsum(a, b, h, t0, bs);
  if (G == kGateVector) vector_cumsum(a, b, h, t0, d0, 64, bs, kLocLdB);
  __syncthreads();
  auto bv = [&](int i, int j) { return G == kGateVector ? bs[i * kLocLdB + j] : (G == kGateScalar ? bs[i] : 0.f); };
  if (!REV && tid < 64 && decay)
    decay[(int64_t(bh) * a.NC + c) * K + d0 + tid] = G == kGateNone ? 1.f : fast_exp2(bv(kBT - 1, tid));
  const bf16* xsrc = REV ? a.q : a.k;
#pragma unroll 4
  for (int e = tid; e < kBT * 32; e += blockDim.x) {
    const int i = e / 32, j = (e % 32) * 2;
    float2 x = make_float2(0.f, 0.f);
    if (t0 + i < a.T)
      x = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(xsrc + row_of(a, b, t0 + i, h) * K + d0 + j));
    float f0 = REV ? a.scale : 1.f, f1 = f0;
    if (G != kGateNone) {
      f0 *= REV ? fast_exp2(bv(i, j)) : fast_exp2(bv(kBT - 1, j) - bv(i, j));
      f1 *= REV ? fast_exp2(bv(i, j + 1)) : fast_exp2(bv(kBT - 1, j + 1) - bv(i, j + 1));
    }
    *reinterpret_cast<__nv_bfloat162*>(Xs + i * kLocLdX + j) = __floats2bfloat162_rn(x.x * f0, x.y * f1);
  }
  __syncthreads();
  // Os (64 x VD) = Xᵀ (64 x kBT) Y (kBT x VD).
  smem_gemm<true, false>(64, VD, kBT, Xs, kLocLdX, Ys, L::LDY, Os, L::LDO, false);
  __syncthreads();
  bf16* slot =
      REV ? a.dhs + (int64_t(bh) * (a.NC + 1) + c) * K * VD : a.hs + (int64_t(bh) * (a.NC + 1) + c + 1) * K * VD;
  for (int e = tid; e < 64 * VD / 2; e += blockDim.x) {
    const int r = e / (VD / 2), col = (e % (VD / 2)) * 2;
    *reinterpret_cast<__nv_bfloat162*>(slot + int64_t(d0 + r) * VD + col) =
        __floats2bfloat162_rn(Os[r * L::LDO + col], Os[r * L::LDO + col + 1]);
  }
}

// 8 bf16 <-> f32.
__device__ __forceinline__ void unpack8(const uint4& u, float* f) {
  const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
  for (int n = 0; n < 4; ++n) {
    const float2 x = __bfloat1622float2(p[n]);
    f[2 * n] = x.x, f[2 * n + 1] = x.y;
  }
}
__device__ __forceinline__ uint4 pack8(const float* f) {
  uint4 u;
  __nv_bfloat162* p = reinterpret_cast<__nv_bfloat162*>(&u);
#pragma unroll
  for (int n = 0; n < 4; ++n) p[n] = __floats2bfloat162_rn(f[2 * n], f[2 * n + 1]);
  return u;
}

// One thread per 8 consecutive state elements (same key dim d) of one head; the
// V / 8 threads of a row are adjacent lanes. Grid covers B*H*K*V/8 threads, 256 a block.
// hlo: nullptr, or (forward) where to store each state's bf16 residual.
template <bool REV, bool ROWSUM>
__global__ void __launch_bounds__(256) carry_kernel(ChunkArgs a, const float* decay, bf16* hlo) {
  const int64_t per_head = int64_t(a.K) * a.V / 8;
  const int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool live = idx < per_head * a.B * a.H;
  const int64_t bh = live ? idx / per_head : 0, e8 = live ? idx % per_head : 0;
  const int d = int(e8 / (a.V / 8));
  const int64_t KV = int64_t(a.K) * a.V, NC = a.NC;
  const int64_t off = e8 * 8;  // element offset inside a state
  bf16* base = REV ? a.dhs : a.hs;
  const bf16* init = REV ? a.ds_final : a.s0;
  float s[8], l[8];
  if (init && live) unpack8(*reinterpret_cast<const uint4*>(init + bh * KV + off), s);
  else
    for (int n = 0; n < 8; ++n) s[n] = 0.f;
  // Steps go in groups of kAhead: the group's loads are issued first (none of them
  // reads a slot the group stores), so one memory latency covers kAhead steps.
  constexpr int kAhead = REV && ROWSUM ? 4 : 8;
  for (int64_t step0 = 0; step0 < NC; step0 += kAhead) {
    uint4 lu[kAhead], hu[kAhead], ru[kAhead];
    float dec[kAhead];
#pragma unroll
    for (int u = 0; u < kAhead; ++u) {
      const int64_t c = REV ? NC - 1 - (step0 + u) : step0 + u;
      lu[u] = hu[u] = ru[u] = make_uint4(0, 0, 0, 0);
      dec[u] = 1.f;
      if (!live || step0 + u >= NC) continue;
      lu[u] = *reinterpret_cast<const uint4*>(base + (bh * (NC + 1) + (REV ? c : c + 1)) * KV + off);
      if (decay) dec[u] = decay[(bh * NC + c) * a.K + d];
      if (REV && ROWSUM) {
        hu[u] = *reinterpret_cast<const uint4*>(a.hs + (bh * (NC + 1) + c + 1) * KV + off);
        ru[u] = *reinterpret_cast<const uint4*>(hlo + (bh * (NC + 1) + c + 1) * KV + off);
      }
    }
#pragma unroll
    for (int u = 0; u < kAhead; ++u) {
      if (step0 + u >= NC) break;  // uniform over the grid
      const int64_t c = REV ? NC - 1 - (step0 + u) : step0 + u;
      // Store the state at its slot (forward: h_c at c; reverse: dh_c at c+1).
      const uint4 su = pack8(s);
      if (live) {
        *reinterpret_cast<uint4*>(base + (bh * (NC + 1) + (REV ? c + 1 : c)) * KV + off) = su;
        if (!REV && hlo) {
          float hi[8], lo[8];
          unpack8(su, hi);
          for (int n = 0; n < 8; ++n) lo[n] = s[n] - hi[n];
          *reinterpret_cast<uint4*>(hlo + (bh * (NC + 1) + c) * KV + off) = pack8(lo);
        }
      }
      if (REV && ROWSUM) {
        // rpart[bh, c, d] = sum over the row of dh_c ⊙ (hs + hlo)_{c+1}.
        float hv[8], lv[8], r = 0.f;
        unpack8(hu[u], hv);
        unpack8(ru[u], lv);
        for (int n = 0; n < 8; ++n) r += s[n] * (hv[n] + lv[n]);
        for (int w = a.V / 16; w > 0; w >>= 1) r += __shfl_xor_sync(0xffffffffu, r, w);
        if (live && e8 % (a.V / 8) == 0) a.rpart[(bh * NC + c) * a.K + d] = r;
      }
      unpack8(lu[u], l);
      for (int n = 0; n < 8; ++n) s[n] = dec[u] * s[n] + l[n];
    }
  }
  if (!live) return;
  const uint4 su = pack8(s);
  bf16* fin = REV ? a.ds0 : a.s_final;
  if (fin) *reinterpret_cast<uint4*>(fin + bh * KV + off) = su;
  if (!REV) {
    *reinterpret_cast<uint4*>(a.hs + (bh * (NC + 1) + NC) * KV + off) = su;
    if (hlo) {
      float hi[8], lo[8];
      unpack8(su, hi);
      for (int n = 0; n < 8; ++n) lo[n] = s[n] - hi[n];
      *reinterpret_cast<uint4*>(hlo + (bh * (NC + 1) + NC) * KV + off) = pack8(lo);
    }
  }
}

}  // namespace chunked
}  // namespace linea
