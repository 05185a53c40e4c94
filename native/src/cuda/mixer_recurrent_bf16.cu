// The recurrent CUDA mixer's kernels and launchers for bf16 (__nv_bfloat16) storage
// (mixer_recurrent_launch.cuh; the design is in mixer_recurrent.cu).
#include "mixer_recurrent_launch.cuh"

namespace linea::cuda_mixer {

template void recurrent_fwd<bf16>(OpCall&, const MixerParams&);
template void recurrent_bwd<bf16>(OpCall&, const MixerParams&);

}  // namespace linea::cuda_mixer
