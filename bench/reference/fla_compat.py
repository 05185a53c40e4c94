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
