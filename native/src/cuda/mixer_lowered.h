// Calls the chunked tensor-core path (mixer_chunked.h) takes once reshaped:
// key or value dims other than 64 and 128, key dims up to 512, the sum or
// max1 denominator, and a sigmoid or softplus input gate (mixer_lowered.cu
// says how). mixer_kernels.cu tries this path after the chunked one and before
// the recurrent one.
#pragma once

#include "../ops/mixer_params.h"
#include "linea/ops.h"

namespace linea {

// Whether this path computes the call: on unless LINEA_MIXER_LOWERING=0, and
// not for a denominator with a scalar or vector gate, nor a scalar gate's dg
// over more than one key block (mixer_lowered.cu: bf16 precision).
bool cuda_mixer_lowered_takes(const MixerParams& p, DType dtype);
// Both run on cuda_context().stream and fill every output of the call.
void cuda_mixer_lowered_fwd(OpCall& call, const MixerParams& p);
void cuda_mixer_lowered_bwd(OpCall& call, const MixerParams& p);

}  // namespace linea
