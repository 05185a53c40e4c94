// Recurrent linear-attention mixer on CUDA: the port of the CPU reference
// (src/cpu/mixer/mixer_recurrent.cpp) for every switch combination, in f32,
// f64 and bf16 (bf16 storage only: states and sums in f32).
//
// q, k: (B, T, H, K)   v, o, do: (B, T, H, V)   s0, s_final: (B, H, K, V)
// z0, z_final: (B, H, K)   m0, m_final: (B, H)   g: [H] | [B,T,H] | [B,T,H,K]
//
// Forward: the exp gate's stabilizer scan (one warp per head), then one block
// per (head, tile of 32 value columns) stepping through T
// (mixer_recurrent_fwd.cuh). Backward, like the CPU reference (which keeps
// every state), needs S_t in reverse order; the device keeps a checkpoint every
// `chunk` ~ sqrt(T) steps and recomputes the states of one chunk at a time, so
// scratch is about BH * 2 sqrt(T) states instead of BH * T:
//   1. forward_kernel in checkpoint mode: checkpoints, z_t, den_t, per-tile do·o;
//   2. reverse_kernel: per chunk, last first, recompute then reverse
//      (mixer_recurrent_bwd.cuh), writing dv, ds0, dz0 and per-tile partials;
//   3. finish_* kernels sum the partials in a fixed order.
// Everything is enqueued on cuda_context().stream; scratch comes from
// cuda_context().scratch and is released (stream-ordered) on return.
// The launchers (mixer_recurrent_launch.cuh) are compiled once per dtype in
// mixer_recurrent_{f32,f64,bf16}.cu; this file is the dtype switch.
#include <string>

#include "mixer_recurrent_api.cuh"
#include "mixer_recurrent_launch.h"

namespace linea {
namespace {

std::string dtype_error(const char* op, DType dtype) {
  return std::string(op) + " on CUDA: dtype " + dtype_name(dtype) + " is not supported; valid: f32, f64, bf16";
}

}  // namespace

void cuda_mixer_recurrent_fwd(OpCall& call, const MixerParams& p) {
  switch (call.dtype) {
    case DType::f32: return cuda_mixer::recurrent_fwd<float>(call, p);
    case DType::f64: return cuda_mixer::recurrent_fwd<double>(call, p);
    case DType::bf16: return cuda_mixer::recurrent_fwd<bf16>(call, p);
    default: throw OpError(dtype_error("mixer_fwd", call.dtype));
  }
}

void cuda_mixer_recurrent_bwd(OpCall& call, const MixerParams& p) {
  switch (call.dtype) {
    case DType::f32: return cuda_mixer::recurrent_bwd<float>(call, p);
    case DType::f64: return cuda_mixer::recurrent_bwd<double>(call, p);
    case DType::bf16: return cuda_mixer::recurrent_bwd<bf16>(call, p);
    default: throw OpError(dtype_error("mixer_bwd", call.dtype));
  }
}

}  // namespace linea
