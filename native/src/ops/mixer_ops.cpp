// Linear-attention mixer ops.
#include "op_families.h"

namespace linea {
namespace {

OpDef mixer_fwd() {
  OpDef op;
  op.name = "mixer_fwd";
  op.doc =
      "Linear-attention mixer forward, one head per (b, h): S_t = S_{t-1} + k_t v_t^T, "
      "o_t = S_t^T (scale q_t), with optional initial state s0 and final state s_final.";
  op.signature.inputs = {
      {"q", "B,T,H,K", Presence::required, "queries"},
      {"k", "B,T,H,K", Presence::required, "keys"},
      {"v", "B,T,H,V", Presence::required, "values"},
      {"s0", "B,H,K,V", Presence::optional, "initial state (zeros when absent)"},
  };
  op.signature.outputs = {
      {"o", "B,T,H,V", Presence::required, "outputs"},
      {"s_final", "B,H,K,V", Presence::optional, "state after the last step"},
  };
  op.attrs = {
      {"form", AttrType::enum_, std::string("recurrent"), {"recurrent"}, 0, 0,
       "recurrent: one step at a time (the reference)"},
      {"scale", AttrType::float_, 0.0, {}, 0.0, 1e6,
       "query scale; 0 means K^-1/2"},
  };
  op.dtypes = {DType::f32, DType::f64};
  return op;
}

}  // namespace

std::vector<OpDef> mixer_ops() { return {mixer_fwd()}; }

}  // namespace linea
