// Softmax attention (hybrid layers): causal, optionally sliding-window.
//
// Shapes use D for the query/key head dim (the K of the mixer ops) and V for
// the value head dim; lse is per (batch, head) row, time last, so one head's
// log-sum-exps are contiguous.
#include "op_attrs.h"
#include "op_families.h"

namespace linea {
namespace {

constexpr double kMaxScale = 1e6;
constexpr int64_t kMaxWindow = int64_t{1} << 30;

// Shared by the forward and the backward: the backward must see the same
// scores as the forward that produced o and lse.
std::vector<AttrDef> attention_attrs() {
  return {
      scale_attr("score scale: scores are scale * (q_t . k_s)", "D", kMaxScale),
      int_attr("window", 0, 0.0, static_cast<double>(kMaxWindow),
               "sliding window: 0 means full causal attention (query t sees keys 0..t); w > 0 means "
               "query t sees only the last w positions including itself, keys max(0, t-w+1)..t "
               "(w = 1: each query sees only its own key; w >= T is full causal attention)"),
  };
}

OpDef softmax_attn_fwd() {
  OpDef op;
  op.name = "softmax_attn_fwd";
  op.doc =
      "Causal softmax attention forward, one head per (b, h): for each query t, "
      "o_t = sum_s p_ts v_s with p_ts = exp(scale * q_t . k_s - lse_t) over the allowed keys s "
      "(s <= t, and s > t - window when window > 0), "
      "lse_t = log sum_s exp(scale * q_t . k_s). Every query sees at least its own key. "
      "Computed blockwise with an online softmax: memory O(T * (D + V)), no T x T matrix.";
  op.signature.inputs = {
      {"q", "B,T,H,D", Presence::required, "queries"},
      {"k", "B,T,H,D", Presence::required, "keys"},
      {"v", "B,T,H,V", Presence::required, "values"},
  };
  op.signature.outputs = {
      {"o", "B,T,H,V", Presence::required, "attention outputs"},
      {"lse", "B,H,T", Presence::required,
       "natural-log sum-exp of each query row's scaled scores over its allowed keys; "
       "the backward recomputes the probabilities from it",
       "", false, true},
  };
  op.attrs = attention_attrs();
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  return op;
}

OpDef softmax_attn_bwd() {
  OpDef op;
  op.name = "softmax_attn_bwd";
  op.doc =
      "Causal softmax attention backward: given do = dL/do for a loss L of the forward's "
      "output o, returns dq, dk, dv. Recomputes p_ts = exp(scale * q_t . k_s - lse_t) "
      "blockwise from the forward's lse (memory O(T * (D + V)), no T x T matrix), with "
      "delta_t = do_t . o_t and ds_ts = p_ts * (do_t . v_s - delta_t): "
      "dq_t = scale * sum_s ds_ts k_s, dk_s = scale * sum_t ds_ts q_t, dv_s = sum_t p_ts do_t. "
      "lse is not differentiated (a loss that uses lse directly is not covered). "
      "scale and window must equal the forward's.";
  op.signature.inputs = {
      {"q", "B,T,H,D", Presence::required, "queries, as given to the forward"},
      {"k", "B,T,H,D", Presence::required, "keys, as given to the forward"},
      {"v", "B,T,H,V", Presence::required, "values, as given to the forward"},
      {"o", "B,T,H,V", Presence::required, "the forward's output o"},
      {"lse", "B,H,T", Presence::required, "the forward's output lse", "", false, true},
      {"do", "B,T,H,V", Presence::required, "gradient of the loss with respect to o"},
  };
  op.signature.outputs = {
      {"dq", "B,T,H,D", Presence::required, "gradient of the loss with respect to q"},
      {"dk", "B,T,H,D", Presence::required, "gradient of the loss with respect to k"},
      {"dv", "B,T,H,V", Presence::required, "gradient of the loss with respect to v"},
  };
  op.attrs = attention_attrs();
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  return op;
}

OpDef softmax_attn_decode() {
  OpDef op;
  op.name = "softmax_attn_decode";
  op.doc =
      "One decoding step of causal softmax attention: the new query q (the position after the "
      "cache) attends to the S cached keys and values, the last of which is its own; with "
      "window w > 0, to the last w of them. o = sum_s p_s v_s, p_s = softmax_s(scale * q . k_s). "
      "Equals the last row of softmax_attn_fwd over the same keys. Forward only (inference).";
  op.signature.inputs = {
      {"q", "B,H,D", Presence::required, "the query of the new position"},
      {"k", "B,S,H,D", Presence::required, "cached keys, the new position's last"},
      {"v", "B,S,H,V", Presence::required, "cached values, the new position's last"},
  };
  op.signature.outputs = {{"o", "B,H,V", Presence::required, "the attention output of the new position"}};
  op.attrs = attention_attrs();
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  return op;
}

}  // namespace

std::vector<OpDef> attention_ops() { return {softmax_attn_fwd(), softmax_attn_bwd(), softmax_attn_decode()}; }

}  // namespace linea
