// The chunked tensor-core path of the CUDA mixer for the delta rule
// (mixer_delta_chunked.cu): DeltaNet and Gated DeltaNet through the WY / UT
// representation of each chunk's writes. mixer_kernels.cu picks it for the
// calls it takes, before the gated additive chunked path (mixer_chunked.h)
// and the recurrent fallback.
#pragma once

#include "../ops/mixer_params.h"
#include "linea/ops.h"

namespace linea {

// Whether this path computes the call (switches, dims, dtype).
bool cuda_mixer_delta_chunked_takes(const MixerParams& p, DType dtype);
// Both run on cuda_context().stream and fill every output of the call.
void cuda_mixer_delta_chunked_fwd(OpCall& call, const MixerParams& p);
void cuda_mixer_delta_chunked_bwd(OpCall& call, const MixerParams& p);

}  // namespace linea
