"""Fixtures for `linea import`, made by flash-linear-attention itself on the GPU box.

For each fla model type Linea imports, this builds a tiny random model with
fla's own classes, saves it with save_pretrained() (one folder per type and
dtype; some sharded, with model.safetensors.index.json), and writes the
logits fla computes on fixed tokens beside it. Linea then imports each
folder and holds its own logits against fla's
(tests/node/interop-import.test.ts, the block that reads LINEA_FLA_FIXTURES).

Run on the GPU box (PyTorch >= 2 and Triton there; the flash-linear-attention
source brought with `fetch` for the run, never committed to Linea):

    python3 bench/reference/fla-import-fixtures.py --fla /path/to/flash-linear-attention \
        --out /tmp/fla-fixtures [--device cuda] [--seed 0]
    LINEA_FLA_FIXTURES=/tmp/fla-fixtures npx vitest run --project node tests/node/interop-import.test.ts

Output: <out>/<name>-<dtype>/{config.json, model.safetensors | shards + index,
logits.json}; logits.json = {"name", "model_type", "dtype", "tokens": [T],
"logits": [T][vocab] (float32 of what fla computed), "tolerance"}.

Tolerances Linea is held to (max |Linea - fla| / max |fla| over all logits):
fp32 2e-3 (fla's Triton kernels may use TF32 matmuls in fp32 and chunk their
sums differently), bf16 5e-2 (fla computes in bf16; Linea imports the bf16
weights exactly and computes in fp32).

Models with softmax layers (hybrids, the Transformer) run fla's Attention
layer, which calls flash-attn; where that is not importable,
`fla_compat.install_flash_attn_stand_in` puts a plain PyTorch softmax attention
with flash-attn's contract in its place and the first line says so.

Every config sets only values Linea computes exactly (norm_eps 1e-6, no conv
bias, Mamba2's norm before the gate with a group per head, ...); the import
refuses anything else, naming the field (tests/unit/interop-fla-config.test.ts).
"""

import argparse
import json
import os
import sys

import torch

VOCAB = 128
TOKENS = [3, 17, 42, 3, 9, 127, 0, 17, 28, 5, 42, 11, 3, 64, 99, 17, 8, 42, 1, 77, 3, 56, 17, 90, 42, 2, 33, 3, 17, 120, 42, 7]

# name -> (model_type, config kwargs, shard size for save_pretrained or None)
MODELS = {
    "gla": ("gla", dict(hidden_size=64, num_hidden_layers=2, num_heads=4, expand_k=0.5, expand_v=1, use_short_conv=True, conv_size=4), None),
    "gla-hybrid": (
        "gla",
        dict(
            hidden_size=64,
            num_hidden_layers=4,
            num_heads=4,
            attn={"layers": [1, 3], "num_heads": 4, "num_kv_heads": 4, "window_size": 8, "qkv_bias": False, "rope_theta": 10000.0},
        ),
        "100KB",
    ),
    "delta_net": ("delta_net", dict(hidden_size=64, num_hidden_layers=2, num_heads=4, use_gate=True), None),
    "delta_net-negative-eigen": ("delta_net", dict(hidden_size=64, num_hidden_layers=2, num_heads=4, allow_neg_eigval=True), "100KB"),
    "gated_deltanet": ("gated_deltanet", dict(hidden_size=64, num_hidden_layers=2, num_heads=2, head_dim=32, expand_v=2), None),
    "gated_deltanet-negative-eigen-hybrid": (
        "gated_deltanet",
        dict(hidden_size=64, num_hidden_layers=3, num_heads=2, head_dim=32, expand_v=1, allow_neg_eigval=True, attn={"layers": [2], "num_heads": 4}),
        "100KB",
    ),
    "mamba2": (
        "mamba2",
        dict(
            hidden_size=64,
            num_hidden_layers=2,
            head_dim=16,
            state_size=16,
            expand=2,
            n_groups=8,
            norm_eps=1e-6,
            use_conv_bias=False,
            norm_before_gate=True,
            rmsnorm=True,
            chunk_size=64,
        ),
        None,
    ),
    "mamba2-groups": (
        "mamba2",
        dict(hidden_size=64, num_hidden_layers=2, head_dim=16, state_size=16, expand=2, n_groups=2, norm_eps=1e-6, use_conv_bias=False, rmsnorm=False, chunk_size=64),
        None,
    ),
    "linear_attn": ("linear_attn", dict(hidden_size=64, num_hidden_layers=2, num_heads=4, feature_map="elu"), None),
    "retnet": ("retnet", dict(hidden_size=64, num_hidden_layers=2, num_heads=4), None),
    "retnet-hybrid": ("retnet", dict(hidden_size=64, num_hidden_layers=3, num_heads=2, feature_map="silu", attn={"layers": [1], "num_heads": 4}), "100KB"),
    "transformer": ("transformer", dict(hidden_size=64, num_hidden_layers=2, num_heads=4, window_size=16), "100KB"),
}

TOLERANCE = {"float32": 2e-3, "bfloat16": 5e-2}


def build(model_type, kwargs):
    """The config and model classes of a type, through fla's own registration."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(model_type, vocab_size=VOCAB, norm_eps=kwargs.pop("norm_eps", 1e-6), fuse_cross_entropy=False, **kwargs)
    return AutoModelForCausalLM.from_config(config)


def perturb(model, generator):
    """fla initializes norms to 1 and biases to 0; move every parameter off its init so a wrong mapping shows."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator, device="cpu").to(p.device, p.dtype) * 0.05)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fla", required=True, help="flash-linear-attention source folder (it holds fla/)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated names of MODELS")
    ap.add_argument("--keep", action="store_true", help="skip folders an earlier run already made")
    args = ap.parse_args()
    sys.path.insert(0, args.fla)
    import fla.models  # noqa: F401  (registers fla's configs and models with transformers)
    from fla_compat import install_flash_attn_stand_in, patch_tied_weights_keys

    patch_tied_weights_keys()
    print(f"fla's softmax Attention runs through: {install_flash_attn_stand_in()}", flush=True)

    os.makedirs(args.out, exist_ok=True)
    names = [n for n in MODELS if not args.only or n in args.only.split(",")]
    summary = []
    for name in names:
        model_type, kwargs, shard = MODELS[name]
        for dtype in (torch.float32, torch.bfloat16):
            torch.manual_seed(args.seed)
            generator = torch.Generator().manual_seed(args.seed)
            model = build(model_type, dict(kwargs))
            perturb(model, generator)
            model = model.to(args.device, dtype).eval()
            dtype_name = str(dtype).replace("torch.", "")
            folder = os.path.join(args.out, f"{name}-{dtype_name}")
            if args.keep and os.path.isfile(os.path.join(folder, "logits.json")):
                print(f"{name:40s} {dtype_name:9s} kept (already made)", flush=True)
                continue
            save = dict(safe_serialization=True)
            if shard:
                save["max_shard_size"] = shard
            model.save_pretrained(folder, **save)
            with torch.no_grad():
                ids = torch.tensor([TOKENS], device=args.device)
                logits = model(input_ids=ids).logits[0].float().cpu()
            if not torch.isfinite(logits).all():
                raise SystemExit(f"{name} {dtype_name}: fla's logits are not finite")
            record = {
                "name": name,
                "model_type": model_type,
                "dtype": dtype_name,
                "tokens": TOKENS,
                "logits": logits.tolist(),
                "tolerance": TOLERANCE[dtype_name],
            }
            if dtype != torch.float32:
                # The control: the saved folder opened afresh in f32, the arithmetic Linea's import test
                # uses; it isolates the reading of the bf16 file from bf16 rounding. Loaded from disk,
                # not model.float(): buffers that are computed, not saved (rotary frequencies), were
                # rounded to bf16 by .to(dtype) and would stay rounded.
                from transformers import AutoModelForCausalLM

                reread = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(args.device).eval()
                with torch.no_grad():
                    f32 = reread(input_ids=ids).logits[0].float().cpu()
                del reread
                record["logits_f32_compute"] = f32.tolist()
                record["tolerance_f32_compute"] = TOLERANCE["float32"]
            with open(os.path.join(folder, "logits.json"), "w") as f:
                json.dump(record, f)
            files = sorted(os.listdir(folder))
            summary.append(f"{name:40s} {dtype_name:9s} {', '.join(files)}")
            print(summary[-1], flush=True)
    print(f"\n{len(summary)} folders in {args.out}; now: LINEA_FLA_FIXTURES={args.out} npx vitest run --project node tests/node/interop-import.test.ts")


if __name__ == "__main__":
    main()
