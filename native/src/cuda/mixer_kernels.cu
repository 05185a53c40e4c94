// The CUDA backend's mixer_fwd and mixer_bwd: one kernel per (op, dtype) that
// sends each call to exactly one path: the chunked tensor-core paths for the
// calls they take (mixer_delta_chunked.h: the delta rule; mixer_chunked.h: the
// gated additive family; mixer_padded.h: both at other head dims, zero-padded;
// mixer_lowered.h: the additive kernels on a reshaped call) and the recurrent path
// (mixer_recurrent_api.cuh) for every other call. All compute the same function; each `takes` decides from the whole
// call (form, switches, dims, dtype), and a form 'chunked' call both decline runs on the recurrent path.
#include <optional>
#include <string>

#include "cuda_backend.h"
#include "mixer_chunked.h"
#include "mixer_delta_chunked.h"
#include "mixer_lowered.h"
#include "mixer_padded.h"
#include "mixer_recurrent_api.cuh"

namespace linea {
namespace {

// Which path computes a call: the chunked delta-rule path, the chunked gated
// additive path, either on a zero-padded call, the additive one on a reshaped
// call, else the recurrent one.
enum class MixerPath { delta_chunked, chunked, padded, lowered, recurrent };

MixerPath path_of(const MixerParams& p, DType dtype) {
  if (cuda_mixer_delta_chunked_takes(p, dtype)) return MixerPath::delta_chunked;
  if (cuda_mixer_chunked_takes(p, dtype)) return MixerPath::chunked;
  if (cuda_mixer_padded_takes(p, dtype)) return MixerPath::padded;
  if (cuda_mixer_lowered_takes(p, dtype)) return MixerPath::lowered;
  return MixerPath::recurrent;
}

void mixer_fwd_kernel(OpCall& call) {
  const MixerParams p = mixer_params(call);
  switch (path_of(p, call.dtype)) {
    case MixerPath::delta_chunked: return cuda_mixer_delta_chunked_fwd(call, p);
    case MixerPath::chunked: return cuda_mixer_chunked_fwd(call, p);
    case MixerPath::padded: return cuda_mixer_padded_fwd(call, p);
    case MixerPath::lowered: return cuda_mixer_lowered_fwd(call, p);
    case MixerPath::recurrent: return cuda_mixer_recurrent_fwd(call, p);
  }
}

void mixer_bwd_kernel(OpCall& call) {
  const MixerParams p = mixer_params(call);
  switch (path_of(p, call.dtype)) {
    case MixerPath::delta_chunked: return cuda_mixer_delta_chunked_bwd(call, p);
    case MixerPath::chunked: return cuda_mixer_chunked_bwd(call, p);
    case MixerPath::padded: return cuda_mixer_padded_bwd(call, p);
    case MixerPath::lowered: return cuda_mixer_lowered_bwd(call, p);
    case MixerPath::recurrent: return cuda_mixer_recurrent_bwd(call, p);
  }
}

// Every switch combination runs; only a key dim over the recurrent path's
// register budget is refused, when the chunked path does not take the call.
KernelPredicate accepts_for(const std::string& op) {
  return [op](const OpPlan& plan) -> std::optional<std::string> {
    const MixerParams p = mixer_params(plan);
    if (p.K <= kCudaMixerRecurrentMaxK || path_of(p, plan.dtype) != MixerPath::recurrent) return std::nullopt;
    return op + " on CUDA: K = " + std::to_string(p.K) + " is over " + std::to_string(kCudaMixerRecurrentMaxK) +
           " for the recurrent path (its state rows live in registers), and the chunked path does not take gate '" +
           attr_enum_name(p.gate) + "', input_gate '" + attr_enum_name(p.input_gate) + "', delta " +
           (p.delta ? "on" : "off") + ", normalize '" + attr_enum_name(p.normalize) + "' at this size (dtype " +
           dtype_name(plan.dtype) + "); use K <= " + std::to_string(kCudaMixerRecurrentMaxK) + " or the CPU backend";
  };
}

}  // namespace

void register_cuda_mixer_kernels(Backend& backend) {
  for (DType dtype : {DType::f32, DType::f64, DType::bf16}) {
    backend.add_kernel("mixer_fwd", dtype, mixer_fwd_kernel, accepts_for("mixer_fwd"));
    backend.add_kernel("mixer_bwd", dtype, mixer_bwd_kernel, accepts_for("mixer_bwd"));
  }
}

}  // namespace linea
