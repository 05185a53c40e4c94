// Feature maps on q and k, and the short causal depthwise convolution.
//
// Shape symbols used here (besides B batch, T time, H heads):
//   D  features of one head going into a feature map
//   E  features coming out of it (D, or 1 + D + D² for taylor2; bound by `check`)
//   C  channels of the convolution (it is depthwise: one filter per channel)
//   W  taps of the convolution filter (its kernel size)
#include <string>

#include "op_attrs.h"
#include "op_families.h"

namespace linea {
namespace {

// The l2 norms divide by sqrt(sum x² + eps). eps > 0 keeps an all-zero row
// finite (it maps to 0, with gradient dy / sqrt(eps)); 1e-12 is the smallest
// eps whose square root (1e-6) still leaves that gradient well inside float32.
constexpr double kMinL2Eps = 1e-12;
// eps is a guard against division by zero, not a scale: beyond 1 it would
// visibly shrink the unit vectors the map promises.
constexpr double kMaxL2Eps = 1.0;
constexpr double kDefaultL2Eps = 1e-6;

// A short convolution is short (Mamba, DeltaNet and Based use 2 to 4 taps);
// longer filters belong to a long-convolution op. The bound also lets a GPU
// kernel keep one channel's taps in registers.
constexpr int64_t kMaxConvTaps = 64;

std::vector<AttrDef> feature_map_attrs() {
  return {
      enum_attr(FeatureMapKind::identity, "which feature map phi to apply to each [D] row (formulas in the op doc)"),
      float_attr("eps", kDefaultL2Eps, kMinL2Eps, kMaxL2Eps,
                 "added to sum x^2 under the square root of l2norm and silu_l2norm; unused by the other kinds"),
  };
}

const char* const kFeatureMapFormulas =
    "Applied independently to every [D] row x of a (b, t, h):\n"
    "  identity:    y = x                                  (E = D)\n"
    "  elu1:        y_i = x_i + 1 if x_i > 0, else exp(x_i)  (elu(x) + 1, Linear Transformer; E = D;\n"
    "               always > 0, except that float32 kernels flush denormals: 0 below x_i = -87.3)\n"
    "  relu:        y_i = max(x_i, 0)                      (E = D; gradient 0 at x_i = 0)\n"
    "  silu:        y_i = x_i * sigmoid(x_i)               (E = D)\n"
    "  l2norm:      y = x / sqrt(sum_i x_i^2 + eps)        (E = D)\n"
    "  silu_l2norm: u = silu(x), y = u / sqrt(sum_i u_i^2 + eps)  (DeltaNet's q/k map; E = D)\n"
    "  taylor2:     y = [1, x / D^(1/4), vec(x x^T) / (sqrt(2) sqrt(D))], vec row-major, so\n"
    "               y[0] = 1, y[1 + i] = x_i / D^(1/4), y[1 + D + i D + j] = x_i x_j / sqrt(2 D),\n"
    "               and phi(q) . phi(k) = 1 + q.k / sqrt(D) + (q.k)^2 / (2 D)  (Based; E = 1 + D + D^2)";

// Binds E, the output feature count, from `kind` and D. In the backward pass
// E was already bound by `e_source` (dy): then it must match. In the forward
// pass nothing binds E before this hook, so the mismatch branch is unreachable.
std::function<void(const Attrs&, Dims&)> bind_feature_count(const std::string& op_name, const std::string& e_source) {
  return [op_name, e_source](const Attrs& attrs, Dims& dims) {
    const int64_t D = dims.at("D");
    const FeatureMapKind kind = attr_enum<FeatureMapKind>(attrs);
    const int64_t E = feature_map_out_dim(kind, D);
    auto bound = dims.find("E");
    if (bound == dims.end()) {
      dims["E"] = E;
      return;
    }
    if (bound->second != E)
      throw OpError(op_name + ": " + e_source + " has feature dim E=" + std::to_string(bound->second) +
                    ", expected E=" + std::to_string(E) + " (kind '" + attr_enum_name(kind) +
                    "' maps D=" + std::to_string(D) + " features to " +
                    (kind == FeatureMapKind::taylor2 ? "1 + D + D^2" : "D") + ")");
  };
}

OpDef feature_map_fwd() {
  OpDef op;
  op.name = "feature_map_fwd";
  op.doc = std::string("Feature map phi on queries or keys: y = phi(x).\n") + kFeatureMapFormulas;
  op.signature.inputs = {
      {"x", "B,T,H,D", Presence::required, "queries or keys, one [D] row per (b, t, h)"},
  };
  op.signature.outputs = {
      {"y", "B,T,H,E", Presence::required, "phi(x); E = D, or 1 + D + D^2 for taylor2"},
  };
  op.attrs = feature_map_attrs();
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  op.check = bind_feature_count(op.name, "y");
  return op;
}

OpDef feature_map_bwd() {
  OpDef op;
  op.name = "feature_map_bwd";
  op.doc = std::string(
               "Backward of feature_map_fwd: dx = J_phi(x)^T dy, row by row. For the l2 norms, with "
               "r = sqrt(sum u^2 + eps) and y = u / r: du = (dy - y (y . dy)) / r (then times silu'(x) "
               "for silu_l2norm). For taylor2: dx_a = dy[1 + a] / D^(1/4) + sum_j (dY[a, j] + dY[j, a]) "
               "x_j / sqrt(2 D), dY the [D, D] block of dy.\n") +
           kFeatureMapFormulas;
  op.signature.inputs = {
      {"x", "B,T,H,D", Presence::required, "the forward input"},
      {"dy", "B,T,H,E", Presence::required, "gradient of the loss w.r.t. y"},
  };
  op.signature.outputs = {
      {"dx", "B,T,H,D", Presence::required, "gradient of the loss w.r.t. x"},
  };
  op.attrs = feature_map_attrs();
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  op.check = bind_feature_count(op.name, "dy");
  return op;
}

AttrDef conv_activation_attr() {
  return enum_attr(ConvActivation::none,
                   "applied to the filtered signal: none, or silu (Mamba's and DeltaNet's choice)");
}

// W is bound by the weight's shape; the op table's shapes cannot bound it, so check does.
std::function<void(const Attrs&, Dims&)> check_conv_taps(const std::string& op_name) {
  return [op_name](const Attrs&, Dims& dims) {
    const int64_t W = dims.at("W");
    if (W > kMaxConvTaps)
      throw OpError(op_name + ": weight has kernel size W=" + std::to_string(W) + " (dim 1 of [C, W]); valid: 1 to " +
                    std::to_string(kMaxConvTaps));
  };
}

const char* const kShortConvFormula =
    "pre[b, t, c] = bias[c] + sum_{j=0}^{W-1} weight[c, j] * x[b, t - W + 1 + j, c], "
    "with x = 0 at negative times (causal) and bias = 0 when absent; "
    "y = pre (activation none) or silu(pre) = pre * sigmoid(pre) (activation silu). "
    "Depthwise: channel c only sees channel c.";

OpDef short_conv_fwd() {
  OpDef op;
  op.name = "short_conv_fwd";
  op.doc = std::string("Short causal depthwise convolution over time. ") + kShortConvFormula;
  op.signature.inputs = {
      {"x", "B,T,C", Presence::required, "the signal, one [C] row per (b, t)"},
      {"weight", "C,W", Presence::required, "one filter of W taps per channel; tap W-1 sees time t"},
      {"bias", "C", Presence::optional, "per-channel bias (zeros when absent)"},
  };
  op.signature.outputs = {
      {"y", "B,T,C", Presence::required, "act(pre)"},
  };
  op.attrs = {conv_activation_attr()};
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  op.check = check_conv_taps(op.name);
  return op;
}

OpDef short_conv_bwd() {
  OpDef op;
  op.name = "short_conv_bwd";
  op.doc = std::string(
               "Backward of short_conv_fwd. With g = dy * act'(pre): "
               "dx[b, s, c] = sum_j weight[c, j] * g[b, s + W - 1 - j, c] (terms past T dropped), "
               "dweight[c, j] = sum_{b, t} g[b, t, c] * x[b, t - W + 1 + j, c], "
               "dbias[c] = sum_{b, t} g[b, t, c], produced when bias is given. ") +
           kShortConvFormula;
  op.signature.inputs = {
      {"x", "B,T,C", Presence::required, "the forward input"},
      {"weight", "C,W", Presence::required, "the forward filters"},
      {"bias", "C", Presence::optional, "the forward bias, when it had one"},
      {"dy", "B,T,C", Presence::required, "gradient of the loss w.r.t. y"},
  };
  op.signature.outputs = {
      {"dx", "B,T,C", Presence::required, "gradient w.r.t. x"},
      {"dweight", "C,W", Presence::required, "gradient w.r.t. weight"},
      {"dbias", "C", Presence::optional, "gradient w.r.t. bias; produced exactly when bias is given"},
  };
  op.attrs = {conv_activation_attr()};
  op.dtypes = {DType::f32, DType::f64, DType::bf16, DType::f16};
  op.specialize = [](const Attrs&, const std::set<std::string>& given, Signature& sig) {
    TensorSig* dbias = sig.output("dbias");
    if (given.count("bias")) {
      dbias->presence = Presence::required;
    } else {
      dbias->presence = Presence::absent;
      dbias->absent_reason = "no bias was given";
    }
  };
  op.check = check_conv_taps(op.name);
  return op;
}

}  // namespace

std::vector<OpDef> feature_map_ops() {
  return {feature_map_fwd(), feature_map_bwd(), short_conv_fwd(), short_conv_bwd()};
}

}  // namespace linea
