// Model layers: embedding, RMS/layer norm, linear, SwiGLU, rotary positions.
//
// Shape symbols used here:
//   *S  any leading shape (rows): all leading dims, flattened, are the rows
//       the op treats independently ("*S,D": any shape whose last dim is D)
//   R   rows of the embedding table (the vocabulary)
//   D   features: the embedding width, the normalized dim, or the rotary head dim
//   K   features into a linear layer, M features out of it
//   B, T, H  batch, time, heads (rotary)
#include <sstream>
#include <string>

#include "op_families.h"

namespace linea {
namespace {

// ---- embedding ---------------------------------------------------------------

OpDef embedding_fwd() {
  OpDef op;
  op.name = "embedding_fwd";
  op.doc =
      "Embedding lookup: y[n, :] = table[ids[n], :] for every position n of ids (any shape). "
      "Every id must lie in 0..R-1; otherwise the call throws, naming the first bad flat "
      "position and its value.";
  op.signature.inputs = {
      {"ids", "*S", Presence::required, "token ids (i32), any shape; each in 0..R-1", "", true},
      {"table", "R,D", Presence::required, "the embedding table, one [D] row per id"},
  };
  op.signature.outputs = {
      {"y", "*S,D", Presence::required, "the looked-up rows: ids' shape with D appended"},
  };
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  return op;
}

OpDef embedding_bwd() {
  OpDef op;
  op.name = "embedding_bwd";
  op.doc =
      "Backward of embedding_fwd: dtable[r, :] = sum over positions n with ids[n] = r of dy[n, :]; "
      "rows of ids that never occur are zero. Sums accumulate in double. Ids are checked as in "
      "the forward.";
  op.signature.inputs = {
      {"ids", "*S", Presence::required, "the forward's token ids (i32)", "", true},
      {"table", "R,D", Presence::required, "the forward's table; only its shape (and dtype) is used"},
      {"dy", "*S,D", Presence::required, "gradient of the loss w.r.t. y"},
  };
  op.signature.outputs = {
      {"dtable", "R,D", Presence::required, "gradient of the loss w.r.t. table"},
  };
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  return op;
}

// ---- norms -------------------------------------------------------------------

constexpr double kDefaultNormEps = 1e-6;
// eps keeps rstd finite for a constant (layer) or zero (rms) row; beyond 1 it
// would no longer be a guard but a visible change of scale.
constexpr double kMaxNormEps = 1.0;

AttrDef norm_kind_attr() {
  return enum_attr(NormKind::rms, "rms: RMSNorm (no mean subtracted); layer: LayerNorm without bias (mean subtracted)");
}

const char* const kNormFormulas =
    "Per row x (the last dim, D features), statistics in double:\n"
    "  rms:   rstd = 1 / sqrt(mean_i x_i^2 + eps),            y_i = x_i * rstd * weight_i\n"
    "  layer: mu = mean_i x_i, rstd = 1 / sqrt(mean_i (x_i - mu)^2 + eps),\n"
    "                                                          y_i = (x_i - mu) * rstd * weight_i\n"
    "weight_i = 1 when weight is absent. eps = 0 is allowed; a zero (rms) or constant (layer) row "
    "then gives rstd = inf and y = NaN.";

OpDef norm_fwd() {
  OpDef op;
  op.name = "norm_fwd";
  op.doc = std::string("RMSNorm or LayerNorm (no bias) over the last dim.\n") + kNormFormulas;
  op.signature.inputs = {
      {"x", "*S,D", Presence::required, "the rows to normalize"},
      {"weight", "D", Presence::optional, "per-feature gain (ones when absent)"},
  };
  op.signature.outputs = {
      {"y", "*S,D", Presence::required, "the normalized rows, times weight"},
      {"rstd", "*S", Presence::required, "1 / (RMS or standard deviation) of each row; norm_bwd takes it back", "",
       false, true},
  };
  op.attrs = {
      norm_kind_attr(),
      float_attr("eps", kDefaultNormEps, 0.0, kMaxNormEps,
                 "added to the mean square (rms) or variance (layer) under the square root"),
  };
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  return op;
}

OpDef norm_bwd() {
  OpDef op;
  op.name = "norm_bwd";
  op.doc = std::string(
               "Backward of norm_fwd. With xhat = x * rstd (rms) or (x - mu) * rstd (layer, mu "
               "recomputed from x) and g = dy * weight:\n"
               "  rms:   dx = rstd * (g - xhat * mean_i(g_i xhat_i))\n"
               "  layer: dx = rstd * (g - mean_i(g_i) - xhat * mean_i(g_i xhat_i))\n"
               "  dweight_i = sum over rows of dy_i * xhat_i (only when weight is given).\n"
               "rstd is the forward's output, so eps is not needed again.\n") +
           kNormFormulas;
  op.signature.inputs = {
      {"x", "*S,D", Presence::required, "the forward input"},
      {"weight", "D", Presence::optional, "the forward's weight, when it had one"},
      {"rstd", "*S", Presence::required, "the forward's output rstd", "", false, true},
      {"dy", "*S,D", Presence::required, "gradient of the loss w.r.t. y"},
  };
  op.signature.outputs = {
      {"dx", "*S,D", Presence::required, "gradient of the loss w.r.t. x"},
      {"dweight", "D", Presence::optional, "gradient w.r.t. weight; produced exactly when weight is given"},
  };
  op.attrs = {
      norm_kind_attr(),
      float_attr("eps", kDefaultNormEps, 0.0, kMaxNormEps,
                 "unused (rstd carries it); accepted so the forward's attributes can be passed unchanged"),
  };
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  op.specialize = [](const Attrs&, const std::set<std::string>& given, Signature& sig) {
    TensorSig* dweight = sig.output("dweight");
    if (given.count("weight")) {
      dweight->presence = Presence::required;
    } else {
      dweight->presence = Presence::absent;
      dweight->absent_reason = "no weight was given";
    }
  };
  return op;
}

// ---- linear ------------------------------------------------------------------

AttrDef trans_w_attr() {
  return bool_attr("trans_w", false,
                   "false: w is [K, M] and y = x w; true: w is [M, K] and y = x w^T (a tied LM head reads "
                   "the [vocab, d] embedding table this way)");
}

// w (and dw) is [K, M], or [M, K] under trans_w.
void shape_weight_by_trans(const Attrs& attrs, Signature& sig) {
  const std::string shape = attrs.b("trans_w") ? "M,K" : "K,M";
  if (TensorSig* w = sig.input("w")) w->shape = shape;
  if (TensorSig* dw = sig.output("dw")) dw->shape = shape;
}

OpDef linear_fwd() {
  OpDef op;
  op.name = "linear_fwd";
  op.doc =
      "Linear layer on the last dim: y[n, :] = x[n, :] W + bias, with W = w ([K, M]) or W = w^T "
      "(w [M, K], trans_w); bias is zero when absent. Rows n are all leading dims of x.";
  op.signature.inputs = {
      {"x", "*S,K", Presence::required, "the input rows"},
      {"w", "K,M", Presence::required, "the weight: [K, M], or [M, K] when trans_w"},
      {"bias", "M", Presence::optional, "added to every output row (zeros when absent)"},
  };
  op.signature.outputs = {
      {"y", "*S,M", Presence::required, "the output rows"},
  };
  op.attrs = {trans_w_attr()};
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  op.specialize = [](const Attrs& attrs, const std::set<std::string>&, Signature& sig) {
    shape_weight_by_trans(attrs, sig);
  };
  return op;
}

OpDef linear_bwd() {
  OpDef op;
  op.name = "linear_bwd";
  op.doc =
      "Backward of linear_fwd, rows n over all leading dims:\n"
      "  dx = dy W^T                       ([*S, K])\n"
      "  dw = x^T dy ([K, M]), or dy^T x ([M, K]) when trans_w\n"
      "  dbias = sum over rows of dy       ([M], only when bias is given)\n"
      "In float32 the sums over rows are done in float32 products of a few hundred rows each, "
      "added up in double.";
  op.signature.inputs = {
      {"x", "*S,K", Presence::required, "the forward input"},
      {"w", "K,M", Presence::required, "the forward weight: [K, M], or [M, K] when trans_w"},
      {"bias", "M", Presence::optional, "the forward bias; only its presence is used (it asks for dbias)"},
      {"dy", "*S,M", Presence::required, "gradient of the loss w.r.t. y"},
  };
  op.signature.outputs = {
      {"dx", "*S,K", Presence::required, "gradient w.r.t. x"},
      {"dw", "K,M", Presence::required, "gradient w.r.t. w, in w's shape"},
      {"dbias", "M", Presence::optional, "gradient w.r.t. bias; produced exactly when bias is given"},
  };
  op.attrs = {trans_w_attr()};
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  op.specialize = [](const Attrs& attrs, const std::set<std::string>& given, Signature& sig) {
    shape_weight_by_trans(attrs, sig);
    TensorSig* dbias = sig.output("dbias");
    if (given.count("bias")) {
      dbias->presence = Presence::required;
    } else {
      dbias->presence = Presence::absent;
      dbias->absent_reason = "no bias was given";
    }
  };
  return op;
}

// ---- SwiGLU ------------------------------------------------------------------

OpDef swiglu_fwd() {
  OpDef op;
  op.name = "swiglu_fwd";
  op.doc =
      "Gated linear unit with a SiLU gate, elementwise: y = silu(gate) * up, "
      "silu(g) = g * sigmoid(g). Also the output gate o * swish(g).";
  op.signature.inputs = {
      {"gate", "*S", Presence::required, "the gate pre-activation, any shape"},
      {"up", "*S", Presence::required, "the gated values, gate's shape"},
  };
  op.signature.outputs = {
      {"y", "*S", Presence::required, "silu(gate) * up"},
  };
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  return op;
}

OpDef swiglu_bwd() {
  OpDef op;
  op.name = "swiglu_bwd";
  op.doc =
      "Backward of swiglu_fwd, elementwise, with s = sigmoid(gate): "
      "dgate = dy * up * s * (1 + gate * (1 - s)), dup = dy * gate * s.";
  op.signature.inputs = {
      {"gate", "*S", Presence::required, "the forward's gate"},
      {"up", "*S", Presence::required, "the forward's up"},
      {"dy", "*S", Presence::required, "gradient of the loss w.r.t. y"},
  };
  op.signature.outputs = {
      {"dgate", "*S", Presence::required, "gradient w.r.t. gate"},
      {"dup", "*S", Presence::required, "gradient w.r.t. up"},
  };
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  return op;
}

// ---- rotary ------------------------------------------------------------------

constexpr double kDefaultRotaryBase = 10000.0;
// Positions are token positions, which Linea keeps in i32 elsewhere.
constexpr int64_t kMaxRotaryOffset = 2147483647;

OpDef rotary_fwd() {
  OpDef op;
  op.name = "rotary_fwd";
  op.doc =
      "Rotary position embedding, \"rotate half\" convention (GPT-NeoX, Llama): for each "
      "(b, t, h) and i < D/2 the pair (x_i, x_{i+D/2}) is rotated by theta = (offset + t) * "
      "base^(-2i/D):\n"
      "  y_i       = x_i cos(theta) - x_{i+D/2} sin(theta)\n"
      "  y_{i+D/2} = x_{i+D/2} cos(theta) + x_i sin(theta)\n"
      "inverse = true rotates by -theta; since the rotation is orthogonal, that is also the "
      "backward: dx = rotary_fwd(dy, inverse = true) (and the backward of the inverse is the "
      "forward). Angles, cos and sin are computed in double. D must be even.";
  op.signature.inputs = {
      {"x", "B,T,H,D", Presence::required, "queries or keys, one [D] row per (b, t, h); D even"},
  };
  op.signature.outputs = {
      {"y", "B,T,H,D", Presence::required, "the rotated rows"},
  };
  op.attrs = {
      float_attr("base", kDefaultRotaryBase, 0.0, 1e300,
                 "frequency base: pair i turns at base^(-2i/D) radians per position; must be > 0"),
      int_attr("offset", 0, 0.0, static_cast<double>(kMaxRotaryOffset),
               "position of t = 0 (e.g. the number of tokens already in a cache)"),
      bool_attr("inverse", false, "rotate by -theta instead of theta: undoes the forward, and is its backward"),
  };
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  op.check = [](const Attrs& attrs, Dims& dims) {
    const int64_t D = dims.at("D");
    if (D % 2 != 0)
      throw OpError("rotary_fwd: x has head dim D=" + std::to_string(D) +
                    " (dim 3 of [B, T, H, D]); D must be even, since pairs (x_i, x_{i+D/2}) rotate together");
    // The declared range already refuses negative bases; this refuses base = 0.
    if (!(attrs.f("base") > 0.0)) {
      std::ostringstream message;
      message << "rotary_fwd: attribute base = " << attrs.f("base")
              << " must be > 0 (pair i turns at base^(-2i/D) radians per position)";
      throw OpError(message.str());
    }
  };
  return op;
}

}  // namespace

std::vector<OpDef> layer_ops() {
  return {embedding_fwd(), embedding_bwd(), norm_fwd(),   norm_bwd(),  linear_fwd(),
          linear_bwd(),    swiglu_fwd(),    swiglu_bwd(), rotary_fwd()};
}

}  // namespace linea
