// The delta rule's chunked tensor-core path (mixer_delta_chunked.h) for head
// dims other than 64 and 128, up to 128: the call on copies padded with zeros
// to 64 or 128 (mixer_delta_padded.cu says why that is exact). mixer_kernels.cu
// tries it right after the chunked delta path, before the recurrent one.
#pragma once

#include "../ops/mixer_params.h"
#include "linea/ops.h"

namespace linea {

// Whether this path computes the call: the delta rule at K or V not in {64, 128},
// both at most 128, where the chunked delta path takes the padded call.
bool cuda_mixer_delta_padded_takes(const MixerParams& p, DType dtype);
// Both run on cuda_context().stream and fill every output of the call.
void cuda_mixer_delta_padded_fwd(OpCall& call, const MixerParams& p);
void cuda_mixer_delta_padded_bwd(OpCall& call, const MixerParams& p);

}  // namespace linea
