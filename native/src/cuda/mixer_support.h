// Which mixer_fwd calls the CUDA backend's kernel takes. Kept apart from the
// kernel (mixer_recurrent.cu) as plain C++, so the CPU-only tests check the
// refusal too.
#pragma once

#include <optional>
#include <string>

#include "../ops/op_attrs.h"
#include "linea/ops.h"

namespace linea {

// The first CUDA mixer kernel covers the plain additive mixer only; every
// other switch is refused by name (before anything is allocated) rather than
// computed as something else.
inline std::optional<std::string> cuda_mixer_fwd_accepts(const OpPlan& plan) {
  const auto& a = plan.attrs;
  const MixerGate gate = attr_enum<MixerGate>(a);
  const MixerInputGate input_gate = attr_enum<MixerInputGate>(a);
  const MixerNormalize normalize = attr_enum<MixerNormalize>(a);
  const bool plain = gate == MixerGate::none && input_gate == MixerInputGate::none && !a.b("delta") &&
                     normalize == MixerNormalize::none;
  if (plain) return std::nullopt;
  return std::string("mixer_fwd on CUDA supports only gate '") + attr_enum_name(MixerGate::none) + "', input_gate '" +
         attr_enum_name(MixerInputGate::none) + "', delta off and normalize '" + attr_enum_name(MixerNormalize::none) +
         "' so far; got gate '" + attr_enum_name(gate) + "', input_gate '" + attr_enum_name(input_gate) + "', delta " +
         (a.b("delta") ? "on" : "off") + ", normalize '" + attr_enum_name(normalize) + "'";
}

}  // namespace linea
