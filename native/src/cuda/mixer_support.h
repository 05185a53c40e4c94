// OBSOLETE: the CUDA backend no longer uses this predicate. Its mixer_fwd and
// mixer_bwd (mixer_kernels.cu) run every switch combination, refusing only a
// key dim over the recurrent path's limit. The file stays only because
// tests/test_plan.cpp still includes it and checks the old refusal; delete both
// together.
//
// Was: which mixer_fwd calls the CUDA backend's kernel takes, kept apart from
// the kernel as plain C++ so the CPU-only tests check the refusal too.
#pragma once

#include <optional>
#include <string>

#include "../ops/mixer_params.h"
#include "linea/ops.h"

namespace linea {

// The first CUDA mixer kernel covers the plain additive mixer only; every
// other switch is refused by name (before anything is allocated) rather than
// computed as something else.
inline std::optional<std::string> cuda_mixer_fwd_accepts(const OpPlan& plan) {
  const MixerParams p = mixer_params(plan);
  if (p.plain()) return std::nullopt;
  return std::string("mixer_fwd on CUDA supports only gate '") + attr_enum_name(MixerGate::none) + "', input_gate '" +
         attr_enum_name(MixerInputGate::none) + "', delta off and normalize '" + attr_enum_name(MixerNormalize::none) +
         "' so far; got gate '" + attr_enum_name(p.gate) + "', input_gate '" + attr_enum_name(p.input_gate) +
         "', delta " + (p.delta ? "on" : "off") + ", normalize '" + attr_enum_name(p.normalize) + "'";
}

}  // namespace linea
