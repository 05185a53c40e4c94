// mixer_params: a mixer call's attributes and dims resolved once (mixer_params.h).
#include "mixer_params.h"

namespace linea {
namespace {

// `has_input(name)` / `has_output(name)`: whether the call gives that optional
// input / produces that optional output.
template <class HasInput, class HasOutput>
MixerParams resolve(const Attrs& a, const Dims& dims, HasInput has_input, HasOutput has_output) {
  MixerParams p;
  p.form = attr_enum<MixerForm>(a);
  p.gate = attr_enum<MixerGate>(a);
  p.input_gate = attr_enum<MixerInputGate>(a);
  p.normalize = attr_enum<MixerNormalize>(a);
  p.delta = a.b("delta");
  p.chunk_size = a.i("chunk_size");
  p.eps = a.f("eps");
  p.B = dims.at("B");
  p.T = dims.at("T");
  p.H = dims.at("H");
  p.K = dims.at("K");
  p.V = dims.at("V");
  p.scale = resolve_scale(a.f("scale"), p.K);
  p.has_s0 = has_input("s0");
  p.has_z0 = has_input("z0");
  p.has_m0 = has_input("m0");
  p.has_ds_final = has_input("ds_final");
  p.has_dz_final = has_input("dz_final");
  p.want_s_final = has_output("s_final");
  p.want_z_final = has_output("z_final");
  p.want_m_final = has_output("m_final");
  p.want_ds0 = has_output("ds0");
  p.want_dz0 = has_output("dz0");
  p.want_dg = has_output("dg");
  return p;
}

}  // namespace

MixerParams mixer_params(const OpPlan& plan) {
  return resolve(
      plan.attrs, plan.dims, [&](const char* name) { return plan.inputs.count(name) > 0; },
      [&](const char* name) {
        for (const OutputPlan& o : plan.outputs)
          if (o.name == name) return true;
        return false;
      });
}

MixerParams mixer_params(const OpCall& call) {
  return resolve(
      call.attrs, call.dims, [&](const char* name) { return call.inputs.count(name) > 0; },
      [&](const char* name) { return call.outputs.count(name) > 0; });
}

}  // namespace linea
