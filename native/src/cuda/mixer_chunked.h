// The chunked tensor-core path of the CUDA mixer (mixer_chunked.cu) for the
// calls it takes, and the recurrent path (mixer_recurrent.cu) for every call:
// mixer_kernels.cu registers one kernel per (op, dtype) that picks between
// them, so each call runs on exactly one of the two.
#pragma once

#include "../ops/mixer_params.h"
#include "linea/ops.h"

namespace linea {

// Whether the chunked path computes this call (switches, dims, dtype).
bool cuda_mixer_chunked_takes(const MixerParams& p, DType dtype);
// Both run on cuda_context().stream and fill every output of the call.
void cuda_mixer_chunked_fwd(OpCall& call, const MixerParams& p);
void cuda_mixer_chunked_bwd(OpCall& call, const MixerParams& p);

}  // namespace linea
