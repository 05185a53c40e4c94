// The mixers of model.py (export-torch-python.ts puts them in place): Linea's
// mixer_fwd in plain torch, as the recurrent form (one step at a time, the
// reference every Linea kernel is checked against) and a chunked form (the
// same function chunk by chunk), and the optional path through
// flash-linear-attention's kernels, each checked once against the chunked form.
// Written for Linea from its op semantics (native/src/ops/mixer_ops.cpp,
// native/src/cpu/mixer/).
export const MIXERS_PY = String.raw`# ---- the mixer (recurrent form) ----------------------------------------------


def at_least_f32(*tensors):
    """States accumulate in f32 (f64 stays f64), as Linea's kernels do for bf16 inputs (autocast)."""
    return [None if t is None else t.to(torch.promote_types(t.dtype, torch.float32)) for t in tensors]


def mixer_recurrent(q, k, v, g=None, i=None, beta=None, input_gate="none", normalize="none", scale=None, eps=DENOMINATOR_EPS):
    """Linea's mixer_fwd, one step at a time.

    q, k (B, T, H, K); v (B, T, H, V); g log decay (B, T, H, 1 | K) or None;
    i input-gate pre-activations (B, T, H); beta delta-rule strengths (B, T, H)
    or None (additive). Returns o (B, T, H, V).

    additive: S_t = Diag(e^g_t) S_{t-1} + w_t k_t v_t^T,  z_t = Diag(e^g_t) z_{t-1} + w_t k_t
    delta:    S'_t = Diag(e^g_t) S_{t-1},  S_t = S'_t + beta_t k_t (v_t - S'_t^T k_t)^T
    o_t = S_t^T (scale q_t), divided by (q^T z + eps) (sum) or max(|q^T z|, 1) (max1).
    The exp input gate is stabilized as Linea does: m_t = max(max g_t + m_{t-1}, i_t),
    states carried as e^-m S, e^-m z, and the max1 floor becomes e^-m.
    """
    out_dtype = v.dtype
    q, k, v, g, i, beta = at_least_f32(q, k, v, g, i, beta)
    B, T, H, K = q.shape
    V = v.shape[-1]
    q = q * (K ** -0.5 if scale is None else scale)
    if g is None and input_gate == "exp":
        g = q.new_zeros(B, T, H, 1)
    S = q.new_zeros(B, H, K, V)
    z = q.new_zeros(B, H, K) if normalize != "none" else None
    m = q.new_zeros(B, H)
    outputs = []
    for t in range(T):
        q_t, k_t, v_t = q[:, t], k[:, t], v[:, t]
        g_t = None if g is None else g[:, t]  # (B, H, 1 | K)
        w_t = None  # write weight (B, H)
        floor = None  # max1 floor (B, H); 1 unless stabilized
        if input_gate == "exp":
            m_new = torch.maximum(g_t.max(-1).values + m, i[:, t])
            g_t = g_t + (m - m_new)[..., None]
            w_t = torch.exp(i[:, t] - m_new)
            floor = torch.exp(-m_new)
            m = m_new
        elif input_gate == "sigmoid":
            w_t = torch.sigmoid(i[:, t])
        elif input_gate == "softplus":
            w_t = F.softplus(i[:, t])
        if g_t is not None:
            decay = torch.exp(g_t)
            S = S * decay[..., None]
            if z is not None:
                z = z * decay
        if beta is not None:
            r = v_t - torch.einsum("bhk,bhkv->bhv", k_t, S)
            S = S + (beta[:, t, :, None] * k_t)[..., None] * r[:, :, None, :]
        else:
            kw = k_t if w_t is None else k_t * w_t[..., None]
            S = S + kw[..., None] * v_t[:, :, None, :]
            if z is not None:
                z = z + kw
        o_t = torch.einsum("bhk,bhkv->bhv", q_t, S)
        if normalize == "sum":
            o_t = o_t / ((q_t * z).sum(-1) + eps)[..., None]
        elif normalize == "max1":
            den = (q_t * z).sum(-1).abs()
            den = den.clamp(min=1.0) if floor is None else torch.maximum(den, floor)
            o_t = o_t / den[..., None]
        outputs.append(o_t)
    return torch.stack(outputs, 1).to(out_dtype)


def mixer_chunked(q, k, v, g=None, i=None, beta=None, input_gate="none", normalize="none", scale=None, eps=DENOMINATOR_EPS, chunk=32):
    """The same function as mixer_recurrent, chunk by chunk (C = chunk steps at a time).

    Inside a chunk, with b_i the cumulative log decay (b_i - b_j <= 0 for j <= i, so
    nothing overflows) and u_j the value written at step j:
      S_i = Diag(e^b_i) S_0 + sum_{j<=i} Diag(e^(b_i - b_j)) k_j u_j^T
    additive: u_j = w_j v_j (the denominator's z rides along as an extra value column of ones);
    delta (WY form): (I + A) U = Diag(beta) (V - K~ S_0), A_ij = beta_i k_i^T Diag(e^(b_i - b_j)) k_j (j < i),
    K~_i = e^b_i k_i, so U = U0 - W S_0 with U0, W solved once per chunk.
    The exp input gate's stabilizer is a per-step recurrence: it runs mixer_recurrent.
    """
    if input_gate == "exp":
        return mixer_recurrent(q, k, v, g, i, beta, input_gate, normalize, scale, eps)
    out_dtype = v.dtype
    q, k, v, g, i, beta = at_least_f32(q, k, v, g, i, beta)
    B, T, H, K = q.shape
    V = v.shape[-1]
    q = q * (K ** -0.5 if scale is None else scale)
    if normalize != "none":
        v = torch.cat([v, torch.ones_like(v[..., :1])], -1)  # column V carries z
    if input_gate == "sigmoid":
        v = v * torch.sigmoid(i)[..., None]
    elif input_gate == "softplus":
        v = v * F.softplus(i)[..., None]
    if g is None:
        g = q.new_zeros(B, T, H, 1)
    pad = (-T) % chunk  # padded steps come last: they change no earlier output
    heads_first = lambda x: F.pad(x.transpose(1, 2), (0, 0, 0, pad))  # (B, H, T + pad, .)
    q, k, v, g = heads_first(q), heads_first(k), heads_first(v), heads_first(g)
    if beta is not None:
        beta = F.pad(beta.transpose(1, 2), (0, pad))[..., None]  # (B, H, T + pad, 1)
    Vx = v.shape[-1]
    S = q.new_zeros(B, H, K, Vx)
    inclusive = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()
    strict = inclusive.tril(-1)
    eye = torch.eye(chunk, dtype=q.dtype, device=q.device)
    outputs = []
    for start in range(0, T + pad, chunk):
        part = slice(start, start + chunk)
        qc, kc, vc = q[:, :, part], k[:, :, part], v[:, :, part]  # (B, H, C, .)
        b = g[:, :, part].cumsum(2)  # (B, H, C, 1 | K)
        # e^(b_i - b_j) for j <= i, 0 above the diagonal: (B, H, C, C, 1 | K)
        rel = torch.exp((b[:, :, :, None, :] - b[:, :, None, :, :]).masked_fill(~inclusive[:, :, None], float("-inf")))
        if b.shape[-1] == 1:
            qk = (qc @ kc.transpose(-1, -2)) * rel[..., 0]
        else:
            qk = torch.einsum("bhid,bhjd,bhijd->bhij", qc, kc, rel)
        decay_in = torch.exp(b)  # (B, H, C, 1 | K): chunk start -> step i
        if beta is not None:
            if b.shape[-1] == 1:
                kk = (kc @ kc.transpose(-1, -2)) * rel[..., 0]
            else:
                kk = torch.einsum("bhid,bhjd,bhijd->bhij", kc, kc, rel)
            system = eye + (beta[:, :, part] * kk).masked_fill(~strict, 0.0)  # unit lower triangular
            solve = lambda rhs: torch.linalg.solve_triangular(system, rhs, upper=False, unitriangular=True)
            W = solve(beta[:, :, part] * kc * decay_in)
            U = solve(beta[:, :, part] * vc) - W @ S
        else:
            U = vc
        outputs.append((qc * decay_in) @ S + qk @ U)
        decay_out = torch.exp(b[:, :, -1:] - b)  # (B, H, C, 1 | K): step j -> chunk end
        S = torch.exp(b[:, :, -1])[..., None] * S + (kc * decay_out).transpose(-1, -2) @ U
    o = torch.cat(outputs, 2)[:, :, :T].transpose(1, 2)  # (B, T, H, Vx)
    if normalize == "sum":
        o = o[..., :V] / (o[..., V] + eps)[..., None]
    elif normalize == "max1":
        o = o[..., :V] / o[..., V].abs().clamp(min=1.0)[..., None]
    return o.to(out_dtype)


MIXER_FORMS = {"chunked": mixer_chunked, "recurrent": mixer_recurrent}
FORMS = ("chunked", "recurrent", "fla")


# ---- optional: flash-linear-attention's kernels (form="fla") -----------------
#
# With form="fla" and "import fla" working, the mixers fla computes run its Triton
# kernels on CUDA tensors: additive with no, fixed or scalar gate (chunk_simple_gla),
# vector gate (chunk_gla), delta rule with no gate (chunk_delta_rule) or a fixed or
# scalar one (chunk_gated_delta_rule). Everything else (input gates, denominators,
# the delta rule with a vector gate, key dims over 256) runs mixer_chunked; the model
# says which layer runs what (LineaModel.describe_forms). fla's call signatures have
# changed between versions, so each kernel's first call is checked against
# mixer_chunked on the same inputs, and a disagreement stops with the error.

FLA_MAX_KEY_DIM = 256
_FLA_CHECKED = set()


def fla_kernel_for(layer, key_dim):
    """(fla kernel name, None) for a linear layer's mixer, or (None, why fla does not compute it)."""
    if layer["input_gate"] != "none":
        return None, "input gate '%s'" % layer["input_gate"]
    if layer["denominator"] != "none":
        return None, "denominator '%s'" % layer["denominator"]
    if key_dim > FLA_MAX_KEY_DIM:
        return None, "key dim %d > %d" % (key_dim, FLA_MAX_KEY_DIM)
    gate = layer["forget_gate"]
    if layer["delta_rule"] != "off":
        if gate == "vector":
            return None, "delta rule with a vector gate"
        return ("chunk_delta_rule" if gate == "none" else "chunk_gated_delta_rule"), None
    return ("chunk_gla" if gate == "vector" else "chunk_simple_gla"), None


def run_fla(name, q, k, v, g, beta, scale):
    """q, k (B, T, H, K), v (B, T, H, V), g (B, T, H, 1 | K) or None, beta (B, T, H) or None -> o (B, T, H, V)."""
    # fla's kernels take q, k, v (and beta) in one dtype; under bf16 autocast a normalized q or k
    # can come out in f32 beside a bf16 v (Triton: "Both operands must be same dtype").
    dts = {q.dtype, k.dtype, v.dtype}
    dt = next((d for d in (torch.bfloat16, torch.float16) if d in dts), q.dtype)
    q, k, v = q.to(dt), k.to(dt), v.to(dt)
    scalar_g = None if g is None else g[..., 0].float()
    if name == "chunk_simple_gla":
        from fla.ops.simple_gla import chunk_simple_gla

        g3 = scalar_g if scalar_g is not None else q.new_zeros(q.shape[:3], dtype=torch.float32)
        return chunk_simple_gla(q=q, k=k, v=v, g=g3, scale=scale)[0]
    if name == "chunk_gla":
        from fla.ops.gla import chunk_gla

        return chunk_gla(q=q, k=k, v=v, g=g.float(), scale=scale)[0]
    if name == "chunk_delta_rule":
        from fla.ops.delta_rule import chunk_delta_rule

        return chunk_delta_rule(q=q, k=k, v=v, beta=beta.to(q.dtype), scale=scale)[0]
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule

    return chunk_gated_delta_rule(q=q, k=k, v=v, g=scalar_g, beta=beta.to(q.dtype), scale=scale)[0]


def mixer_fla(name, q, k, v, g, beta, scale):
    """run_fla, its first call per kernel checked against mixer_chunked (relative RMS error)."""
    o = run_fla(name, q, k, v, g, beta, scale)
    if name not in _FLA_CHECKED:
        with torch.no_grad():
            ref = mixer_chunked(q, k, v, g, None, beta, "none", "none", scale).float()
            err = float((o.float() - ref).norm() / ref.norm().clamp(min=1e-30))
        # by the dtype fla computed in (run_fla casts q, k, v to the lowest of theirs)
        tolerance = 5e-3 if o.dtype in (torch.float32, torch.float64) else 3e-2
        if not err <= tolerance:
            import fla

            raise RuntimeError(
                "fla %s: %s disagrees with Linea's mixer (relative error %.2e > %.0e); this file was written "
                "for fla's (B, T, H, K) signatures; use form='chunked'" % (getattr(fla, "__version__", "?"), name, err, tolerance)
            )
        _FLA_CHECKED.add(name)
    return o.to(v.dtype)


def fla_importable():
    try:
        import fla  # noqa: F401
    except ImportError:
        return False
    return True




`
