// Training: cross-entropy, row gather/scatter, elementwise ops, reductions, AdamW.
//
// Shape symbols used here:
//   N  rows of logits / labels, or rows of a table (embedding, vocabulary)
//   C  classes (the vocabulary, for a language model's loss)
//   M  rows gathered from (or scattered into) an N-row table
//   D  features of one row
//   *S any number of leading dims (the elementwise ops take any shape)
//
// Two ops work in place and declare no outputs: accumulate writes into dst,
// adamw_step into param, m and v. Their docs say so.
#include <cstdint>
#include <string>

#include "op_families.h"

namespace linea {
namespace {

// Integer attributes arrive from JavaScript as doubles, exact up to 2^53 - 1
// (Number.MAX_SAFE_INTEGER); no step count can reach it.
constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;

// AttrDef's own default bounds, spelled out where a positional initializer
// must name one: no limit beyond finiteness.
constexpr double kNoLower = -1e300;
constexpr double kNoUpper = 1e300;

// bf16 and f16 are storage only: kernels accumulate in f32. AdamW keeps f32 master
// weights and moments (cast makes the 16-bit copies), so it has neither.
const std::vector<DType> kValueDtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
const std::vector<DType> kMasterDtypes = {DType::f32, DType::f64};

// ---- cross-entropy ---------------------------------------------------------

const char* const kLabelsDoc =
    "labels are i32 class indices 0..C-1, or -1 for a row that takes no part in the loss "
    "(padding); any other value throws an error naming the row and the value";

OpDef cross_entropy_fwd() {
  OpDef op;
  op.name = "cross_entropy_fwd";
  op.doc =
      "Softmax cross-entropy per row, numerically stable (the row max is subtracted before exp). "
      "For row n with label y = labels[n]: lse[n] = log sum_c exp(logits[n, c]), "
      "nll[n] = lse[n] - logits[n, y] = -log softmax(logits[n])[y], "
      "correct[n] = 1 if argmax_c logits[n, c] == y else 0 (ties go to the lowest index). "
      "Rows with label -1 are ignored: nll = 0 and correct = 0 (lse is still computed). "
      "The mean loss is sum(nll) / (number of labelled rows); cross_entropy_bwd takes that weight "
      "as its scale. A row with a NaN logit, or whose largest logit is not finite, gets lse = NaN, "
      "nll = NaN (0 if ignored; so divergence shows instead of hiding) and correct = 0.";
  op.signature.inputs = {
      {"logits", "N,C", Presence::required, "unnormalized log-probabilities, one [C] row per prediction"},
      {"labels", "N", Presence::required, kLabelsDoc, "", true},
  };
  op.signature.outputs = {
      {"nll", "N", Presence::required, "negative log-likelihood of each row's label; 0 on ignored rows", "", false,
       true},
      {"lse", "N", Presence::required,
       "log-sum-exp of each row of logits (every row, ignored ones included); pass it to cross_entropy_bwd", "", false,
       true},
      {"correct", "N", Presence::required,
       "1 where the row's argmax (lowest index on ties) equals its label, else 0; 0 on ignored rows. "
       "sum(correct) / (labelled rows) is the accuracy"},
  };
  op.dtypes = kValueDtypes;
  return op;
}

OpDef cross_entropy_bwd() {
  OpDef op;
  op.name = "cross_entropy_bwd";
  op.doc =
      "Backward of cross_entropy_fwd for the loss L = scale * sum_n nll[n]: "
      "dlogits[n, c] = scale * (exp(logits[n, c] - lse[n]) - [c == labels[n]]) on labelled rows, "
      "0 on rows with label -1. Softmax probabilities are recomputed from the forward's lse. "
      "A labelled row whose lse is not finite, or with a NaN logit, gets NaN gradients.";
  op.signature.inputs = {
      {"logits", "N,C", Presence::required, "the forward's logits"},
      {"labels", "N", Presence::required, kLabelsDoc, "", true},
      {"lse", "N", Presence::required, "the forward's output lse", "", false, true},
  };
  op.signature.outputs = {
      {"dlogits", "N,C", Presence::required, "gradient of scale * sum(nll) with respect to logits"},
  };
  op.attrs = {
      float_attr("scale", 1.0, kNoLower, kNoUpper,
                 "the loss's weight on every row's nll, e.g. 1 / (number of labelled rows) for the mean"),
  };
  op.dtypes = kValueDtypes;
  return op;
}

// ---- rows ------------------------------------------------------------------

OpDef gather_rows() {
  OpDef op;
  op.name = "gather_rows";
  op.doc =
      "Row gather (embedding lookup): y[m, :] = x[idx[m], :]. Indices may repeat. "
      "An index outside 0..N-1 throws an error naming its position and value. "
      "Its gradient with respect to x is scatter_add_rows(idx, dy, x).";
  op.signature.inputs = {
      {"x", "N,D", Presence::required, "the table, one [D] row per entry"},
      {"idx", "M", Presence::required, "i32 row indices into x, each in 0..N-1", "", true},
  };
  op.signature.outputs = {
      {"y", "M,D", Presence::required, "the gathered rows"},
  };
  op.dtypes = kValueDtypes;
  return op;
}

OpDef scatter_add_rows() {
  OpDef op;
  op.name = "scatter_add_rows";
  op.doc =
      "Row scatter-add, the gradient of gather_rows: dx = 0, then dx[idx[m], :] += dy[m, :] "
      "for every m (repeated indices accumulate, in order of m, in double). x only gives N; "
      "its values are not read. An index outside 0..N-1 throws an error naming its position "
      "and value. Deterministic: each output row is summed by one thread.";
  op.signature.inputs = {
      {"idx", "M", Presence::required, "i32 row indices into dx, each in 0..N-1", "", true},
      {"dy", "M,D", Presence::required, "the rows to add (e.g. the gradient of gather_rows' y)"},
      {"x", "N,D", Presence::required, "gives dx its shape [N, D]; only its shape is used"},
  };
  op.signature.outputs = {
      {"dx", "N,D", Presence::required, "sum of the dy rows sent to each row; zero rows no index names"},
  };
  op.dtypes = kValueDtypes;
  return op;
}

// ---- unary elementwise -------------------------------------------------------

const char* const kUnaryFormulas =
    "Elementwise on any shape, y = alpha * f(x) with f by kind:\n"
    "  identity:   f(x) = x                                   f'(x) = 1\n"
    "  silu:       f(x) = x * sigmoid(x)                      f'(x) = s (1 + x (1 - s)), s = sigmoid(x)\n"
    "  sigmoid:    f(x) = 1 / (1 + exp(-x))                   f'(x) = s (1 - s)\n"
    "  softplus:   f(x) = log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|)), so\n"
    "              softplus(x) = x for large x                f'(x) = sigmoid(x)\n"
    "  logsigmoid: f(x) = -softplus(-x), computed as min(x, 0) - log1p(exp(-|x|)), so\n"
    "              logsigmoid(-100) = -100                    f'(x) = sigmoid(-x)\n"
    "  exp:        f(x) = exp(x)                              f'(x) = exp(x)\n"
    "  neg_exp:    f(x) = -exp(x) (Mamba's A = -exp(A_log))   f'(x) = -exp(x)\n"
    "sigmoid only ever exponentiates -|x|, so no kind overflows except exp and neg_exp, which "
    "are +-inf beyond x = 88.7 in f32 (709.8 in f64), as exp itself is.";

std::vector<AttrDef> unary_attrs() {
  return {
      enum_attr(UnaryKind::identity, "the function f (formulas in the op doc)"),
      float_attr("alpha", 1.0, kNoLower, kNoUpper, "scale of the result: y = alpha * f(x)"),
  };
}

OpDef unary_fwd() {
  OpDef op;
  op.name = "unary_fwd";
  op.doc = std::string("Unary elementwise op. ") + kUnaryFormulas;
  op.signature.inputs = {
      {"x", "*S", Presence::required, "any shape"},
  };
  op.signature.outputs = {
      {"y", "*S", Presence::required, "alpha * f(x), shaped like x"},
  };
  op.attrs = unary_attrs();
  op.dtypes = kValueDtypes;
  return op;
}

OpDef unary_bwd() {
  OpDef op;
  op.name = "unary_bwd";
  op.doc = std::string("Backward of unary_fwd: dx = dy * alpha * f'(x). ") + kUnaryFormulas;
  op.signature.inputs = {
      {"x", "*S", Presence::required, "the forward's input"},
      {"dy", "*S", Presence::required, "gradient of the loss with respect to y"},
  };
  op.signature.outputs = {
      {"dx", "*S", Presence::required, "gradient of the loss with respect to x"},
  };
  op.attrs = unary_attrs();
  op.dtypes = kValueDtypes;
  return op;
}

// ---- binary elementwise ------------------------------------------------------

std::vector<AttrDef> binary_attrs() {
  return {
      enum_attr(BinaryKind::add, "add: y = a + b; mul: y = a * b"),
      bool_attr("broadcast", false,
                "false: b is shaped like a; true: b is one [D] row, applied to every [D] row of a "
                "(a bias, or a per-feature scale)"),
  };
}

// With broadcast, b (and its gradient db) become one [D] row.
void broadcast_b_row(const Attrs& attrs, const std::set<std::string>&, Signature& sig) {
  if (!attrs.b("broadcast")) return;
  TensorSig* b = sig.input("b");
  b->shape = "D";
  b->doc = "one [D] row, applied to every row of a (broadcast is true)";
  if (TensorSig* db = sig.output("db")) {
    db->shape = "D";
    db->doc = "gradient with respect to b, summed over every row of a (broadcast is true)";
  }
}

OpDef binary_fwd() {
  OpDef op;
  op.name = "binary_fwd";
  op.doc =
      "Binary elementwise op on rows of D features: y = a + b (kind add) or y = a * b (kind mul). "
      "b is shaped like a, or with broadcast = true a single [D] row applied to every row of a: "
      "y[..., d] = a[..., d] op b[d].";
  op.signature.inputs = {
      {"a", "*S,D", Presence::required, "any shape with at least one dim; D is its last dim"},
      {"b", "*S,D", Presence::required, "shaped like a (with broadcast = true: [D])"},
  };
  op.signature.outputs = {
      {"y", "*S,D", Presence::required, "a op b, shaped like a"},
  };
  op.attrs = binary_attrs();
  op.dtypes = kValueDtypes;
  op.specialize = broadcast_b_row;
  return op;
}

OpDef binary_bwd() {
  OpDef op;
  op.name = "binary_bwd";
  op.doc =
      "Backward of binary_fwd. add: da = dy, db = dy; mul: da = dy * b, db = dy * a. "
      "With broadcast = true, db[d] = sum over every row r of a of (dy[r, d] for add, "
      "dy[r, d] * a[r, d] for mul), accumulated in double in an order that depends only on the "
      "shape (the same result whatever the thread count).";
  op.signature.inputs = {
      {"a", "*S,D", Presence::required, "the forward's a"},
      {"b", "*S,D", Presence::required, "the forward's b (with broadcast = true: [D])"},
      {"dy", "*S,D", Presence::required, "gradient of the loss with respect to y"},
  };
  op.signature.outputs = {
      {"da", "*S,D", Presence::required, "gradient with respect to a"},
      {"db", "*S,D", Presence::required, "gradient with respect to b, shaped like b"},
  };
  op.attrs = binary_attrs();
  op.dtypes = kValueDtypes;
  op.specialize = broadcast_b_row;
  return op;
}

// ---- reductions and in-place updates ------------------------------------------

OpDef sum_squares() {
  OpDef op;
  op.name = "sum_squares";
  op.doc =
      "Sum of squares of every element: y[0] = sum_i x_i^2, accumulated in double (rounded once "
      "to the tensor's dtype) in an order that depends only on the shape. For the global "
      "gradient norm: sqrt of the sum of sum_squares over every gradient.";
  op.signature.inputs = {
      {"x", "*S", Presence::required, "any shape"},
  };
  op.signature.outputs = {
      {"y", "1", Presence::required, "[1]: the sum of squares", "", false, true},
  };
  op.dtypes = kValueDtypes;
  return op;
}

OpDef accumulate() {
  OpDef op;
  op.name = "accumulate";
  op.doc =
      "Updates dst in place: dst <- dst + alpha * src, element by element (gradient accumulation "
      "without allocating). No outputs: dst's own memory is updated; src is only read. src may be "
      "dst itself (then dst <- (1 + alpha) dst).";
  op.signature.inputs = {
      {"dst", "*S", Presence::required, "updated in place"},
      {"src", "*S", Presence::required, "shaped like dst; not modified"},
  };
  op.attrs = {
      float_attr("alpha", 1.0, kNoLower, kNoUpper, "weight of src: dst += alpha * src"),
  };
  op.dtypes = kValueDtypes;
  return op;
}

OpDef adamw_step() {
  OpDef op;
  op.name = "adamw_step";
  op.doc =
      "One AdamW step, in place, exactly PyTorch's torch.optim.AdamW (decoupled weight decay, "
      "bias-corrected moments), element by element, computed in double and rounded once:\n"
      "  g = grad * grad_scale * clip\n"
      "  param <- param * (1 - lr * weight_decay)\n"
      "  m <- beta1 * m + (1 - beta1) * g\n"
      "  v <- beta2 * v + (1 - beta2) * g^2\n"
      "  param <- param - lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)\n"
      "No outputs: param, m and v are updated in their own memory; grad is only read. "
      "param, m and v must be three different tensors, and grad none of them (an error otherwise). "
      "m and v start as zeros at step 1. "
      "clip is 1 without grad_sq_sum. With it (the sum of squares of every gradient of the step, "
      "summed on the device so the host need not wait for it): norm = sqrt(grad_sq_sum); when norm is "
      "not finite nothing is updated (the step is skipped: a diverged step leaves the weights as they "
      "were); else clip = max_norm / norm when max_norm > 0 and norm > max_norm, 1 otherwise.";
  op.signature.inputs = {
      {"param", "*S", Presence::required, "the parameter; updated in place"},
      {"grad", "*S", Presence::required, "its gradient; not modified"},
      {"m", "*S", Presence::required, "first-moment estimate (zeros before step 1); updated in place"},
      {"v", "*S", Presence::required, "second-moment estimate (zeros before step 1); updated in place"},
      {"grad_sq_sum", "1", Presence::optional, "sum of squares of all the step's gradients (global-norm clip)"},
  };
  op.attrs = {
      float_attr("lr", 1e-3, 0.0, kNoUpper, "learning rate, >= 0"),
      float_attr("beta1", 0.9, 0.0, 1.0, "first-moment decay, 0 <= beta1 < 1"),
      float_attr("beta2", 0.999, 0.0, 1.0, "second-moment decay, 0 <= beta2 < 1"),
      float_attr("eps", 1e-8, 0.0, kNoUpper, "added to the bias-corrected sqrt(v), > 0"),
      float_attr("weight_decay", 0.0, 0.0, kNoUpper,
                 "decoupled weight decay, >= 0: param is multiplied by (1 - lr * weight_decay) first"),
      int_attr("step", 1, 1.0, static_cast<double>(kMaxSafeInteger),
               "the 1-based number of this step, for the bias corrections 1 - beta^step"),
      float_attr("grad_scale", 1.0, 0.0, kNoUpper,
                 "multiplies grad before anything else, >= 0 (gradient clipping: max_norm / total_norm)"),
      float_attr("max_norm", 0.0, 0.0, kNoUpper,
                 "with grad_sq_sum: the global gradient norm is clipped to it, >= 0 (0: no clipping)"),
  };
  op.dtypes = kMasterDtypes;
  // The attribute ranges are inclusive; these bounds are not. Past the range
  // check, the only values left to refuse are beta = 1 and eps = 0 exactly.
  op.check = [](const Attrs& attrs, Dims&) {
    for (const char* beta : {"beta1", "beta2"})
      if (attrs.f(beta) >= 1.0)
        throw OpError(std::string("adamw_step: attribute ") + beta + " = 1 is out of range; valid: 0 <= " + beta +
                      " < 1 (at 1 the bias correction 1 - " + beta + "^step is 0)");
    if (attrs.f("eps") <= 0.0)
      throw OpError(
          "adamw_step: attribute eps = 0 is out of range; valid: eps > 0 (it keeps the "
          "update finite where v = 0)");
  };
  return op;
}

OpDef cast() {
  OpDef op;
  op.name = "cast";
  op.doc =
      "Converts every element to another value dtype: y = x rounded to nearest (ties to even) when the "
      "target is narrower, exact when it is wider. Mixed precision's bridge: bf16 or f16 copies of f32 master "
      "weights, f32 copies of 16-bit activations for the loss.";
  op.signature.inputs = {
      {"x", "*S", Presence::required, "any shape"},
  };
  op.signature.outputs = {
      {"y", "*S", Presence::required, "shaped like x, in dtype `to`"},
  };
  op.attrs = {
      enum_attr(CastTarget::f32, "the dtype of y"),
  };
  op.dtypes = kValueDtypes;
  op.output_dtype = [](const Attrs& attrs, DType) { return cast_target_dtype(attr_enum<CastTarget>(attrs)); };
  return op;
}

}  // namespace

std::vector<OpDef> training_ops() {
  return {cross_entropy_fwd(), cross_entropy_bwd(), gather_rows(), scatter_add_rows(), unary_fwd(),  unary_bwd(),
          binary_fwd(),        binary_bwd(),        sum_squares(), accumulate(),       adamw_step(), cast()};
}

}  // namespace linea
