// Softmax attention on CUDA: softmax_attn_fwd, softmax_attn_bwd and
// softmax_attn_decode in f32, f64 and bf16, matching the CPU reference
// (src/cpu/softmax_attention.cpp, src/cpu/attention_decode.cpp).
//
// q, k, dq, dk: (B, T, H, D)   v, o, do, dv: (B, T, H, V)   lse: (B, H, T)
// decode: q (B, H, D), k (B, S, H, D), v (B, S, H, V), o (B, H, V)
//
// Flash attention: tiles of queries against tiles of keys with an online
// softmax, no T x T matrix. Kernels:
//   softmax_attention_mma.cuh     bf16 forward on tensor cores, D = V in {64, 128}
//   softmax_attention_mma_bwd.cuh bf16 backward on tensor cores, same shapes
//   softmax_attention_fma.cuh     every other call, on FMA tiles
// Other head dims up to 128 (bf16) run the tensor-core kernels on copies of
// q, k, v (and do) zero-padded to 64 or 128 (pad_dims.h): zero columns add
// nothing to the scores, and o's padding, like the gradients', is dropped.
// Backward: delta = rowsum(do * o), then, bf16 on tensor cores,
// softmax_attention_mma_bwd_fused.cuh: dk, dv and dq in one pass, dq summed
// by f32 atomics (not bitwise reproducible); LINEA_ATTN_BWD=twopass and every
// other call: dq per query block and dk, dv per key block, one writer per
// output row, no atomics, deterministic.
//   softmax_attention_decode.cuh  split-K decode with a merge pass
// This file reads the call, builds the launch environment from
// cuda_context() and registers the kernels with a predicate that refuses
// head dims above 256 and shapes whose tiles do not fit the device's shared
// memory, by name, before anything is allocated.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "../ops/op_params.h"
#include "cuda_backend.h"
#include "cuda_context.h"
#include "pad_dims.h"
#include "softmax_attention_decode.cuh"
#include "softmax_attention_fma.cuh"
#include "softmax_attention_mma.cuh"
#include "softmax_attention_mma_bwd.cuh"
#include "softmax_attention_mma_bwd_fused.cuh"

namespace linea {
namespace {

using attn::AttnEnv;
using attn::AttnShape;

constexpr int64_t kMaxHeadDim = 256;

// The launch environment of the op in progress; scratch tensors live in
// `keep` until the op returns (their frees are stream-ordered after the
// kernels that use them).
AttnEnv make_env(std::vector<Tensor>& keep) {
  const CudaContext& ctx = cuda_context();
  AttnEnv env;
  env.stream = ctx.stream;
  env.sm_count = ctx.sm_count;
  env.max_smem = ctx.max_shared_per_block;
  env.cc = ctx.compute_capability;
  env.scratch = [&keep, &ctx](size_t bytes) {
    keep.push_back(ctx.scratch(Shape{static_cast<int64_t>((bytes + 7) / 8)}, DType::f64));
    return keep.back().buffer->data;
  };
  return env;
}

// The tensor-core kernels copy rows in 16-byte pieces (cp.async) and store
// bf16 pairs; Linea's buffers are whole allocations, so this holds unless a
// future view offsets them, and then the FMA path takes the call.
bool aligned16(std::initializer_list<const void*> pointers) {
  for (const void* p : pointers)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

// The width both head dims are padded to for the tensor-core kernels (D = V in
// {64, 128}), or 0 where they take the call as it is or no padding fits.
int64_t padded_width(int64_t D, int64_t V) {
  if (D == V && (D == 64 || D == 128)) return 0;
  const int64_t Dp = padded_head_dim(D), Vp = padded_head_dim(V);
  return Dp == 0 || Vp == 0 ? 0 : std::max(Dp, Vp);
}

// A zero-padded copy of rows [rows, width] to [rows, wp], in scratch held by env.
const bf16* padded_rows(const AttnEnv& env, const bf16* x, int64_t rows, int64_t width, int64_t wp) {
  auto* dst = static_cast<bf16*>(env.scratch(sizeof(bf16) * size_t(rows * wp)));
  pad_bf16(x, rows, 1, width, 1, wp, dst, env.stream);
  return dst;
}

bf16* scratch_rows(const AttnEnv& env, int64_t rows, int64_t wp) {
  return static_cast<bf16*>(env.scratch(sizeof(bf16) * size_t(rows * wp)));
}

AttnShape shape_of(const OpCall& call, const char* seq) {
  AttnShape s;
  s.B = call.dims.at("B");
  s.T = call.dims.at(seq);
  s.H = call.dims.at("H");
  s.D = call.dims.at("D");
  s.V = call.dims.at("V");
  const AttentionParams p = attention_params(call);
  s.scale = p.scale;
  s.window = p.window;
  return s;
}

template <class T>
void softmax_attn_fwd(OpCall& call) {
  std::vector<Tensor> keep;
  const AttnEnv env = make_env(keep);
  const AttnShape s = shape_of(call, "T");
  if (s.B * s.H * s.T == 0) return;  // o and lse are empty
  const T* q = call.input("q")->data<T>();
  const T* k = call.input("k")->data<T>();
  const T* v = call.input("v")->data<T>();
  T* o = call.output("o")->data<T>();
  acc_t<T>* lse = call.output("lse")->data<acc_t<T>>();  // stats: f32 in bf16 calls
  if constexpr (std::is_same_v<T, bf16>) {
    if (attn::mma_fwd_takes(env, s.D, s.V) && aligned16({q, k, v, o})) {
      attn::launch_fwd_mma(env, attn::MmaFwdArgs{q, k, v, o, lse, s});
      return;
    }
    const int64_t wp = padded_width(s.D, s.V);
    if (wp > 0 && attn::mma_fwd_takes(env, wp, wp)) {
      const int64_t rows = s.B * s.T * s.H;
      AttnShape sp = s;  // the scale stays the call's
      sp.D = sp.V = wp;
      bf16* op = scratch_rows(env, rows, wp);
      attn::launch_fwd_mma(env, attn::MmaFwdArgs{padded_rows(env, q, rows, s.D, wp), padded_rows(env, k, rows, s.D, wp),
                                                 padded_rows(env, v, rows, s.V, wp), op, lse, sp});
      unpad_bf16(op, rows, 1, wp, 1, s.V, o, env.stream);
      return;
    }
  }
  attn::FmaArgs<T> a{};
  a.q = q;
  a.k = k;
  a.v = v;
  a.out_o = o;
  a.out_lse = lse;
  a.s = s;
  attn::launch_fma(env, a, false);
}

template <class T>
void softmax_attn_bwd(OpCall& call) {
  std::vector<Tensor> keep;
  const AttnEnv env = make_env(keep);
  const AttnShape s = shape_of(call, "T");
  if (s.B * s.H * s.T == 0) return;  // dq, dk, dv are empty
  attn::FmaArgs<T> a{};
  a.q = call.input("q")->data<T>();
  a.k = call.input("k")->data<T>();
  a.v = call.input("v")->data<T>();
  a.o = call.input("o")->data<T>();
  a.lse = call.input("lse")->data<acc_t<T>>();
  a.d_o = call.input("do")->data<T>();
  a.dq = call.output("dq")->data<T>();
  a.dk = call.output("dk")->data<T>();
  a.dv = call.output("dv")->data<T>();
  a.s = s;
  a.delta = attn::launch_attn_delta(env, s, a.o, a.d_o);
  if constexpr (std::is_same_v<T, bf16>) {
    if (attn::mma_bwd_takes(env, s.D, s.V) && aligned16({a.q, a.k, a.v, a.d_o, a.dq, a.dk, a.dv})) {
      const attn::MmaBwdArgs ma{a.q, a.k, a.v, a.lse, a.d_o, a.delta, a.dq, a.dk, a.dv, s};
      if (const int nw = attn::mma_bwd_fused_warps(env, s.D)) attn::launch_bwd_mma_fused(env, ma, nw);
      else attn::launch_bwd_mma(env, ma);  // LINEA_ATTN_BWD=twopass
      return;
    }
    const int64_t wp = padded_width(s.D, s.V);
    if (wp > 0 && attn::mma_bwd_takes(env, wp, wp)) {
      const int64_t rows = s.B * s.T * s.H;
      AttnShape sp = s;  // the scale stays the call's; delta = rowsum(o do) is the same padded or not
      sp.D = sp.V = wp;
      bf16 *dq = scratch_rows(env, rows, wp), *dk = scratch_rows(env, rows, wp), *dv = scratch_rows(env, rows, wp);
      const attn::MmaBwdArgs ma{padded_rows(env, a.q, rows, s.D, wp),
                                padded_rows(env, a.k, rows, s.D, wp),
                                padded_rows(env, a.v, rows, s.V, wp),
                                a.lse,
                                padded_rows(env, a.d_o, rows, s.V, wp),
                                a.delta,
                                dq,
                                dk,
                                dv,
                                sp};
      if (const int nw = attn::mma_bwd_fused_warps(env, wp)) attn::launch_bwd_mma_fused(env, ma, nw);
      else attn::launch_bwd_mma(env, ma);
      unpad_bf16(dq, rows, 1, wp, 1, s.D, a.dq, env.stream);
      unpad_bf16(dk, rows, 1, wp, 1, s.D, a.dk, env.stream);
      unpad_bf16(dv, rows, 1, wp, 1, s.V, a.dv, env.stream);
      return;
    }
  }
  attn::launch_fma(env, a, true);
}

template <class T>
void softmax_attn_decode(OpCall& call) {
  std::vector<Tensor> keep;
  const AttnEnv env = make_env(keep);
  const AttnShape s = shape_of(call, "S");
  if (s.B * s.H * s.V == 0) return;  // o is empty
  attn::launch_decode(env, call.input("q")->data<T>(), call.input("k")->data<T>(), call.input("v")->data<T>(),
                      call.output("o")->data<T>(), s);
}

// Shared-memory bytes the FMA kernels of an op need (the bf16 tensor-core
// forward falls back to them, so they bound what is accepted).
template <class T>
size_t fma_smem(const std::string& op, int64_t D, int64_t V) {
  if (op == "softmax_attn_fwd") return attn::fma_fwd_smem<T>(D, V);
  if (op == "softmax_attn_bwd") return std::max(attn::fma_dq_smem<T>(D, V), attn::fma_dkdv_smem<T>(D, V));
  return attn::decode_smem<T>(V);
}

// Refuses, naming the op, the dim and the backend: head dims above 256 (the
// kernels keep up to 8 columns per lane in registers) and tiles above the
// device's shared memory per block.
KernelPredicate accepts(const std::string& op, DType dtype, int max_smem) {
  return [op, dtype, max_smem](const OpPlan& plan) -> std::optional<std::string> {
    const int64_t D = plan.dims.at("D"), V = plan.dims.at("V");
    if (D > kMaxHeadDim || V > kMaxHeadDim)
      return op + " on CUDA supports head dims D and V up to " + std::to_string(kMaxHeadDim) +
             "; got D = " + std::to_string(D) + ", V = " + std::to_string(V);
    const size_t smem = dtype == DType::f64   ? fma_smem<double>(op, D, V)
                        : dtype == DType::f32 ? fma_smem<float>(op, D, V)
                                              : fma_smem<bf16>(op, D, V);
    if (smem > static_cast<size_t>(max_smem))
      return op + " on CUDA in " + dtype_name(dtype) + " with D = " + std::to_string(D) + ", V = " + std::to_string(V) +
             " needs " + std::to_string(smem) + " bytes of shared memory per block; this device " + "has " +
             std::to_string(max_smem);
    return std::nullopt;
  };
}

template <DType DT>
void register_dtype(Backend& backend, int max_smem) {
  using T = typename DeviceType<DT>::type;
  backend.add_kernel("softmax_attn_fwd", DT, softmax_attn_fwd<T>, accepts("softmax_attn_fwd", DT, max_smem));
  backend.add_kernel("softmax_attn_bwd", DT, softmax_attn_bwd<T>, accepts("softmax_attn_bwd", DT, max_smem));
  backend.add_kernel("softmax_attn_decode", DT, softmax_attn_decode<T>, accepts("softmax_attn_decode", DT, max_smem));
}

}  // namespace

void register_cuda_attention_kernels(Backend& backend) {
  // Registration runs with the backend's device current (CudaBackend's
  // constructor), so the predicates can carry its shared-memory limit.
  int device = 0, max_smem = 48 * 1024;
  LINEA_CUDA_CHECK(cudaGetDevice(&device));
  LINEA_CUDA_CHECK(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  register_dtype<DType::f32>(backend, max_smem);
  register_dtype<DType::f64>(backend, max_smem);
  register_dtype<DType::bf16>(backend, max_smem);
}

}  // namespace linea
