// The chunked tensor-core mixer on CUDA for the delta rule: DeltaNet (no
// forget gate) and Gated DeltaNet (scalar gate g [B,T,H]); no input gate, no
// denominator; bf16 with f32 accumulation; K, V in {64, 128}. Layouts: q, k
// [B,T,H,K]; v, o, do [B,T,H,V]; beta, g [B,T,H]; s0, s_final, ds_final, ds0
// [B,H,K,V].
//
// Per head, S'_t = e^{g_t} S_{t-1}, S_t = S'_t + beta_t k_t (v_t - S'_tᵀ k_t)ᵀ,
// o_t = scale S_tᵀ q_t, by chunks of 64 steps (the attribute chunk_size does not
// change the result, so the kernels use their own). Inside a chunk the product
// of the steps' (I - beta k kᵀ) and decays is the WY / UT form: with b the
// cumulative log decay, D_ij = e^{b_i - b_j}, AD = (K Kᵀ) ∘ D strictly lower and
// Ti = (I + diag(beta) AD)^-1 (an f32 forward substitution),
//   W = Ti diag(beta e^b) K,  Ut = Ti diag(beta) V,  U = Ut - W S   (the new values)
//   O = scale (diag(e^b) Q S + ((Q Kᵀ) ∘ D, j <= i) U)
//   S <- e^{b_63} S + (diag(e^{b_63 - b}) K)ᵀ U
// as in the CPU chunked form (src/cpu/mixer/mixer_chunked.cpp). Kernels:
//   forward  prep (W, Ut per chunk) -> fwd_scan (hs, U along T) -> out (o per chunk);
//   backward prep -> fwd_scan -> bwd_prep (Qt, scale Pᵀ dO per chunk) ->
//            bwd_scan (dhs, dU, ds0 along T, reversed) ->
//            dqk (dq; partial dk and gate gradient per chunk) -> wy (dk, dv,
//            dbeta, dg per chunk). The derivation is in mixer_delta_chunked_bwd.cuh.
// Each runs as its register-fragment version (the *_mma kernels in
// mixer_delta_chunked_*_mma.cuh); see use_mma.
// Scratch (bf16 unless said): W, Kh, Qt [rows, K], Ut, U, dU [rows, V], with
// rows = B*H*NC*64; hs, dhs [B*H, NC, K, V]; decay [B*H, NC] f32; dkp [rows, K]
// f32; dbp [rows] f32.
// Everything is deterministic (no atomics). Decay factors are exponentials of
// differences <= 0, so strong gates underflow harmlessly and never overflow.
// Measured on an H200 (H = 16, K = V = 128, bf16, no gate; bench/gpu/
// linea-gpu-delta-session8-both.json): forward 1.12 ms, forward + backward
// 4.36 ms at B = 16, T = 2048; 1.81 and 6.44 ms at B = 1, T = 32768. The
// backward's kernels (wy 0.90 ms, bwd_scan 0.71, dqk 0.62, the recomputed
// prep 0.43 and fwd_scan 0.38 at 16 x 2048) now take three quarters of it.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "cuda_check.h"
#include "cuda_context.h"
#include "mixer_delta_chunked.h"
#include "mixer_delta_chunked_bwd.cuh"
#include "mixer_delta_chunked_bwd_prep_mma.cuh"
#include "mixer_delta_chunked_dqk_mma.cuh"
#include "mixer_delta_chunked_out_mma.cuh"
#include "mixer_delta_chunked_prep_mma.cuh"
#include "mixer_delta_chunked_scan_mma.cuh"
#include "mixer_delta_chunked_wy_mma.cuh"

namespace linea {
namespace {

using namespace delta_chunked;

// Calls f(KD, VD constants) for the call's dims.
template <class F>
void dispatch(int K, int V, F&& f) {
  auto by_v = [&](auto kd) {
    if (V == 64) f(kd, std::integral_constant<int, 64>{});
    else f(kd, std::integral_constant<int, 128>{});
  };
  if (K == 64) by_v(std::integral_constant<int, 64>{});
  else by_v(std::integral_constant<int, 128>{});
}

// The most shared memory any kernel of the path needs at these dims.
int max_smem_bytes(int K, int V) {
  int bytes = 0;
  dispatch(K, V, [&](auto kd, auto vd) {
    constexpr int KD = kd(), VD = vd();
    bytes = cmax(cmax(PrepLayout<KD, VD>::bytes, FwdScanLayout<KD, 32>::bytes),
                 cmax(cmax(OutLayout<KD, VD>::bytes, BwdScanLayout<KD, 32>::bytes),
                      cmax(cmax(DqkLayout<KD, VD>::bytes, WyLayout<KD, VD>::bytes), BwdPrepLayout<KD, VD>::bytes)));
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
    throw OpError(std::string("chunked delta-rule CUDA mixer: tensor ") + name + " is not 16-byte aligned");
}

DeltaArgs common_args(const OpCall& call, const MixerParams& p) {
  DeltaArgs a;
  a.B = int(p.B), a.T = int(p.T), a.H = int(p.H), a.K = int(p.K), a.V = int(p.V);
  a.NC = int((p.T + kC - 1) / kC);
  a.scale = float(p.scale);
  a.gated = p.gate == MixerGate::scalar;
  a.q = call.input("q")->data<bf16>();
  a.k = call.input("k")->data<bf16>();
  a.v = call.input("v")->data<bf16>();
  a.beta = call.input("beta")->data<bf16>();
  a.g = a.gated ? call.input("g")->data<bf16>() : nullptr;
  a.s0 = p.has_s0 ? call.input("s0")->data<bf16>() : nullptr;
  // 16-byte loads of q, k, v rows (and of do, in the backward).
  check_aligned(a.q, "q");
  check_aligned(a.k, "k");
  check_aligned(a.v, "v");
  return a;
}

// Scratch shared by both ops: the WY form and the forward scan's outputs.
struct FwdScratch {
  Tensor w, ut, u, hs, kh, decay;
};

FwdScratch forward_scratch(const CudaContext& ctx, DeltaArgs& a) {
  const int64_t rows = int64_t(a.B) * a.H * a.NC * kC;
  FwdScratch s{ctx.scratch(Shape{rows * a.K}, DType::bf16),
               ctx.scratch(Shape{rows * a.V}, DType::bf16),
               ctx.scratch(Shape{rows * a.V}, DType::bf16),
               ctx.scratch(Shape{int64_t(a.B) * a.H * a.NC * a.K * a.V}, DType::bf16),
               ctx.scratch(Shape{rows * a.K}, DType::bf16),
               ctx.scratch(Shape{int64_t(a.B) * a.H * a.NC}, DType::f32)};
  a.w = s.w.data<bf16>(), a.ut = s.ut.data<bf16>(), a.u = s.u.data<bf16>(), a.hs = s.hs.data<bf16>();
  a.kh = s.kh.data<bf16>(), a.decay = s.decay.data<float>();
  return s;
}

// Calls f(VT constant): the scans' V tile. 32 columns is the measured
// configuration; 16 (more blocks sharing the sequential work when B*H*V/32 is
// under the SM count, shorter chains per chunk) compiles and is reasoned
// correct, but has not run on a GPU yet: benchmark it before switching it on.
template <class F>
void with_scan_tile(const DeltaArgs&, F&& f) {
  f(std::integral_constant<int, 32>{});
}

// Whether environment variable `name` is set to `value`.
bool env_is(const char* name, const char* value) {
  const char* set = std::getenv(name);
  return set && std::strcmp(set, value) == 0;
}

// Whether the delta rule's kernels are the register-fragment ones (the
// defaults: prep_mma, fwd_scan_mma, out_mma, bwd_prep_mma, bwd_scan_mma,
// dqk_mma, wy_mma) or the older ones staged through f32 shared memory (prep,
// fwd_scan, out, bwd_prep, bwd_scan, dqk, wy: LINEA_DELTA_KERNELS=wmma, kept
// for comparisons and as the lab's baseline). On an H200 at B = 16, T = 2048,
// H = 16, K = V = 128, bf16, the per-chunk kernels took the delta rule's
// forward + backward from 9.26 to 5.92 ms and the scans then to 4.36 ms
// (forward 1.57 -> 1.12 ms; bench/gpu/README.md, seventh and eighth sessions).
bool use_mma() {
  static const bool mma = !env_is("LINEA_DELTA_KERNELS", "wmma");
  return mma;
}

// Calls f(STAGES constant): the register-fragment scans' stages of operands in
// shared memory (mixer_delta_chunked_scan_mma.cuh) for a grid of `blocks`.
// One stage lets two blocks of the backward scan (four of the forward's) share
// an SM, which pays only when the grid has those blocks: at B = 16, T = 2048,
// H = 16, K = V = 128 (1024 blocks) one stage took the delta rule's forward +
// backward from 4.44 / 4.41 ms (two stages, before and after) to 4.17 on an
// H200; at B = 1, T = 32768 (64 blocks for 132 SMs) it lost 8 % (6.57 / 6.53 ->
// 7.09; bench/gpu/README.md, sixteenth session). So one stage from two blocks
// per SM up; LINEA_DELTA_SCAN_STAGES=1 or 2 forces either.
template <class F>
void with_scan_stages(int64_t blocks, int sm_count, F&& f) {
  static const char* forced = std::getenv("LINEA_DELTA_SCAN_STAGES");
  const bool one = forced && *forced ? std::strcmp(forced, "1") == 0 : blocks >= 2 * int64_t(sm_count);
  if (one) f(std::integral_constant<int, 1>{});
  else f(std::integral_constant<int, 2>{});
}

// Raises the kernel's shared-memory limit to `bytes`, launches it on the
// stream and checks the launch; `what` names the kernel in errors.
template <class Kernel>
void launch(Kernel kernel, dim3 grid, int threads, int bytes, cudaStream_t stream, const DeltaArgs& a,
            const char* what) {
  allow_smem(kernel, bytes);
  kernel<<<grid, threads, bytes, stream>>>(a);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)  // the name is built only for the error: launches are on the step's hot path
    cuda_check(err, (std::string("launch of mixer_delta_chunked ") + what).c_str(), __FILE__, __LINE__);
}

// prep + fwd_scan: w, ut, hs, u (and s_final when asked). Needs B*H > 0.
template <int KD, int VD>
void launch_forward_scan(const DeltaArgs& a, cudaStream_t stream, int sm_count) {
  const unsigned BH = unsigned(int64_t(a.B) * a.H);
  const dim3 chunks(unsigned(a.NC), BH);
  if (a.NC > 0 && use_mma())
    launch(prep_mma_kernel<KD, VD>, chunks, kThreads, PrepMmaLayout<KD, VD>::bytes, stream, a, "prep_mma_kernel");
  else if (a.NC > 0) launch(prep_kernel<KD, VD>, chunks, kThreads, PrepLayout<KD, VD>::bytes, stream, a, "prep_kernel");
  with_scan_tile(a, [&](auto vt) {
    constexpr int VT = vt();
    const dim3 tiles(unsigned(VD / VT), BH);
    if (use_mma())
      with_scan_stages(int64_t(tiles.x) * tiles.y, sm_count, [&](auto stages) {
        constexpr int ST = stages();
        launch(fwd_scan_mma_kernel<KD, VD, VT, ST>, tiles, kScanThreads, ScanMmaLayout<KD, VT, 2, 1, ST>::bytes, stream,
               a, "fwd_scan_mma_kernel");
      });
    else
      launch(fwd_scan_kernel<KD, VD, VT>, tiles, kThreads, FwdScanLayout<KD, VT>::bytes, stream, a, "fwd_scan_kernel");
  });
}

}  // namespace

bool cuda_mixer_delta_chunked_takes(const MixerParams& p, DType dtype) {
  if (dtype != DType::bf16 || !p.chunked() || !p.delta) return false;
  if (p.input_gate != MixerInputGate::none || p.normalize != MixerNormalize::none) return false;
  // The fixed gate's dg sums every step's gradient of a head, which cancel to
  // a fraction of their magnitudes (bf16 intermediates leave it a few percent
  // off); vector gates have no path here.
  if (p.gate != MixerGate::none && p.gate != MixerGate::scalar) return false;
  if ((p.K != 64 && p.K != 128) || (p.V != 64 && p.V != 128)) return false;
  if (p.B < 0 || p.H < 0 || p.T < 0 || p.B * p.H > 65535 || p.T > (int64_t(1) << 30)) return false;
  // Up to 204 KiB of shared memory per block (K = V = 128, dqk_kernel).
  int device = 0, optin = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
    cudaGetLastError();  // clear the error: another path takes the call
    return false;
  }
  return max_smem_bytes(int(p.K), int(p.V)) <= optin;
}

void cuda_mixer_delta_chunked_fwd(OpCall& call, const MixerParams& p) {
  const CudaContext& ctx = cuda_context();
  DeltaArgs a = common_args(call, p);
  a.o = call.output("o")->data<bf16>();
  Tensor* s_final = call.output("s_final");
  a.s_final = p.want_s_final && s_final ? s_final->data<bf16>() : nullptr;
  if (p.B * p.H == 0) return;
  const FwdScratch scratch = forward_scratch(ctx, a);
  dispatch(a.K, a.V, [&](auto kd, auto vd) {
    constexpr int KD = kd(), VD = vd();
    launch_forward_scan<KD, VD>(a, ctx.stream, ctx.sm_count);
    if (a.NC == 0) return;
    const dim3 chunks(unsigned(a.NC), unsigned(p.B * p.H));
    if (use_mma())
      launch(out_mma_kernel<KD, VD>, chunks, kThreads, OutMmaLayout<KD, VD>::bytes, ctx.stream, a, "out_mma_kernel");
    else launch(out_kernel<KD, VD>, chunks, kThreads, OutLayout<KD, VD>::bytes, ctx.stream, a, "out_kernel");
  });
}

void cuda_mixer_delta_chunked_bwd(OpCall& call, const MixerParams& p) {
  const CudaContext& ctx = cuda_context();
  DeltaArgs a = common_args(call, p);
  a.dout = call.input("do")->data<bf16>();
  check_aligned(a.dout, "do");
  a.ds_final = p.has_ds_final ? call.input("ds_final")->data<bf16>() : nullptr;
  a.dq = call.output("dq")->data<bf16>();
  a.dk = call.output("dk")->data<bf16>();
  a.dv = call.output("dv")->data<bf16>();
  a.dbeta = call.output("dbeta")->data<bf16>();
  a.dg = a.gated ? call.output("dg")->data<bf16>() : nullptr;
  Tensor* ds0 = call.output("ds0");
  a.ds0 = p.want_ds0 && ds0 ? ds0->data<bf16>() : nullptr;
  if (p.B * p.H == 0) return;
  const FwdScratch scratch = forward_scratch(ctx, a);
  const int64_t rows = p.B * p.H * a.NC * kC;
  Tensor du = ctx.scratch(Shape{rows * p.V}, DType::bf16);
  Tensor dhs = ctx.scratch(Shape{p.B * p.H * a.NC * p.K * p.V}, DType::bf16);
  Tensor dkp = ctx.scratch(Shape{rows * p.K}, DType::f32);
  Tensor dbp = ctx.scratch(Shape{rows}, DType::f32);
  Tensor qt = ctx.scratch(Shape{rows * p.K}, DType::bf16);
  a.du = du.data<bf16>(), a.dhs = dhs.data<bf16>(), a.dkp = dkp.data<float>(), a.dbp = dbp.data<float>();
  a.qt = qt.data<bf16>();
  dispatch(a.K, a.V, [&](auto kd, auto vd) {
    constexpr int KD = kd(), VD = vd();
    const unsigned BH = unsigned(p.B * p.H);
    const dim3 chunks(unsigned(a.NC), BH);
    launch_forward_scan<KD, VD>(a, ctx.stream, ctx.sm_count);
    if (a.NC > 0 && use_mma())
      launch(bwd_prep_mma_kernel<KD, VD>, chunks, kThreads, BwdPrepMmaLayout<KD, VD>::bytes, ctx.stream, a,
             "bwd_prep_mma_kernel");
    else if (a.NC > 0)
      launch(bwd_prep_kernel<KD, VD>, chunks, kThreads, BwdPrepLayout<KD, VD>::bytes, ctx.stream, a, "bwd_prep_kernel");
    with_scan_tile(a, [&](auto vt) {
      constexpr int VT = vt();
      const dim3 tiles(unsigned(VD / VT), BH);
      if (use_mma())
        with_scan_stages(int64_t(tiles.x) * tiles.y, ctx.sm_count, [&](auto stages) {
          constexpr int ST = stages();
          launch(bwd_scan_mma_kernel<KD, VD, VT, ST>, tiles, kScanThreads, ScanMmaLayout<KD, VT, 3, 2, ST>::bytes,
                 ctx.stream, a, "bwd_scan_mma_kernel");
        });
      else
        launch(bwd_scan_kernel<KD, VD, VT>, tiles, kThreads, BwdScanLayout<KD, VT>::bytes, ctx.stream, a,
               "bwd_scan_kernel");
    });
    if (a.NC == 0) return;
    if (use_mma()) {
      launch(dqk_mma_kernel<KD, VD>, chunks, kThreads, DqkMmaLayout<KD, VD>::bytes, ctx.stream, a, "dqk_mma_kernel");
      launch(wy_mma_kernel<KD, VD>, chunks, kThreads, WyMmaLayout<KD, VD>::bytes, ctx.stream, a, "wy_mma_kernel");
    } else {
      launch(dqk_kernel<KD, VD>, chunks, kThreads, DqkLayout<KD, VD>::bytes, ctx.stream, a, "dqk_kernel");
      launch(wy_kernel<KD, VD>, chunks, kThreads, WyLayout<KD, VD>::bytes, ctx.stream, a, "wy_kernel");
    }
  });
}

}  // namespace linea
