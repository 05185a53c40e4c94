// Linear-attention mixer ops: one fused forward and one fused backward for
// every switch of the family (shared MATH.md).
//
// Per head (b, h), with a_t = exp(g_t) (scalar, or per key dim for vector gates):
//   additive:  S_t = Diag(a_t) S_{t-1} + w_t k_t v_tᵀ   (w_t = sigmoid, softplus or exp of i_t; 1 without)
//   delta:     S'_t = Diag(a_t) S_{t-1};  S_t = S'_t + β_t k_t (v_t − S'_tᵀ k_t)ᵀ
//   z_t = Diag(a_t) z_{t-1} + w_t k_t                          (with a denominator)
//   o_t = S_tᵀ q̂_t, q̂ = scale · q;  sum: o_t / (q̂_tᵀ z_t + eps);  max1: o_t / max(|q̂_tᵀ z_t|, 1)
//
// The exp input gate (mLSTM) is computed stabilized: with m_t = max(max(g_t) + m_{t-1}, i_t)
// (m_0 from m0, else 0) the states carried in and out are S̃ = e^{−m} S and z̃ = e^{−m} z, and
// o_t = S̃_tᵀ q̂_t / max(|q̂_tᵀ z̃_t|, e^{−m_t}), which equals the unstabilized formula. The
// stabilizer is not differentiated (outputs do not depend on it).
#include <cmath>

#include "op_attrs.h"
#include "op_families.h"

namespace linea {
namespace {

const char* kMixerMath =
    "Linear-attention mixer, per head: S_t = Diag(exp g_t) S_{t-1} + w_t k_t v_t^T (additive; w_t = "
    "sigmoid(i_t), softplus(i_t) or exp(i_t)) or, with the delta rule, S'_t = Diag(exp g_t) S_{t-1}, S_t = S'_t + "
    "beta_t k_t (v_t - S'_t^T k_t)^T; o_t = S_t^T (scale q_t), optionally divided by (q_t^T z_t + eps) "
    "(sum) or max(|q_t^T z_t|, 1) (max1) where z_t = Diag(exp g_t) z_{t-1} + w_t k_t. The exp input "
    "gate is stabilized (states e^-m S, e^-m z with m_t = max(max g_t + m_{t-1}, i_t)) and needs max1.";

// The attributes shared by mixer_fwd and mixer_bwd.
std::vector<AttrDef> mixer_attrs() {
  return {
      enum_attr(MixerForm::chunked, "recurrent: one step at a time (the reference); chunked: chunkwise parallel"),
      int_attr("chunk_size", 64, 16, 128, "chunk length of the chunked form, a multiple of 16"),
      enum_attr(MixerGate::none,
                "forget gate g (log decay): fixed per head [H], scalar per step [B,T,H], vector per key dim [B,T,H,K]"),
      enum_attr(MixerInputGate::none,
                "input gate from pre-activations i [B,T,H]: w = sigmoid(i), softplus(i) (Mamba's dt), or exp(i) "
                "stabilized (needs normalize max1)"),
      bool_attr("delta", false, "delta rule with write strengths beta [B,T,H]"),
      enum_attr(MixerNormalize::none,
                "denominator: none, sum (q^T z + eps), max1 (max(|q^T z|, 1)); additive writes only"),
      scale_attr("query scale", "K", 1e6),
      float_attr("eps", 1e-6, 0.0, 1.0, "added to the sum denominator"),
  };
}

// A value's name in quotes, for messages: 'none'.
template <class E>
std::string quoted(E value) {
  return std::string("'") + attr_enum_name(value) + "'";
}

// "gate is 'none'": why a tensor is absent.
template <class E>
std::string attr_is(E value) {
  return std::string(AttrEnum<E>::attr) + " is " + quoted(value);
}

// The shape of g for each gate that has one.
const char* gate_shape(MixerGate gate) {
  switch (gate) {
    case MixerGate::fixed: return "H";
    case MixerGate::scalar: return "B,T,H";
    case MixerGate::none:
    case MixerGate::vector: break;
  }
  return "B,T,H,K";
}

// Presence and shape of the optional inputs, from the switches.
void specialize_mixer_inputs(const Attrs& a, Signature& sig) {
  const MixerGate gate = attr_enum<MixerGate>(a);
  TensorSig* g = sig.input("g");
  if (gate == MixerGate::none) {
    g->presence = Presence::absent;
    g->absent_reason = attr_is(MixerGate::none);
  } else {
    g->presence = Presence::required;
    g->shape = gate_shape(gate);
  }
  const MixerInputGate input_gate = attr_enum<MixerInputGate>(a);
  TensorSig* i = sig.input("i");
  i->presence = input_gate != MixerInputGate::none ? Presence::required : Presence::absent;
  i->absent_reason = attr_is(MixerInputGate::none);
  TensorSig* beta = sig.input("beta");
  beta->presence = a.b("delta") ? Presence::required : Presence::absent;
  beta->absent_reason = "delta is off";
  if (attr_enum<MixerNormalize>(a) == MixerNormalize::none) {
    sig.input("z0")->presence = Presence::absent;
    sig.input("z0")->absent_reason = attr_is(MixerNormalize::none);
  }
  if (input_gate != MixerInputGate::exp) {
    sig.input("m0")->presence = Presence::absent;
    sig.input("m0")->absent_reason = "only the exp input gate has a stabilizer state";
  }
}

void check_mixer_switches(const std::string& op, const Attrs& a) {
  if (a.i("chunk_size") % 16 != 0)
    throw OpError(op + ": attribute chunk_size = " + std::to_string(a.i("chunk_size")) +
                  " is not valid; valid: 16, 32, 48, ..., 128 (multiples of 16)");
  const MixerInputGate input_gate = attr_enum<MixerInputGate>(a);
  const MixerNormalize normalize = attr_enum<MixerNormalize>(a);
  if (a.b("delta") && input_gate != MixerInputGate::none)
    throw OpError(op + ": input_gate " + quoted(input_gate) +
                  " does not combine with the delta rule (beta is its write strength); use " +
                  quoted(MixerInputGate::none));
  if (a.b("delta") && normalize != MixerNormalize::none)
    throw OpError(op + ": normalize " + quoted(normalize) + " is for additive writes only; use " +
                  quoted(MixerNormalize::none) + " with delta");
  if (input_gate == MixerInputGate::exp && normalize != MixerNormalize::max1)
    throw OpError(op + ": input_gate " + quoted(MixerInputGate::exp) + " needs normalize " +
                  quoted(MixerNormalize::max1) + " (the stabilized output is exact only then); got " +
                  quoted(normalize));
}

std::vector<TensorSig> mixer_inputs() {
  return {
      {"q", "B,T,H,K", Presence::required, "queries"},
      {"k", "B,T,H,K", Presence::required, "keys"},
      {"v", "B,T,H,V", Presence::required, "values"},
      {"g", "B,T,H,K", Presence::optional, "log forget gate (<= 0): [H] fixed, [B,T,H] scalar, [B,T,H,K] vector"},
      {"i", "B,T,H", Presence::optional, "input gate pre-activations"},
      {"beta", "B,T,H", Presence::optional,
       "delta-rule write strengths, in (0, 1), or (0, 2) for negative eigenvalues"},
      {"s0", "B,H,K,V", Presence::optional, "initial state (zeros when absent; stabilized with the exp gate)"},
      {"z0", "B,H,K", Presence::optional, "initial denominator state (zeros when absent)"},
      {"m0", "B,H", Presence::optional, "initial stabilizer of the exp gate (0 when absent)"},
  };
}

OpDef mixer_fwd() {
  OpDef op;
  op.name = "mixer_fwd";
  op.doc = std::string(kMixerMath) + " Returns o and, on request, the final states.";
  op.signature.inputs = mixer_inputs();
  op.signature.outputs = {
      {"o", "B,T,H,V", Presence::required, "outputs"},
      {"s_final", "B,H,K,V", Presence::optional, "state after the last step"},
      {"z_final", "B,H,K", Presence::optional, "denominator state after the last step"},
      {"m_final", "B,H", Presence::optional, "stabilizer after the last step"},
  };
  op.attrs = mixer_attrs();
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  op.specialize = [](const Attrs& a, const std::set<std::string>&, Signature& sig) {
    specialize_mixer_inputs(a, sig);
    if (attr_enum<MixerNormalize>(a) == MixerNormalize::none) {
      sig.output("z_final")->presence = Presence::absent;
      sig.output("z_final")->absent_reason = attr_is(MixerNormalize::none);
    }
    if (attr_enum<MixerInputGate>(a) != MixerInputGate::exp) {
      sig.output("m_final")->presence = Presence::absent;
      sig.output("m_final")->absent_reason = "only the exp input gate has a stabilizer state";
    }
  };
  op.check = [](const Attrs& a, Dims&) { check_mixer_switches("mixer_fwd", a); };
  return op;
}

OpDef mixer_bwd() {
  OpDef op;
  op.name = "mixer_bwd";
  op.doc = std::string(kMixerMath) +
           " Backward: given do (and optionally ds_final, dz_final), returns the gradients of every input; "
           "the forward is recomputed, nothing is saved between the two ops.";
  op.signature.inputs = mixer_inputs();
  op.signature.inputs.push_back({"do", "B,T,H,V", Presence::required, "gradient of o"});
  op.signature.inputs.push_back({"ds_final", "B,H,K,V", Presence::optional, "gradient of s_final"});
  op.signature.inputs.push_back({"dz_final", "B,H,K", Presence::optional, "gradient of z_final"});
  op.signature.outputs = {
      {"dq", "B,T,H,K", Presence::required, "gradient of q"},
      {"dk", "B,T,H,K", Presence::required, "gradient of k"},
      {"dv", "B,T,H,V", Presence::required, "gradient of v"},
      {"dg", "B,T,H,K", Presence::optional, "gradient of g (shaped like g; for the fixed gate only when asked for)"},
      {"di", "B,T,H", Presence::optional, "gradient of i"},
      {"dbeta", "B,T,H", Presence::optional, "gradient of beta"},
      {"ds0", "B,H,K,V", Presence::optional, "gradient of the initial state"},
      {"dz0", "B,H,K", Presence::optional, "gradient of the initial denominator state"},
  };
  op.attrs = mixer_attrs();
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  op.specialize = [](const Attrs& a, const std::set<std::string>&, Signature& sig) {
    specialize_mixer_inputs(a, sig);
    const TensorSig* g = sig.input("g");
    TensorSig* dg = sig.output("dg");
    // A fixed decay is usually a constant buffer (RetNet's): its gradient, a sum over every
    // step, is computed only when asked for.
    dg->presence = g->presence == Presence::absent               ? Presence::absent
                   : attr_enum<MixerGate>(a) == MixerGate::fixed ? Presence::optional
                                                                 : Presence::required;
    dg->shape = g->shape;
    dg->absent_reason = attr_is(MixerGate::none);
    TensorSig* di = sig.output("di");
    di->presence = sig.input("i")->presence == Presence::absent ? Presence::absent : Presence::required;
    di->absent_reason = attr_is(MixerInputGate::none);
    TensorSig* dbeta = sig.output("dbeta");
    dbeta->presence = a.b("delta") ? Presence::required : Presence::absent;
    dbeta->absent_reason = "delta is off";
    if (attr_enum<MixerNormalize>(a) == MixerNormalize::none) {
      for (const char* name : {"dz_final"}) {
        sig.input(name)->presence = Presence::absent;
        sig.input(name)->absent_reason = attr_is(MixerNormalize::none);
      }
      sig.output("dz0")->presence = Presence::absent;
      sig.output("dz0")->absent_reason = attr_is(MixerNormalize::none);
    }
  };
  op.check = [](const Attrs& a, Dims&) { check_mixer_switches("mixer_bwd", a); };
  return op;
}

}  // namespace

std::vector<OpDef> mixer_ops() { return {mixer_fwd(), mixer_bwd()}; }

}  // namespace linea
