// The chunked tensor-core mixer on CUDA, for the gated additive family: no
// delta rule, no input gate, no denominator; forget gate none, fixed [H],
// scalar [B,T,H] or vector [B,T,H,K]; bf16 with f32 accumulation; K, V in
// {64, 128}. Layouts: q, k [B,T,H,K]; v, o, do [B,T,H,V]; s0, s_final, ds_final,
// ds0 [B,H,K,V].
//
// Per head the recurrence S_t = Diag(e^{g_t}) S_{t-1} + k_t v_tᵀ, o_t = scale S_tᵀ q_t
// is computed by chunks of 64 steps (the attribute chunk_size does not change
// the result, so the kernels use their own). The forward, with no gate or a
// fixed or scalar one, is one pass (mixer_chunked_fused_fwd.cuh, use_fused_fwd;
// by segments of T when the heads are few); otherwise, and in the backward:
//   1. the passes along T storing the state entering every chunk, hs [B*H, NC+1, K, V]
//      bf16: each chunk's own contribution in parallel and a carry over chunks
//      (mixer_chunked_scan.cuh), or (when its blocks fill the GPU, use_seq_scan) one
//      sequential kernel per (64 x 64 state tile, head) (mixer_chunked_seqscan.cuh);
//   2. forward output, parallel over chunks: o = scale (Q̃ hs_c + P V), P the
//      chunk's causal gated scores (mixer_chunked_vec_mma.cuh for vector gates;
//      mixer_chunked_fwd.cuh, the older kernel);
//   backward: the forward scan, a reverse scan storing the state gradients
//   dhs [B*H, NC, K, V] (and ds0), then one kernel per chunk for dq, dk, dv and
//   dg (register fragments: mixer_chunked_bwd_mma.cuh, mixer_chunked_vec_mma.cuh
//   for vector gates; the older kernel mixer_chunked_bwd.cuh); the fixed gate's
//   dg is summed over B and the chunks by a last kernel. Everything is deterministic (no atomics).
// Decay factors are always 2^{x} with x <= 0 (see mixer_chunked_common.cuh), so
// strong gates underflow harmlessly and never overflow.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "cuda_check.h"
#include "cuda_context.h"
#include "mixer_chunked.h"
#include "mixer_chunked_bwd.cuh"
#include "mixer_chunked_bwd_mma.cuh"
#include "mixer_chunked_fused_fwd.cuh"
#include "mixer_chunked_scan.cuh"
#include "mixer_chunked_seqscan.cuh"
#include "mixer_chunked_vec_mma.cuh"

namespace linea {
namespace {

using namespace chunked;

int gate_kind(const MixerParams& p) {
  switch (p.gate) {
    case MixerGate::none: return kGateNone;
    case MixerGate::fixed:
    case MixerGate::scalar: return kGateScalar;
    case MixerGate::vector: break;
  }
  return kGateVector;
}

// Calls f(std::integral_constant<int, G>{}, KD, VD constants) for the call's kind and dims.
template <class F>
void dispatch(int G, int K, int V, F&& f) {
  auto by_v = [&](auto g, auto kd) {
    if (V == 64) f(g, kd, std::integral_constant<int, 64>{});
    else f(g, kd, std::integral_constant<int, 128>{});
  };
  auto by_k = [&](auto g) {
    if (K == 64) by_v(g, std::integral_constant<int, 64>{});
    else by_v(g, std::integral_constant<int, 128>{});
  };
  if (G == kGateNone) by_k(std::integral_constant<int, kGateNone>{});
  else if (G == kGateScalar) by_k(std::integral_constant<int, kGateScalar>{});
  else by_k(std::integral_constant<int, kGateVector>{});
}

// Shared memory the per-chunk kernels need (local_kernel needs less: at most 76 KiB).
int chunk_smem_bytes(int G, int K, int V, bool backward) {
  int bytes = 0;
  dispatch(G, K, V, [&](auto g, auto kd, auto vd) {
    bytes = backward ? BwdLayout<g(), kd(), vd()>::bytes : FwdLayout<g(), kd(), vd()>::bytes;
    if (g() == kGateVector)
      bytes = std::max(bytes, backward ? BwdVecMmaLayout<kd(), vd()>::bytes : FwdVecMmaLayout<kd(), vd()>::bytes);
  });
  return bytes;
}

template <class Kernel>
void allow_smem(Kernel kernel, int bytes) {
  LINEA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
}

template <class T>
void check_aligned(const T* p, const char* name) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0)
    throw OpError(std::string("chunked CUDA mixer: tensor ") + name + " is not 16-byte aligned");
}

// The launch arguments common to both ops.
ChunkArgs common_args(const MixerParams& p, const ChunkedMixerIO& io) {
  ChunkArgs a;
  a.B = int(p.B), a.T = int(p.T), a.H = int(p.H), a.K = int(p.K), a.V = int(p.V);
  a.NC = int((p.T + kBT - 1) / kBT);
  a.scale = float(p.scale);
  a.fixed = p.gate == MixerGate::fixed;
  a.q = io.q;
  a.k = io.k;
  a.v = io.v;
  a.g = p.gate != MixerGate::none ? io.g : nullptr;
  a.s0 = p.has_s0 ? io.s0 : nullptr;
  // 16-byte loads and stores: q, k, v, g (vector) by rows, states by 8 elements.
  check_aligned(a.q, "q");
  check_aligned(a.k, "k");
  check_aligned(a.v, "v");
  if (p.gate == MixerGate::vector) check_aligned(a.g, "g");
  if (a.s0) check_aligned(a.s0, "s0");
  return a;
}

// Whether the passes along T run as one sequential kernel per state tile
// (mixer_chunked_seqscan.cuh) rather than split into local contributions and a
// carry (mixer_chunked_scan.cuh). The sequential kernel has one block per
// 64 x 64 state tile and head, B * H * (K / 64) * (V / 64) of them: when they
// fill every SM twice it is faster (H200, bf16, H = 16, K = V = 128: at
// B = 16, T = 2048 fwd+bwd 4.21 ms against 5.16 with no gate, 5.20 against
// 5.87 scalar, 12.26 against 12.62 vector), when they do not the split form
// is (B = 1, T = 32768: 5.10 ms against 6.43 with no gate; bench/gpu/README.md).
// LINEA_CHUNKED_SCAN=seq or =split forces one form (the GPU box's tests run both).
bool use_seq_scan(int64_t B, int64_t H, int64_t K, int64_t V, int sm_count) {
  static const char* forced = std::getenv("LINEA_CHUNKED_SCAN");
  if (forced && std::strcmp(forced, "seq") == 0) return true;
  if (forced && std::strcmp(forced, "split") == 0) return false;
  return B * H * (K / 64) * (V / 64) >= 2 * int64_t(sm_count);
}

// Whether the forward runs as one pass (mixer_chunked_fused_fwd.cuh: no gate,
// fixed or scalar gate) instead of the state passes plus the per-chunk output
// kernel. It is the default for those gates: where its B * H * (V / 64) blocks
// give every SM one it walks each head's chunks in one block, and where they do
// not it cuts T into segments (split-T). Measured on the H200 (bf16, H = 16,
// K = V = 128, bench/gpu/README.md): at B = 16, T = 2048 the forward takes
// 0.29 ms against 1.04 with no gate and 0.43 against 1.26 with a scalar gate;
// at B = 1, T = 32768 (split-T, 16 segments) 0.65-0.70 ms against 1.33-1.37
// with no gate, 0.91 against 1.44-1.49 fixed and 1.00 against 1.49-1.55 scalar.
// LINEA_CHUNKED_FWD=passes forces the older form (native/tools/gpu-check.sh
// tests and times both).
bool use_fused_fwd(int G) {
  if (G == kGateVector) return false;
  static const char* forced = std::getenv("LINEA_CHUNKED_FWD");
  return !(forced && std::strcmp(forced, "passes") == 0);
}

// Whether the vector gate's forward output kernel is the register-fragment one
// (mixer_chunked_vec_mma.cuh) instead of fwd_out_kernel. The default: on the
// H200 it passed the cross-backend test and took the vector gate's bf16
// forward at H 16, dk = dv = 128 from 3.09 to 2.13 ms (16x2048) and 3.43 to
// 2.43 ms (1x32768) (bench/gpu/linea-gpu-vec-{default,mma}.json).
// LINEA_CHUNKED_FWD=passes keeps the older kernel.
bool use_vec_mma_fwd() {
  static const char* forced = std::getenv("LINEA_CHUNKED_FWD");
  return !(forced && std::strcmp(forced, "passes") == 0);
}

// Whether the backward's per-chunk kernel is a register-fragment one
// (mixer_chunked_bwd_mma.cuh for no gate, fixed and scalar gates;
// mixer_chunked_vec_mma.cuh for vector gates) instead of bwd_chunk_kernel.
// The default: on the H200 each passed the cross-backend test and took the
// bf16 fwd+bwd at H 16, dk = dv = 128 from 3.43 to 1.56 ms (16x2048, no gate)
// and 5.04 to 3.14 ms (1x32768) (bench/gpu/linea-gpu-bwd-{chunk,mma}.json),
// and for the vector gate, with its forward kernel, from 12.24 to 7.01 ms
// (16x2048) and 12.92 to 7.52 ms (1x32768). LINEA_CHUNKED_BWD=chunk keeps the
// older kernel for comparison.
bool use_mma_bwd() {
  static const char* forced = std::getenv("LINEA_CHUNKED_BWD");
  return !(forced && std::strcmp(forced, "chunk") == 0);
}

// The passes along T. Forward: fills hs (and hlo; the split form also decay);
// reverse: dhs, rpart, ds0.
template <int G, int VD, bool REV>
void launch_passes(const ChunkArgs& a, float* decay, bf16* hlo, bool seq, cudaStream_t stream) {
  const int64_t BH = int64_t(a.B) * a.H;
  if (BH == 0) return;
  if (seq) {
    constexpr bool rowsum = REV && G != kGateNone;
    const int bytes = SeqScanLayout<G, REV, rowsum>::bytes;
    allow_smem(seq_scan_kernel<G, REV, rowsum>, bytes);
    const dim3 grid(unsigned(a.K / 64), unsigned(a.V / 64), unsigned(BH));
    seq_scan_kernel<G, REV, rowsum><<<grid, kSeqThreads, bytes, stream>>>(a, hlo);
    LINEA_CUDA_CHECK_LAUNCH("mixer_chunked seq_scan_kernel");
    return;
  }
  if (a.NC > 0) {
    const int bytes = LocalLayout<G, VD>::bytes;
    allow_smem(local_kernel<G, REV, VD>, bytes);
    const dim3 grid(unsigned(a.NC), unsigned(BH), unsigned(a.K / 64));
    local_kernel<G, REV, VD><<<grid, 256, bytes, stream>>>(a, decay);
    LINEA_CUDA_CHECK_LAUNCH("mixer_chunked local_kernel");
  }
  const int64_t threads = BH * a.K * a.V / 8;
  const unsigned blocks = unsigned((threads + 255) / 256);
  const float* dec = G == kGateNone ? nullptr : decay;
  if (REV && G != kGateNone) carry_kernel<REV, true><<<blocks, 256, 0, stream>>>(a, dec, hlo);
  else carry_kernel<REV, false><<<blocks, 256, 0, stream>>>(a, dec, hlo);
  LINEA_CUDA_CHECK_LAUNCH("mixer_chunked carry_kernel");
}

}  // namespace

bool cuda_mixer_chunked_takes(const MixerParams& p, DType dtype) {
  if (dtype != DType::bf16 || !p.chunked()) return false;
  if (p.delta || p.input_gate != MixerInputGate::none || p.normalize != MixerNormalize::none) return false;
  // The fixed gate's dg sums every step's gradient of a head, which cancel to a
  // fraction of their magnitudes: bf16 products leave it a few percent off an
  // f64 reference, so when it is asked for the recurrent path (f32 states) takes
  // the call. The forward, and a backward without dg (a constant decay), run here.
  if (p.gate == MixerGate::fixed && p.want_dg) return false;
  if ((p.K != 64 && p.K != 128) || (p.V != 64 && p.V != 128)) return false;
  if (p.B < 0 || p.H < 0 || p.T < 0 || p.B * p.H > 65535 || p.T > (int64_t(1) << 30)) return false;
  // The per-chunk backward needs up to 212 KiB of shared memory (K = V = 128, vector gate).
  int device = 0, optin = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
    cudaGetLastError();  // clear the error: the recurrent path takes the call
    return false;
  }
  const int G = gate_kind(p);
  return chunk_smem_bytes(G, int(p.K), int(p.V), true) <= optin &&
         chunk_smem_bytes(G, int(p.K), int(p.V), false) <= optin;
}

static ChunkedMixerIO chunked_io(OpCall& call, const MixerParams& p, bool backward) {
  ChunkedMixerIO io;
  io.q = call.input("q")->data<bf16>();
  io.k = call.input("k")->data<bf16>();
  io.v = call.input("v")->data<bf16>();
  if (p.gate != MixerGate::none) io.g = call.input("g")->data<bf16>();
  if (p.has_s0) io.s0 = call.input("s0")->data<bf16>();
  if (!backward) {
    io.o = call.output("o")->data<bf16>();
    if (p.want_s_final) io.s_final = data_or_null<bf16>(call.output("s_final"));
    return io;
  }
  io.dout = call.input("do")->data<bf16>();
  if (p.has_ds_final) io.ds_final = call.input("ds_final")->data<bf16>();
  io.dq = call.output("dq")->data<bf16>();
  io.dk = call.output("dk")->data<bf16>();
  io.dv = call.output("dv")->data<bf16>();
  io.dg = data_or_null<bf16>(call.output("dg"));  // absent for a fixed gate whose gradient is not asked for
  if (p.want_ds0) io.ds0 = data_or_null<bf16>(call.output("ds0"));
  return io;
}

void cuda_mixer_chunked_fwd(OpCall& call, const MixerParams& p) {
  cuda_mixer_chunked_fwd(p, chunked_io(call, p, false));
}

void cuda_mixer_chunked_bwd(OpCall& call, const MixerParams& p) {
  cuda_mixer_chunked_bwd(p, chunked_io(call, p, true));
}

void cuda_mixer_chunked_fwd(const MixerParams& p, const ChunkedMixerIO& io) {
  const CudaContext& ctx = cuda_context();
  ChunkArgs a = common_args(p, io);
  a.o = io.o;
  a.s_final = io.s_final;
  if (a.s_final) check_aligned(a.s_final, "s_final");
  const int G = gate_kind(p);
  const int64_t BH = p.B * p.H;
  if (use_fused_fwd(G)) {
    if (BH == 0) return;
    const int64_t blocks = BH * (a.V / kFusedVT);
    // Too few heads to fill the GPU: by segments of T.
    a.segs = 1;
    if (blocks < ctx.sm_count && a.NC > 1) {
      const int64_t want = std::min<int64_t>(a.NC, (2 * ctx.sm_count + blocks - 1) / blocks);
      a.seg_chunks = int((a.NC + want - 1) / want);
      a.segs = (a.NC + a.seg_chunks - 1) / a.seg_chunks;
    }
    Tensor seg_out = ctx.scratch(Shape{a.segs > 1 ? BH * a.segs * p.K * p.V : 0}, DType::f32);
    Tensor seg_in = ctx.scratch(Shape{a.segs > 1 ? BH * a.segs * p.K * p.V : 0}, DType::f32);
    Tensor seg_decay = ctx.scratch(Shape{a.segs > 1 ? BH * a.segs : 0}, DType::f32);
    if (a.segs > 1) {
      a.seg_out = seg_out.data<float>();
      a.seg_in = seg_in.data<float>();
      a.seg_decay = seg_decay.data<float>();
    }
    dispatch(G, a.K, a.V, [&](auto g, auto kd, auto) {
      if constexpr (g() != kGateVector) {
        constexpr int bytes = FusedFwdLayout<kd()>::bytes;
        auto launch = [&](auto mode) {
          allow_smem(fused_fwd_kernel<g(), kd(), mode()>, bytes);
          const dim3 grid(unsigned(a.V / kFusedVT), unsigned(BH), unsigned(a.segs));
          fused_fwd_kernel<g(), kd(), mode()><<<grid, kFusedThreads, bytes, ctx.stream>>>(a);
          LINEA_CUDA_CHECK_LAUNCH("mixer_chunked fused_fwd_kernel");
        };
        if (a.segs == 1) {
          launch(std::integral_constant<int, kFull>{});
          return;
        }
        launch(std::integral_constant<int, kSegState>{});
        const int64_t n = BH * a.K * a.V;
        segment_prefix_kernel<<<unsigned((n + 255) / 256), 256, 0, ctx.stream>>>(a);
        LINEA_CUDA_CHECK_LAUNCH("mixer_chunked segment_prefix_kernel");
        launch(std::integral_constant<int, kSegOut>{});
      }
    });
    return;
  }
  Tensor hs = ctx.scratch(Shape{BH * (a.NC + 1) * p.K * p.V}, DType::bf16);
  const bool seq = use_seq_scan(p.B, p.H, p.K, p.V, ctx.sm_count);
  Tensor decay = ctx.scratch(Shape{G == kGateNone || seq ? 0 : BH * a.NC * p.K}, DType::f32);
  a.hs = hs.data<bf16>();
  float* dec = G == kGateNone || seq ? nullptr : decay.data<float>();
  dispatch(G, a.K, a.V, [&](auto g, auto kd, auto vd) {
    launch_passes<g(), vd(), false>(a, dec, nullptr, seq, ctx.stream);
    if (BH == 0 || a.NC == 0) return;
    if constexpr (g() == kGateVector) {
      if (use_vec_mma_fwd()) {
        constexpr int bytes = FwdVecMmaLayout<kd(), vd()>::bytes;
        allow_smem(fwd_vec_mma_kernel<kd(), vd()>, bytes);
        fwd_vec_mma_kernel<kd(), vd()><<<dim3(unsigned(a.NC), unsigned(BH)), kBwdMmaThreads, bytes, ctx.stream>>>(a);
        LINEA_CUDA_CHECK_LAUNCH("mixer_chunked fwd_vec_mma_kernel");
        return;
      }
    }
    const int bytes = FwdLayout<g(), kd(), vd()>::bytes;
    allow_smem(fwd_out_kernel<g(), kd(), vd()>, bytes);
    const dim3 grid(unsigned(a.NC), unsigned(BH), 1u);
    fwd_out_kernel<g(), kd(), vd()><<<grid, 256, bytes, ctx.stream>>>(a);
    LINEA_CUDA_CHECK_LAUNCH("mixer_chunked fwd_out_kernel");
  });
}

void cuda_mixer_chunked_bwd(const MixerParams& p, const ChunkedMixerIO& io) {
  const CudaContext& ctx = cuda_context();
  ChunkArgs a = common_args(p, io);
  a.dout = io.dout;
  check_aligned(a.dout, "do");
  a.ds_final = p.has_ds_final ? io.ds_final : nullptr;
  a.dq = io.dq;
  a.dk = io.dk;
  a.dv = io.dv;
  a.dg = io.dg;
  a.dq_add = io.dq_add;
  a.dk_add = io.dk_add;
  a.dv_add = io.dv_add;
  a.dg_add = io.dg_add;
  if (a.fixed && a.dg_add) throw std::invalid_argument("mixer_chunked: a fixed gate's dg cannot be added into f32");
  a.ds0 = p.want_ds0 ? io.ds0 : nullptr;
  if (a.ds_final) check_aligned(a.ds_final, "ds_final");
  if (a.ds0) check_aligned(a.ds0, "ds0");
  const int G = gate_kind(p);
  const int64_t BH = p.B * p.H, KV = p.K * p.V;
  const bool gated = G != kGateNone;
  Tensor hs = ctx.scratch(Shape{BH * (a.NC + 1) * KV}, DType::bf16);
  Tensor hlo = ctx.scratch(Shape{gated ? BH * (a.NC + 1) * KV : 0}, DType::bf16);
  Tensor dhs = ctx.scratch(Shape{BH * (a.NC + 1) * KV}, DType::bf16);
  const bool seq = use_seq_scan(p.B, p.H, p.K, p.V, ctx.sm_count);
  Tensor decay = ctx.scratch(Shape{gated && !seq ? BH * a.NC * p.K : 0}, DType::f32);
  a.rparts = seq ? a.V / 64 : 1;
  Tensor rpart = ctx.scratch(Shape{gated ? BH * a.NC * a.rparts * p.K : 0}, DType::f32);
  const bool fixed_dg = a.fixed && a.dg;
  Tensor dgpart = ctx.scratch(Shape{fixed_dg ? BH * a.NC : 0}, DType::f32);
  a.hs = hs.data<bf16>();
  a.dhs = dhs.data<bf16>();
  float* dec = gated && !seq ? decay.data<float>() : nullptr;
  bf16* lo = gated ? hlo.data<bf16>() : nullptr;
  if (gated) a.rpart = rpart.data<float>();
  if (fixed_dg) a.dgpart = dgpart.data<float>();
  dispatch(G, a.K, a.V, [&](auto g, auto kd, auto vd) {
    launch_passes<g(), vd(), false>(a, dec, lo, seq, ctx.stream);
    launch_passes<g(), vd(), true>(a, dec, lo, seq, ctx.stream);
    if (BH == 0 || a.NC == 0) return;
    if constexpr (g() == kGateVector) {
      if (use_mma_bwd()) {
        constexpr int bytes = BwdVecMmaLayout<kd(), vd()>::bytes;
        allow_smem(bwd_vec_mma_kernel<kd(), vd()>, bytes);
        bwd_vec_mma_kernel<kd(), vd()><<<dim3(unsigned(a.NC), unsigned(BH)), kBwdMmaThreads, bytes, ctx.stream>>>(a);
        LINEA_CUDA_CHECK_LAUNCH("mixer_chunked bwd_vec_mma_kernel");
        return;
      }
    } else {
      if (use_mma_bwd()) {
        constexpr int bytes = BwdMmaLayout<kd(), vd()>::bytes;
        allow_smem(bwd_mma_kernel<g(), kd(), vd()>, bytes);
        bwd_mma_kernel<g(), kd(), vd()><<<dim3(unsigned(a.NC), unsigned(BH)), kBwdMmaThreads, bytes, ctx.stream>>>(a);
        LINEA_CUDA_CHECK_LAUNCH("mixer_chunked bwd_mma_kernel");
        return;
      }
    }
    const int bytes = BwdLayout<g(), kd(), vd()>::bytes;
    allow_smem(bwd_chunk_kernel<g(), kd(), vd()>, bytes);
    bwd_chunk_kernel<g(), kd(), vd()><<<dim3(unsigned(a.NC), unsigned(BH)), 256, bytes, ctx.stream>>>(a);
    LINEA_CUDA_CHECK_LAUNCH("mixer_chunked bwd_chunk_kernel");
  });
  if (fixed_dg && p.H > 0) {
    reduce_fixed_dg<<<unsigned(p.H), 256, 0, ctx.stream>>>(a);
    LINEA_CUDA_CHECK_LAUNCH("mixer_chunked reduce_fixed_dg");
  }
}

}  // namespace linea
