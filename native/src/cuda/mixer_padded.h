// The chunked tensor-core paths (mixer_delta_chunked.h, mixer_chunked.h) for
// head dims other than 64 and 128, up to 128: the call on copies padded with
// zeros to 64 or 128 (mixer_padded.cu says why that is exact). mixer_kernels.cu
// tries it after the chunked paths, before the lowered and recurrent ones.
#pragma once

#include "../ops/mixer_params.h"
#include "linea/ops.h"

namespace linea {

// Whether this path computes the call: K or V not in {64, 128}, both at most
// 128, where a chunked path takes the padded call (the delta rule; the additive
// family only with LINEA_MIXER_PADDED=1 for now, mixer_padded.cu says why).
bool cuda_mixer_padded_takes(const MixerParams& p, DType dtype);
// Both run on cuda_context().stream and fill every output of the call.
void cuda_mixer_padded_fwd(OpCall& call, const MixerParams& p);
void cuda_mixer_padded_bwd(OpCall& call, const MixerParams& p);

}  // namespace linea
