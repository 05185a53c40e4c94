// The recurrent CUDA mixer's launchers by storage type (float, double, bf16),
// each instantiated in its own file (mixer_recurrent_{f32,f64,bf16}.cu) and
// called by the dtype switch in mixer_recurrent.cu.
#pragma once

#include "../ops/mixer_params.h"
#include "cuda_types.cuh"
#include "linea/ops.h"

namespace linea::cuda_mixer {

template <class T>
void recurrent_fwd(OpCall& call, const MixerParams& p);
template <class T>
void recurrent_bwd(OpCall& call, const MixerParams& p);

extern template void recurrent_fwd<float>(OpCall&, const MixerParams&);
extern template void recurrent_fwd<double>(OpCall&, const MixerParams&);
extern template void recurrent_fwd<bf16>(OpCall&, const MixerParams&);
extern template void recurrent_bwd<float>(OpCall&, const MixerParams&);
extern template void recurrent_bwd<double>(OpCall&, const MixerParams&);
extern template void recurrent_bwd<bf16>(OpCall&, const MixerParams&);

}  // namespace linea::cuda_mixer
