// The recurrent CUDA mixer (mixer_recurrent.cu), the reference path on the
// device for every switch combination; mixer_kernels.cu calls it for the calls
// the chunked path (mixer_chunked.h) does not take.
#pragma once

#include "../ops/mixer_params.h"
#include "linea/ops.h"

namespace linea {

// Largest key dim the recurrent path runs: its state rows live in registers,
// kWarps * kMaxRowsPerWarp of them per block (mixer_recurrent_step.cuh).
constexpr int64_t kCudaMixerRecurrentMaxK = 512;

// Both run on cuda_context().stream and fill every output of the call, for
// dtype f32, f64 or bf16 (call.dtype).
void cuda_mixer_recurrent_fwd(OpCall& call, const MixerParams& p);
void cuda_mixer_recurrent_bwd(OpCall& call, const MixerParams& p);

}  // namespace linea
