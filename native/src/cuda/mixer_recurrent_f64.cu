// The recurrent CUDA mixer's kernels and launchers for double storage
// (mixer_recurrent_launch.cuh; the design is in mixer_recurrent.cu).
#include "mixer_recurrent_launch.cuh"

namespace linea::cuda_mixer {

template void recurrent_fwd<double>(OpCall&, const MixerParams&);
template void recurrent_bwd<double>(OpCall&, const MixerParams&);

}  // namespace linea::cuda_mixer
