// The parameters of one mixer_fwd / mixer_bwd call, resolved once from its
// plan: the switches as enums, the scale with its head_dim^-1/2 default, the
// dims and which optional tensors the call has. Every backend's mixer kernels
// (src/cpu/mixer/, src/cuda/mixer_*.cu) and the CUDA paths' `takes`
// predicates take this struct and read no attribute themselves, so a default
// is written only in the op table (mixer_ops.cpp).
// A plain struct, so CUDA kernels can take it by value.
#pragma once

#include <cstdint>

#include "linea/ops.h"
#include "op_attrs.h"

namespace linea {

struct MixerParams {
  MixerForm form = MixerForm::recurrent;
  MixerGate gate = MixerGate::none;
  MixerInputGate input_gate = MixerInputGate::none;
  MixerNormalize normalize = MixerNormalize::none;
  bool delta = false;      // delta rule, write strengths beta
  int64_t chunk_size = 0;  // chunk length of the chunked form
  double scale = 0;        // the query scale applied: the attribute, or K^-1/2 for its default
  double eps = 0;          // added to the sum denominator
  int64_t B = 0, T = 0, H = 0, K = 0, V = 0;
  // Optional inputs given (each absent one reads as zeros).
  bool has_s0 = false, has_z0 = false, has_m0 = false;
  // Optional outputs asked for: final states (mixer_fwd), upstream state gradients and
  // initial-state gradients (mixer_bwd).
  bool want_s_final = false, want_z_final = false, want_m_final = false;
  bool has_ds_final = false, has_dz_final = false, want_ds0 = false, want_dz0 = false;
  bool want_dg = false;  // the gate's gradient (optional for the fixed gate, else present with g)

  bool chunked() const { return form == MixerForm::chunked; }
  // Entries of the effective log decay per step: 0 (no decay), 1 (scalar), K (vector).
  int64_t gate_dims() const {
    if (gate == MixerGate::vector) return K;
    if (gate != MixerGate::none || input_gate == MixerInputGate::exp) return 1;
    return 0;
  }
  bool has_write_weight() const { return input_gate != MixerInputGate::none; }
  bool has_denominator() const { return normalize != MixerNormalize::none; }
  // The additive mixer with no gate, no delta rule and no denominator.
  bool plain() const {
    return gate == MixerGate::none && input_gate == MixerInputGate::none && !delta && normalize == MixerNormalize::none;
  }
};

// The parameters of a planned call (attributes with their defaults, dims, the
// inputs given and the outputs planned) ...
MixerParams mixer_params(const OpPlan& plan);
// ... and of a call being launched (the same, from its tensors).
MixerParams mixer_params(const OpCall& call);

}  // namespace linea
