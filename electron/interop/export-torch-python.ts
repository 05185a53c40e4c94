// The model.py that `linea export` writes: Linea's forward in plain PyTorch,
// one module class for every composition a ModelSpec can describe, built
// from the config.json beside it. Written for Linea from its own op
// semantics (native/src/ops, the CPU kernels); the mixers are in
// export-torch-mixers.ts (chunked by default, the recurrent reference on request).
//
// The constants (eps values, rotary base, GLA's gate normalizer) are taken
// from the engine at export time, so the file computes what that engine did.

import { MIXERS_PY } from './export-torch-mixers'

/** The numbers model.py needs from the engine that trained the checkpoint. */
export interface TorchExportConstants {
  /** norm_fwd eps: block norms, final norm, per-head output norms. */
  normEps: number
  /** feature_map_fwd eps: inside the l2 norm's square root. */
  l2Eps: number
  /** mixer_fwd eps: added to the sum denominator. */
  denominatorEps: number
  /** rotary_fwd base. */
  rotaryBase: number
  /** GLA: gate logits are divided by this. */
  glaGateNormalizer: number
  /** GLA: rank of the low-rank gate projection. */
  glaGateRank: number
}

/** Python literal of a finite number (repr-like, never 'NaN' or 'Infinity'). */
function pyNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`model.py constant ${x} is not finite`)
  return Number.isInteger(x) ? `${x}.0` : String(x)
}

/** Names this kind of export folder by; model.py's header carries it. */
export const TORCH_EXPORT_FORMAT = 'linea.torch-export/1'

/** Projection names Linea stores without a `.weight` suffix (weights (out, in), as nn.Linear). */
export const BARE_PROJECTIONS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'dt_proj', 'i_proj', 'b_proj', 'g_proj', 'gate_proj', 'up_proj', 'down_proj'] as const

export function torchModelSource(c: TorchExportConstants): string {
  const header = `# model.py: a Linea model as a self-contained PyTorch module.
#
# Written by \`linea export\` (format ${TORCH_EXPORT_FORMAT}). Needs only torch; uses
# the safetensors package when it is installed and reads the file itself otherwise.
#
#   import model
#   net = model.load_linea("path/to/export")   # or a Linea checkpoint .safetensors
#   logits = net(ids)                           # ids (B, T) int64 -> (B, T, vocab)
#
# Shapes: the residual stream is (B, T, d_model); inside a mixer heads are
# (B, T, H, dk | dv) and one head's state S is (dk, dv); gates are log decays.
# Linear mixers run chunk by chunk (form="chunked", default) or one step at a time
# (form="recurrent", Linea's reference): the same function. form="fla" uses
# flash-linear-attention's kernels where they apply (see mixer_fla).

import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

# Linea's op constants at export time (electron/engine/ops/generated.ts).
NORM_EPS = ${pyNumber(c.normEps)}
L2NORM_EPS = ${pyNumber(c.l2Eps)}
DENOMINATOR_EPS = ${pyNumber(c.denominatorEps)}
ROTARY_BASE = ${pyNumber(c.rotaryBase)}
GLA_GATE_NORMALIZER = ${pyNumber(c.glaGateNormalizer)}
GLA_GATE_RANK = ${c.glaGateRank}
BARE_PROJECTIONS = (${BARE_PROJECTIONS.map((n) => `"${n}"`).join(', ')})
`
  return header + SPEC_AND_ELEMENTWISE + MIXERS_PY + LAYERS_AND_LOADER
}

const SPEC_AND_ELEMENTWISE = String.raw`

# ---- the spec ----------------------------------------------------------------


def head_dims(spec, layer):
    """(dk, dv) of a layer, the spec's defaults applied (d_model / heads)."""
    if layer["kind"] == "linear":
        d = spec["d_model"] // layer["heads"]
        return layer.get("dk", d), layer.get("dv", d)
    d = layer.get("head_dim", spec["d_model"] // layer["heads"])
    return d, d


def model_position(spec):
    """none | learned | rotary; absent means rotary when a layer rotates."""
    if spec.get("position"):
        return spec["position"]
    rotating = any(l.get("rotary") for l in spec["layers"])
    return "rotary" if rotating else "none"


# ---- elementwise pieces ------------------------------------------------------


def rms_norm(x, weight, eps=NORM_EPS):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def layer_norm(x, weight, eps=NORM_EPS):
    """Linea's 'groupnorm' output norm: per head, no bias, population variance."""
    centered = x - x.mean(-1, keepdim=True)
    return centered * torch.rsqrt(centered.pow(2).mean(-1, keepdim=True) + eps) * weight


def l2_normalize(u, eps=L2NORM_EPS):
    return u * torch.rsqrt(u.pow(2).sum(-1, keepdim=True) + eps)


def feature_map(x, kind):
    """x (B, T, H, D) -> (B, T, H, E); E = 1 + D + D^2 for taylor2, else D."""
    if kind == "identity":
        return x
    if kind == "elu1":
        return torch.where(x > 0, x + 1, torch.exp(torch.clamp(x, max=0)))
    if kind == "relu":
        return F.relu(x)
    if kind == "silu":
        return F.silu(x)
    if kind == "l2norm":
        return l2_normalize(x)
    if kind == "silu_l2norm":
        return l2_normalize(F.silu(x))
    if kind == "taylor2":
        # phi(q).phi(k) = 1 + q.k / sqrt(D) + (q.k)^2 / (2 D)
        D = x.shape[-1]
        linear = x * D ** -0.25
        quadratic = (x * (2.0 * D) ** -0.5)[..., :, None] * x[..., None, :]
        ones = torch.ones_like(x[..., :1])
        return torch.cat([ones, linear, quadratic.flatten(-2)], -1)
    raise ValueError("feature map '%s' is not one model.py knows; valid: identity, elu1, relu, silu, l2norm, silu_l2norm, taylor2" % kind)


def rotary(x, base=ROTARY_BASE):
    """Rotate-half rotary positions: x (B, T, H, D), pair (i, i + D/2) turned by t * base^(-2i/D)."""
    T, D = x.shape[1], x.shape[-1]
    half = D // 2
    inv_freq = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / D)
    theta = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]  # (T, D/2), in double as Linea
    cos = theta.cos().to(x.dtype).to(x.device)[None, :, None, :]
    sin = theta.sin().to(x.dtype).to(x.device)[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


`

const LAYERS_AND_LOADER = String.raw`def softmax_attention(q, k, v, window=None, scale=None):
    """Causal softmax attention, q k (B, T, H, D), v (B, T, H, V); window w: keys t-w+1..t only."""
    T, D = q.shape[1], q.shape[-1]
    scores = torch.einsum("bthd,bshd->bhts", q, k) * (D ** -0.5 if scale is None else scale)
    pos = torch.arange(T, device=q.device)
    allowed = pos[None, :] <= pos[:, None]
    if window:
        allowed = allowed & (pos[None, :] > pos[:, None] - window)
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.einsum("bhts,bshd->bthd", scores.softmax(-1), v)


# ---- layers ------------------------------------------------------------------


class Norm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))


class ShortConv(nn.Module):
    """Depthwise causal convolution then silu: (B, T, C) -> (B, T, C); weight (C, W), tap W-1 is time t."""

    def __init__(self, channels, width):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels, width))

    def forward(self, x):
        C, W = self.weight.shape
        y = F.conv1d(x.transpose(1, 2), self.weight.unsqueeze(1), padding=W - 1, groups=C)[..., : x.shape[1]]
        return F.silu(y.transpose(1, 2))


def linear(d_in, d_out, bias=False):
    return nn.Linear(d_in, d_out, bias=bias)


class LinearMixer(nn.Module):
    """A linear-attention layer of the spec: (B, T, d_model) -> (B, T, d_model)."""

    def __init__(self, layer, d_model, dk, dv, form="chunked"):
        super().__init__()
        if form not in FORMS:
            raise ValueError("mixer form %r; valid: %s" % (form, ", ".join(FORMS)))
        self.layer, self.dk, self.dv, self.form = layer, dk, dv, form
        H = self.heads = layer["heads"]
        fm = layer["feature_map"]
        if fm == "hedgehog":
            raise ValueError("feature_map 'hedgehog' is not built by Linea; nothing to export")
        # DeltaNet's l2norm follows silu; the short convolution already applies it.
        self.feature_kind = ("l2norm" if layer["short_conv"] > 0 else "silu_l2norm") if fm == "l2norm" else fm
        key_dim = 1 + dk + dk * dk if self.feature_kind == "taylor2" else dk
        self.fla_kernel, self.fla_reason = fla_kernel_for(layer, key_dim) if form == "fla" else (None, None)
        kd, vd = H * dk, H * dv
        self.q_proj, self.k_proj, self.v_proj = linear(d_model, kd), linear(d_model, kd), linear(d_model, vd)
        self.o_proj = linear(vd, d_model)
        if layer["short_conv"] > 0:
            W = layer["short_conv"]
            self.q_conv, self.k_conv, self.v_conv = ShortConv(kd, W), ShortConv(kd, W), ShortConv(vd, W)
        gate = layer["forget_gate"]
        if gate == "fixed":
            self.register_buffer("log_decay", torch.zeros(H))
        if gate == "scalar" or layer["input_gate"] == "softplus":
            self.dt_proj = linear(d_model, H)
            self.dt_bias = nn.Parameter(torch.zeros(H))
        if gate == "scalar":
            self.A_log = nn.Parameter(torch.zeros(H))
        if gate == "vector":
            self.gk_proj = nn.Sequential(linear(d_model, GLA_GATE_RANK), linear(GLA_GATE_RANK, kd, bias=True))
        if layer["input_gate"] in ("sigmoid", "exp"):
            self.i_proj = linear(d_model, H, bias=True)
        if layer["delta_rule"] != "off":
            self.b_proj = linear(d_model, H)
        if layer["output_norm"] != "none":
            # shared: one dv weight for every head; per_head: H * dv, head-major (h * dv + j)
            self.o_norm = Norm(vd if layer.get("output_norm_weight", "shared") == "per_head" else dv)
        if layer["shortcut"] != "none":
            self.D = nn.Parameter(torch.ones(vd))
        if layer["output_gate"] == "swish":
            self.g_proj = linear(d_model, vd)

    def forward(self, x):
        L, H, dk, dv = self.layer, self.heads, self.dk, self.dv
        B, T, _ = x.shape
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if L["short_conv"] > 0:
            q, k, v = self.q_conv(q), self.k_conv(k), self.v_conv(v)
        q4 = feature_map(q.view(B, T, H, dk), self.feature_kind)
        k4 = feature_map(k.view(B, T, H, dk), self.feature_kind)
        if L.get("rotary"):  # RetNet: rotate q and k by position after the feature map
            q4, k4 = rotary(q4), rotary(k4)
        v4 = v.view(B, T, H, dv)

        gate, input_gate = L["forget_gate"], L["input_gate"]
        dt_pre = self.dt_proj(x) + self.dt_bias if hasattr(self, "dt_proj") else None  # (B, T, H)
        g = None  # log decay (B, T, H, 1 | dk)
        if gate == "fixed":
            g = self.log_decay.view(1, 1, H, 1).expand(B, T, H, 1)
        elif gate == "scalar":
            g = (F.softplus(dt_pre) * -torch.exp(self.A_log))[..., None]  # Mamba2
        elif gate == "vector":
            g = (F.logsigmoid(self.gk_proj(x)) / GLA_GATE_NORMALIZER).view(B, T, H, dk)  # GLA
        i = dt_pre if input_gate == "softplus" else self.i_proj(x) if input_gate in ("sigmoid", "exp") else None
        beta = None
        if L["delta_rule"] != "off":
            beta = torch.sigmoid(self.b_proj(x)) * (2.0 if L["delta_rule"] == "negative_eigen" else 1.0)
        # Taylor features already carry 1/sqrt(dk); other maps use dk^-1/2.
        scale = L.get("qk_scale", 1.0 if self.feature_kind == "taylor2" else q4.shape[-1] ** -0.5)
        if self.form == "fla" and self.fla_kernel and q4.is_cuda:
            o = mixer_fla(self.fla_kernel, q4, k4, v4, g, beta, scale)
        else:
            torch_form = "recurrent" if self.form == "recurrent" else "chunked"
            o = MIXER_FORMS[torch_form](q4, k4, v4, g, i, beta, input_gate, L["denominator"], scale)
        if L["shortcut"] == "d_skip_before_norm":  # Mamba2: the norm sees the recurrence plus the skip
            o = o + (v * self.D).view(B, T, H, dv)
        if L["output_norm"] != "none":
            w = self.o_norm.weight.view(-1, dv)  # (1 | H, dv): broadcasts over (B, T, H, dv)
            o = rms_norm(o, w) if L["output_norm"] == "rmsnorm" else layer_norm(o, w)
        o = o.reshape(B, T, H * dv)
        if L["shortcut"] == "d_skip":
            o = o + v * self.D
        if L["output_gate"] == "swish":
            o = F.silu(self.g_proj(x)) * o
        return self.o_proj(o)


class SoftmaxAttention(nn.Module):
    """A softmax-attention layer (hybrids): rotary when asked, causal or sliding window."""

    def __init__(self, layer, d_model, head_dim):
        super().__init__()
        self.layer, self.head_dim = layer, head_dim
        inner = layer["heads"] * head_dim
        self.q_proj, self.k_proj, self.v_proj = linear(d_model, inner), linear(d_model, inner), linear(d_model, inner)
        self.o_proj = linear(inner, d_model)

    def forward(self, x):
        B, T, _ = x.shape
        H, D = self.layer["heads"], self.head_dim
        q, k = self.q_proj(x).view(B, T, H, D), self.k_proj(x).view(B, T, H, D)
        v = self.v_proj(x).view(B, T, H, D)
        if self.layer["rotary"]:
            q, k = rotary(q), rotary(k)
        o = softmax_attention(q, k, v, self.layer.get("window"))
        return self.o_proj(o.reshape(B, T, H * D))


class SwiGluMlp(nn.Module):
    def __init__(self, d_model, hidden):
        super().__init__()
        self.gate_proj, self.up_proj, self.down_proj = linear(d_model, hidden), linear(d_model, hidden), linear(hidden, d_model)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    """Pre-norm: h + mixer(rms(h)), then h + mlp(rms(h)) in transformer blocks with an MLP."""

    def __init__(self, spec, layer, form):
        super().__init__()
        d = spec["d_model"]
        dk, dv = head_dims(spec, layer)
        self.norm1 = Norm(d)
        if layer["kind"] == "linear":
            self.mixer = LinearMixer(layer, d, dk, dv, form)
        else:
            self.attn = SoftmaxAttention(layer, d, dk)
        if spec["block"] == "transformer" and spec["mlp_expansion"] > 0:
            self.norm2 = Norm(d)
            self.mlp = SwiGluMlp(d, max(1, round_half_up(spec["mlp_expansion"] * d)))

    def forward(self, h):
        mix = self.mixer if hasattr(self, "mixer") else self.attn
        h = h + mix(rms_norm(h, self.norm1.weight))
        if hasattr(self, "mlp"):
            h = h + self.mlp(rms_norm(h, self.norm2.weight))
        return h


def round_half_up(x):
    """JavaScript's Math.round (Python's round goes to even)."""
    return int(math.floor(x + 0.5))


class LineaModel(nn.Module):
    """The whole model of a ModelSpec: ids (B, T) -> logits (B, T, vocab).

    form: how the linear mixers compute, "chunked" (default) or "recurrent" (the reference),
    both plain torch and the same function; or "fla": flash-linear-attention's kernels where
    they compute the layer, on CUDA tensors (describe_forms says which layer runs what).
    """

    def __init__(self, spec, form="chunked"):
        super().__init__()
        if form == "fla" and not fla_importable():
            raise ImportError("form 'fla' needs flash-linear-attention (import fla failed); valid without it: chunked, recurrent")
        if spec.get("format") != "linea.model/1":
            raise ValueError("config format is %r; expected 'linea.model/1' (a Linea ModelSpec)" % spec.get("format"))
        self.spec = spec
        d, vocab = spec["d_model"], spec["vocab_size"]
        self.embed = nn.Embedding(vocab, d)
        self.max_positions = None
        if model_position(spec) == "learned":
            self.max_positions = spec["max_positions"]
            self.pos_embed = nn.Embedding(self.max_positions, d)
        self.layers = nn.ModuleList([Block(spec, layer, form) for layer in spec["layers"]])
        self.final_norm = Norm(d)
        if not spec["tie_embeddings"]:
            self.lm_head = linear(d, vocab)

    def describe_forms(self):
        """One line per layer: what computes its mixer."""
        lines = []
        for n, block in enumerate(self.layers):
            if not hasattr(block, "mixer"):
                lines.append("%d: softmax attention (torch)" % n)
                continue
            m = block.mixer
            if m.form != "fla":
                lines.append("%d: linear mixer, torch %s form" % (n, m.form))
            elif m.fla_kernel:
                lines.append("%d: linear mixer, fla %s on CUDA (torch chunked form on the CPU)" % (n, m.fla_kernel))
            else:
                lines.append("%d: linear mixer, torch chunked form (fla does not compute its %s)" % (n, m.fla_reason))
        return lines

    def hidden(self, ids):
        """ids (B, T) -> the final-normed hidden states (B, T, d_model)."""
        T = ids.shape[1]
        h = self.embed(ids)
        if self.max_positions is not None:
            if T > self.max_positions:
                raise ValueError("an input of %d tokens is longer than the %d learned positions of this model" % (T, self.max_positions))
            h = h + self.pos_embed(torch.arange(T, device=ids.device))[None]
        for block in self.layers:
            h = block(h)
        return rms_norm(h, self.final_norm.weight)

    def forward(self, ids):
        h = self.hidden(ids)
        return h @ self.embed.weight.t() if self.spec["tie_embeddings"] else self.lm_head(h)


# ---- weights -----------------------------------------------------------------

_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}


def read_safetensors_header(path):
    """(header dict without __metadata__, metadata dict, byte offset of the data)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("%s: %d bytes, too short for a safetensors file" % (path, len(head)))
        (n,) = struct.unpack("<Q", head)
        if n > 100 * 2**20:
            raise ValueError("%s: declares a %d-byte header (not safetensors?)" % (path, n))
        header = json.loads(f.read(n).decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    return header, metadata, 8 + n


def read_safetensors(path):
    """{name: tensor}; through the safetensors package when installed, else read here."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        load_file = None
    if load_file is not None:
        return load_file(path)
    header, _, start = read_safetensors_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in _DTYPES:
            raise ValueError("%s: tensor %s has dtype %s; valid: %s" % (path, name, info["dtype"], ", ".join(_DTYPES)))
        begin, end = info["data_offsets"]
        if end > len(data) or begin > end:
            raise ValueError("%s: tensor %s bytes %d..%d are outside the %d bytes of data (truncated?)" % (path, name, begin, end, len(data)))
        raw = bytearray(data[begin:end])
        flat = torch.frombuffer(raw, dtype=_DTYPES[info["dtype"]]) if raw else torch.empty(0, dtype=_DTYPES[info["dtype"]])
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def torch_name(linea_name):
    """Linea stores projections as 'layers.0.mixer.q_proj'; nn.Linear holds them as '...q_proj.weight'."""
    return linea_name + ".weight" if linea_name.rsplit(".", 1)[-1] in BARE_PROJECTIONS else linea_name


def state_dict_of(tensors, dtype=torch.float32):
    """A Linea checkpoint's (or an export's) tensors as this module's state dict: no optimizer moments."""
    return {torch_name(n): t.to(dtype) for n, t in tensors.items() if not n.startswith("optimizer.")}


def linea_name(name):
    """The inverse of torch_name: '...q_proj.weight' -> '...q_proj'."""
    base, _, last = name.rpartition(".")
    return base if last == "weight" and base.rsplit(".", 1)[-1] in BARE_PROJECTIONS else name


def write_safetensors(path, tensors, metadata):
    """Writes {name: tensor} as float32 safetensors (atomically: a temp file, then a rename)."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        raw = t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)  # data 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def save_linea_checkpoint(model, path, train_spec, step):
    """A Linea checkpoint (linea.checkpoint/1, f32, no optimizer moments) of this model:
    linea inspect and the app open it (resuming needs optimizer moments, which it has not)."""
    metadata = {
        "format": "linea.checkpoint/1",
        "linea.model_spec": json.dumps(model.spec),
        "linea.train_spec": json.dumps(train_spec),
        "linea.step": str(int(step)),
        "linea.dtype": "f32",
    }
    write_safetensors(path, {linea_name(n): t for n, t in model.state_dict().items()}, metadata)


def load_linea(path, dtype=torch.float32, device="cpu", form="chunked"):
    """An export folder (config.json + model.safetensors) or a Linea checkpoint file -> LineaModel in eval mode."""
    if os.path.isdir(path):
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            spec = json.load(f)
        weights = os.path.join(path, "model.safetensors")
    else:
        _, metadata, _ = read_safetensors_header(path)
        if metadata.get("format") != "linea.checkpoint/1":
            raise ValueError("%s: metadata format is %r; expected 'linea.checkpoint/1'" % (path, metadata.get("format")))
        spec = json.loads(metadata["linea.model_spec"])
        weights = path
    model = LineaModel(spec, form)
    model.load_state_dict(state_dict_of(read_safetensors(weights), dtype), strict=True)
    return model.to(device=device, dtype=dtype).eval()


if __name__ == "__main__":
    # python model.py [export folder | checkpoint]: loads it and runs one forward.
    where = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    net = load_linea(where)
    T = min(16, net.max_positions or 16)
    ids = torch.randint(0, net.spec["vocab_size"], (1, T))
    with torch.no_grad():
        logits = net(ids)
    print("%s: logits %s, finite: %s" % (net.spec["name"], tuple(logits.shape), bool(torch.isfinite(logits).all())))
`
