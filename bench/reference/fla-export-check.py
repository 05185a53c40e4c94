"""Loads Linea's fla exports in flash-linear-attention itself and compares logits, on the GPU box.

`linea export --format fla` writes a Hugging Face folder of one of fla's model
classes (electron/interop/export-fla.ts). This script is the other half of
issue 20's check: for each exported folder it loads the model with fla's
AutoModelForCausalLM (fp32, then bf16), runs it on the tokens Linea used, and
compares fla's logits with the logits Linea's engine computed for the same
checkpoint on the CPU.

Make the exports (here, or on the box: anywhere Linea's node tests run):

    LINEA_FLA_EXPORT_DIR=/tmp/fla-exports npx vitest run --project node tests/node/interop-export-fla.test.ts

which leaves, per case, <dir>/<case>/fla/{config.json, model.safetensors,
README.txt} and <dir>/<case>/linea-logits.json = {"name", "model_type",
"tokens": [T], "logits": [T][vocab] (Linea, float32), "tolerance":
{"float32", "bfloat16"}}. Then, on the GPU box (PyTorch, Triton and
transformers there; the
flash-linear-attention source brought with `fetch` for the run, never
committed to Linea):

    python3 bench/reference/fla-export-check.py --fla /path/to/flash-linear-attention \
        --dir /tmp/fla-exports [--device cuda] [--only gla,transformer] [--out results.json]

It prints one line per case and dtype, max |fla - Linea| / max |Linea| against
the tolerance (fp32 2e-3: fla's Triton kernels may use TF32 matmuls and sum
chunks in another order; bf16 5e-2: fla casts the f32 weights to bf16 and
computes in bf16; each bf16 row also prints |fla bf16 - fla f32|, what bf16
costs in fla itself. Some random, untrained models amplify that rounding past
5e-2 (a GLA hybrid: 0.28); such a row cannot tell a mapping fault from
rounding, so it passes as "loads and runs in bf16" when the folder's f32 row
passed, and says so), and exits 1 when any case fails or cannot be loaded.
fla's softmax Attention layer runs only through flash-attn; where that is not
importable (the GPU box), `fla_compat.install_flash_attn_stand_in` puts a plain
PyTorch softmax attention with flash-attn's contract in its place and the first
line says so.
"""

import argparse
import json
import os
import sys

import torch


def relative_error(got, expected):
    scale = expected.abs().max().item()
    return (got - expected).abs().max().item() / max(scale, 1e-12)


def fla_logits(folder, expected, dtype, device):
    """fla's logits (float32, on the CPU) for the exported folder run in `dtype`, and the model class name."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(os.path.join(folder, "fla"), dtype=torch.float32)
    model = model.to(device=device, dtype=dtype).eval()
    ids = torch.tensor([expected["tokens"]], device=device)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float().cpu()
    want = torch.tensor(expected["logits"], dtype=torch.float32)
    if logits.shape != want.shape:
        raise RuntimeError(f"fla's logits have shape {tuple(logits.shape)}, Linea's {tuple(want.shape)}")
    if not torch.isfinite(logits).all():
        raise RuntimeError("fla's logits are not finite")
    return logits, type(model).__name__


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fla", required=True, help="flash-linear-attention source folder (it holds fla/)")
    ap.add_argument("--dir", required=True, help="what LINEA_FLA_EXPORT_DIR named: <case>/fla/ and <case>/linea-logits.json")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--only", default="", help="comma-separated case folder names")
    ap.add_argument("--out", default="", help="also write the results as JSON here")
    args = ap.parse_args()
    sys.path.insert(0, args.fla)
    import fla.models  # noqa: F401  (registers fla's configs and models with transformers)
    from fla_compat import install_flash_attn_stand_in, patch_tied_weights_keys

    patch_tied_weights_keys()
    print(f"fla's softmax Attention runs through: {install_flash_attn_stand_in()}", flush=True)

    cases = sorted(
        c
        for c in os.listdir(args.dir)
        if os.path.isfile(os.path.join(args.dir, c, "linea-logits.json")) and os.path.isfile(os.path.join(args.dir, c, "fla", "config.json"))
    )
    if args.only:
        cases = [c for c in cases if c in args.only.split(",")]
    if not cases:
        raise SystemExit(f"no <case>/linea-logits.json with <case>/fla/config.json under {args.dir}; run the test with LINEA_FLA_EXPORT_DIR first")

    results, failed = [], 0
    for case in cases:
        folder = os.path.join(args.dir, case)
        with open(os.path.join(folder, "linea-logits.json")) as f:
            expected = json.load(f)
        with open(os.path.join(folder, "fla", "config.json")) as f:
            config = json.load(f)
        want = torch.tensor(expected["logits"], dtype=torch.float32)
        fp32 = None  # fla's own float32 logits: the bf16 run's control
        for dtype in (torch.float32, torch.bfloat16):
            name = str(dtype).replace("torch.", "")
            tolerance = expected["tolerance"][name]
            try:
                logits, cls = fla_logits(folder, expected, dtype, args.device)
            except Exception as err:  # a load or run failure is a result too: report it and go on
                failed += 1
                print(f"{case:60s} {name:9s} FAILED to load or run: {type(err).__name__}: {err}", flush=True)
                results.append({"case": case, "dtype": name, "error": f"{type(err).__name__}: {err}"})
                continue
            error = relative_error(logits, want)
            row = {"case": case, "model_type": config["model_type"], "class": cls, "dtype": name, "relative_error": error, "tolerance": tolerance}
            ok = error <= tolerance
            control = ""
            if dtype == torch.float32:
                fp32 = (logits, error)
            elif fp32 is not None:
                # bf16 arithmetic alone moves fla's logits by |fla bf16 - fla f32| (printed). Past the
                # tolerance, the bf16 row cannot tell a mapping fault from that rounding (any bound built
                # from it holds by the triangle inequality), so it then passes only as "loads and runs
                # in bf16, finite", and the mapping is judged by the f32 row of the same folder.
                bf16_cost = relative_error(logits, fp32[0])
                row["bf16_cost_in_fla"] = bf16_cost
                control = f"  (fla's own bf16 - f32: {bf16_cost:.2e})"
                if not ok and fp32[1] <= expected["tolerance"]["float32"]:
                    ok = True
                    row["judged_by"] = "float32"
                    control += " past the tolerance: bf16 rounding in fla; the mapping is judged by the f32 row"
            row["ok"] = ok
            failed += 0 if ok else 1
            print(
                f"{case:60s} {name:9s} {cls:28s} max|fla - Linea| / max|Linea| = {error:.2e}  (tolerance {tolerance:.0e}){control}  {'ok' if ok else 'FAIL'}",
                flush=True,
            )
            results.append(row)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    print(f"\n{len(cases)} exports, {failed} failing checks" + (f"; results in {args.out}" if args.out else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
