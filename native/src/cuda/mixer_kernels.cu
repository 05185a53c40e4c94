// The CUDA backend's mixer_fwd and mixer_bwd: one kernel per (op, dtype) that
// sends each call to exactly one path, the chunked tensor-core path
// (mixer_chunked.h) for the calls it takes and the recurrent path
// (mixer_recurrent_api.cuh) for every other call. Both compute the same
// function; cuda_mixer_chunked_takes decides from the whole call (form,
// switches, dims, dtype), and a form 'chunked' call it declines runs here.
#include <optional>
#include <string>

#include "cuda_backend.h"
#include "mixer_chunked.h"
#include "mixer_recurrent_api.cuh"

namespace linea {
namespace {

void mixer_fwd_kernel(OpCall& call) {
  const MixerParams p = mixer_params(call);
  if (cuda_mixer_chunked_takes(p, call.dtype)) cuda_mixer_chunked_fwd(call, p);
  else cuda_mixer_recurrent_fwd(call, p);
}

void mixer_bwd_kernel(OpCall& call) {
  const MixerParams p = mixer_params(call);
  if (cuda_mixer_chunked_takes(p, call.dtype)) cuda_mixer_chunked_bwd(call, p);
  else cuda_mixer_recurrent_bwd(call, p);
}

// Every switch combination runs; only a key dim over the recurrent path's
// register budget is refused, when the chunked path does not take the call.
KernelPredicate accepts_for(const std::string& op) {
  return [op](const OpPlan& plan) -> std::optional<std::string> {
    const MixerParams p = mixer_params(plan);
    if (p.K <= kCudaMixerRecurrentMaxK || cuda_mixer_chunked_takes(p, plan.dtype)) return std::nullopt;
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
