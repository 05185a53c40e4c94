"""Lets fla's models load under transformers 5 on the GPU box.

fla's model classes declare `_tied_weights_keys` as a list (transformers 4's
form); transformers 5 reads it as a dict of tied parameter -> source and fails
with "'list' object has no attribute 'keys'" for every model with tied
embeddings. This maps the list onto the dict form (the LM head ties to the
embedding table, `<base_model_prefix>.embeddings.weight` in fla: `model`, or
`backbone` for Mamba2) before any model is built.
Nothing changes under transformers 4.
"""


def patch_tied_weights_keys() -> None:
    import transformers

    if int(transformers.__version__.split(".")[0]) < 5:
        return
    import fla.models as models

    for name in dir(models):
        cls = getattr(models, name)
        keys = getattr(cls, "_tied_weights_keys", None) if isinstance(cls, type) else None
        # Some declare [] (Mamba2) and relied on transformers 4 tying whenever the config says so.
        if isinstance(keys, list) and name.endswith("ForCausalLM"):
            cls._tied_weights_keys = {"lm_head.weight": f"{cls.base_model_prefix}.embeddings.weight"}


def install_flash_attn_stand_in() -> str:
    """Lets fla's softmax `Attention` layer run where flash-attn is not installed.

    fla's Attention (fla/layers/attn.py) calls flash-attn's `flash_attn_func`
    and refuses to build without it. The GPU box has no flash-attn wheel and no
    network to build one, so the models with softmax layers (the Transformer,
    hybrids) would go unchecked. This puts a plain PyTorch function with the
    same contract in its place: q (B, T, Hq, D), k and v (B, T, Hkv, D) with
    Hq a multiple of Hkv (grouped heads share k and v), softmax scale D^-1/2,
    causal, and flash-attn's `window_size=(left, right)`: query i sees keys j
    with i - left <= j <= i + right (fla passes (w - 1, 0) for a window of w
    keys, (-1, -1) for none). Only the dense call: fla uses the varlen one
    only with padding masks or packed sequences, which the checks do not pass.

    Returns what was done, for the log: "flash-attn" when the real one is
    importable (nothing replaced), else "PyTorch stand-in".
    """
    try:
        import flash_attn  # noqa: F401

        return "flash-attn"
    except ImportError:
        pass
    import torch

    import fla.layers.attn as attn

    def flash_attn_func(q, k, v, causal=False, window_size=(-1, -1), softmax_scale=None, **unused):
        if unused.get("dropout_p", 0.0):
            raise NotImplementedError("the flash-attn stand-in has no dropout")
        _, t_q, h_q, d = q.shape
        t_k, h_k = k.shape[1], k.shape[2]
        if h_q % h_k:
            raise ValueError(f"{h_q} query heads are not a multiple of {h_k} key heads")
        k = k.repeat_interleave(h_q // h_k, dim=2)
        v = v.repeat_interleave(h_q // h_k, dim=2)
        scale = softmax_scale if softmax_scale is not None else d**-0.5
        # (B, H, Tq, Tk) scores in f32, as flash-attn accumulates
        scores = torch.einsum("bqhd,bkhd->bhqk", q.float(), k.float()) * scale
        # queries sit at the end of the keys (decoding): query i is key i + t_k - t_q
        i = torch.arange(t_q, device=q.device)[:, None] + (t_k - t_q)
        j = torch.arange(t_k, device=q.device)[None, :]
        allowed = torch.ones(t_q, t_k, dtype=torch.bool, device=q.device)
        left, right = window_size
        if causal:
            right = 0
        if left >= 0:
            allowed &= j >= i - left
        if right >= 0:
            allowed &= j <= i + right
        scores = scores.masked_fill(~allowed, float("-inf"))
        out = torch.einsum("bhqk,bkhd->bqhd", torch.softmax(scores, dim=-1), v.float())
        return out.to(q.dtype)

    def flash_attn_varlen_func(*args, **kwargs):
        raise NotImplementedError("the flash-attn stand-in has no varlen form (padding masks, packed sequences)")

    attn.flash_attn_func = flash_attn_func
    attn.flash_attn_varlen_func = flash_attn_varlen_func
    return "PyTorch stand-in"
