// The chunked tensor-core path of the CUDA mixer (mixer_chunked.cu) for the
// calls it takes, and the recurrent path (mixer_recurrent.cu) for every call:
// mixer_kernels.cu registers one kernel per (op, dtype) that picks between
// them, so each call runs on exactly one of the two.
#pragma once

#include "../ops/mixer_params.h"
#include "cuda_types.cuh"
#include "linea/ops.h"

namespace linea {

// Whether the chunked path computes this call (switches, dims, dtype).
bool cuda_mixer_chunked_takes(const MixerParams& p, DType dtype);
// Both run on cuda_context().stream and fill every output of the call.
void cuda_mixer_chunked_fwd(OpCall& call, const MixerParams& p);
void cuda_mixer_chunked_bwd(OpCall& call, const MixerParams& p);

// The same on device pointers (bf16, 16-byte aligned; null where the call has
// no such tensor): the op's own tensors, or the blocks of a call reshaped for
// this path (mixer_lowered.cu). Layouts as the op's, for p's dims.
struct ChunkedMixerIO {
  const bf16 *q = nullptr, *k = nullptr, *v = nullptr, *g = nullptr, *s0 = nullptr;
  bf16 *o = nullptr, *s_final = nullptr;  // forward
  const bf16 *dout = nullptr, *ds_final = nullptr;
  bf16 *dq = nullptr, *dk = nullptr, *dv = nullptr, *dg = nullptr, *ds0 = nullptr;  // backward
  // Backward, instead of dq, dk, dv, dg: f32 arrays of their layouts that the gradients
  // are added into (a vector dg only; for a scalar gate dg_add is [B,T,H]).
  float *dq_add = nullptr, *dk_add = nullptr, *dv_add = nullptr, *dg_add = nullptr;
};
void cuda_mixer_chunked_fwd(const MixerParams& p, const ChunkedMixerIO& io);
void cuda_mixer_chunked_bwd(const MixerParams& p, const ChunkedMixerIO& io);

}  // namespace linea
