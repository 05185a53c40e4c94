"""The peer side of Linea's GPU mixer benchmark (native/tools/bench_gpu.cpp),
run in the same script on the same box (native/tools/gpu-check.sh):

- times flash-linear-attention's chunked kernels and PyTorch SDPA (flash,
  causal) on the tokens32k grid with the same input distributions and the
  same method as Linea's tool (two warm-ups, then the median of repeats, each
  timed on the host around the call and a synchronize), with peak memory from
  the inputs up;
- measures the device copy bandwidth in the same run, for the memory floor
  of each cell (the bytes an op must read and write once, over that bandwidth);
- compares outputs: for the inputs Linea wrote (--compare-dir), runs the peer
  in bf16 and a float64 reference on the GPU, and gives the normwise relative
  error of Linea and of the peer against the reference;
- merges everything with Linea's JSON into one file.

usage: python3 gpu-mixers-peer.py --fla DIR --linea linea.json --compare-dir DIR --out merged.json

flash-linear-attention is read from --fla (its source, brought by `fetch`,
never committed to Linea).
"""

import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

GRID = [(16, 2048), (8, 4096), (4, 8192), (2, 16384), (1, 32768)]
H, D = 16, 128
OPS = ["linear", "fixed_decay", "scalar_gate", "vector_gate", "delta", "gated_delta", "softmax"]


def draw(op, B, T, device="cuda"):
    """Inputs like Linea's tool: unit keys and sigmoid betas for delta rules,
    logsigmoid gates (/16 for the vector gate, clamped at -5 for the scalar one)."""
    x = {}
    x["q"] = torch.randn(B, T, H, D, device=device)
    k = torch.randn(B, T, H, D, device=device)
    if op in ("delta", "gated_delta"):
        k = k / torch.sqrt((k * k).sum(-1, keepdim=True) + 1e-6)
    x["k"] = k
    x["v"] = torch.randn(B, T, H, D, device=device)
    if op in ("scalar_gate", "gated_delta"):
        x["g"] = F.logsigmoid(torch.randn(B, T, H, device=device)).clamp(min=-5)
    if op == "vector_gate":
        x["g"] = F.logsigmoid(torch.randn(B, T, H, D, device=device)) / 16
    if op in ("delta", "gated_delta"):
        x["beta"] = torch.sigmoid(torch.randn(B, T, H, device=device))
    return {n: t.to(torch.bfloat16) for n, t in x.items()}


def peer_forward(op, x):
    """The peer's output o for inputs x (bf16 tensors, requires_grad as set)."""
    if op == "softmax":
        q, k, v = (x[n].transpose(1, 2) for n in "qkv")
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.FLASH_ATTENTION):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2)
    from fla.ops.delta_rule import chunk_delta_rule
    from fla.ops.gated_delta_rule import chunk_gated_delta_rule
    from fla.ops.gla import chunk_gla
    from fla.ops.linear_attn import chunk_linear_attn
    from fla.ops.retention import chunk_retention
    from fla.ops.simple_gla import chunk_simple_gla

    q, k, v = x["q"], x["k"], x["v"]
    if op == "linear":
        return chunk_linear_attn(q, k, v, normalize=False)[0]
    if op == "fixed_decay":  # the comparison passes Linea's (bf16-rounded) decays; timing uses RetNet's own
        if "g" in x:
            return chunk_simple_gla(q, k, v, g_gamma=x["g"].float())[0]
        return chunk_retention(q, k, v)[0]
    if op == "scalar_gate":
        return chunk_simple_gla(q, k, v, g=x["g"])[0]
    if op == "vector_gate":
        return chunk_gla(q, k, v, g=x["g"])[0]
    if op == "delta":
        return chunk_delta_rule(q, k, v, x["beta"])[0]
    if op == "gated_delta":
        return chunk_gated_delta_rule(q, k, v, x["g"], x["beta"])[0]
    raise ValueError(op)


def reference(op, x, do):
    """o and input gradients in float64: the recurrence step by step (the
    definition in MATH.md), or softmax attention written out."""
    x64 = {n: t.double().detach().requires_grad_(True) for n, t in x.items()}
    q, k, v = x64["q"], x64["k"], x64["v"]
    scale = 1 / math.sqrt(q.shape[-1])
    B, T = q.shape[0], q.shape[1]
    if op == "softmax":
        s = torch.einsum("bthd,bshd->bhts", q, k) * scale
        mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
        p = torch.softmax(s.masked_fill(~mask, float("-inf")), -1)
        o = torch.einsum("bhts,bshd->bthd", p, v)
    else:
        S = torch.zeros(B, H, D, D, dtype=torch.float64, device=q.device)
        g = x64.get("g")
        outs = []
        for t in range(T):
            if g is not None:
                if op == "fixed_decay":
                    a = g.exp()[None, :, None, None]
                elif g.dim() == 3:
                    a = g[:, t].exp()[:, :, None, None]
                else:
                    a = g[:, t].exp()[:, :, :, None]
                S = S * a
            kt, vt = k[:, t], v[:, t]
            if op in ("delta", "gated_delta"):
                pred = torch.einsum("bhk,bhkv->bhv", kt, S)
                S = S + x64["beta"][:, t][:, :, None, None] * torch.einsum("bhk,bhv->bhkv", kt, vt - pred)
            else:
                S = S + torch.einsum("bhk,bhv->bhkv", kt, vt)
            outs.append(torch.einsum("bhk,bhkv->bhv", q[:, t] * scale, S))
        o = torch.stack(outs, 1)
    o.backward(do.double())
    return o.detach(), {n: t.grad for n, t in x64.items()}


def rel_err(got, ref):
    got, ref = got.double().flatten(), ref.double().flatten()
    return float((got - ref).norm() / ref.norm().clamp_min(1e-30))


def median_ms(fn, budget_ms):
    for _ in range(3):  # the first calls autotune
        fn()
        torch.cuda.synchronize()
    times, start = [], time.perf_counter()
    while True:
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= 25 or (len(times) >= 3 and (time.perf_counter() - start) * 1e3 > budget_ms):
            return statistics.median(times)


def copy_bandwidth():
    """Bytes read + written per second by a device-to-device copy of 2 GiB."""
    a = torch.empty(1 << 30, dtype=torch.bfloat16, device="cuda")
    b = torch.empty_like(a)
    ms = median_ms(lambda: b.copy_(a), 500)
    return 2 * a.numel() * 2 / (ms / 1e3)


def floor_bytes(op, B, T, backward):
    """Bytes an op must move at least once, bf16: inputs read, outputs written
    (and for the backward also do read and every input gradient written)."""
    n = B * T * H * D
    extra = {"scalar_gate": B * T * H, "vector_gate": n, "gated_delta": 2 * B * T * H, "delta": B * T * H}.get(op, 0)
    fwd = 2 * (3 * n + extra + n)
    if not backward:
        return fwd
    return fwd + 2 * (3 * n + extra + n) + 2 * (3 * n + extra)


def time_peer(op, B, T):
    x = draw(op, B, T)
    do = torch.randn(B, T, H, D, device="cuda", dtype=torch.bfloat16)
    cell = {"op": op, "B": B, "T": T}
    try:
        with torch.no_grad():
            cell["fwd_ms"] = median_ms(lambda: peer_forward(op, x), 1500)
    except Exception as e:  # noqa: BLE001 - recorded, not hidden
        cell["fwd_error"] = str(e)[:300]
        return cell
    for t in x.values():
        t.requires_grad_(True)

    def step():
        peer_forward(op, x).backward(do)

    try:
        cell["fwd_bwd_ms"] = median_ms(step, 3000)
        torch.cuda.synchronize()
        for t in x.values():
            t.grad = None
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        cell["peak_bytes"] = torch.cuda.max_memory_allocated()
    except Exception as e:  # noqa: BLE001 - e.g. the refused gated backward on Hopper
        cell["fwd_bwd_error"] = str(e)[:300]
    return cell


def compare(op, directory):
    meta = json.load(open(f"{directory}/{op}/meta.json"))

    def load(name):
        t = torch.from_file(f"{directory}/{op}/{name}.f32", size=math.prod(meta["tensors"][name]), dtype=torch.float32)
        return t.view(meta["tensors"][name]).cuda()

    names = [n for n in ("q", "k", "v", "g", "beta") if n in meta["tensors"]]
    x = {n: load(n) for n in names}
    do = load("do")
    ref_o, ref_grads = reference(op, x, do)
    out = {"B": meta["B"], "T": meta["T"], "linea": {}, "peer": {}}
    out["linea"]["o"] = rel_err(load("o"), ref_o)
    for n in names:
        if op == "fixed_decay" and n == "g":
            continue
        if "d" + n in meta["tensors"]:
            out["linea"]["d" + n] = rel_err(load("d" + n), ref_grads[n])
    xb = {n: t.to(torch.bfloat16).requires_grad_(not (op == "fixed_decay" and n == "g")) for n, t in x.items()}
    try:
        o = peer_forward(op, xb)
        out["peer"]["o"] = rel_err(o, ref_o)
        o.backward(do.to(torch.bfloat16))
        for n, t in xb.items():
            if t.grad is not None:
                out["peer"]["d" + n] = rel_err(t.grad, ref_grads[n])
    except Exception as e:  # noqa: BLE001
        out["peer"]["error"] = str(e)[:300]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fla", required=True)
    ap.add_argument("--linea", required=True)
    ap.add_argument("--compare-dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ops", help="a comma-separated subset of " + ",".join(OPS))
    args = ap.parse_args()
    sys.path.insert(0, args.fla)
    import fla  # noqa: F401 - fails early, naming the path, when the source is missing

    linea = json.load(open(args.linea))
    bandwidth = copy_bandwidth()
    peer = {}
    ops = args.ops.split(",") if args.ops else OPS
    for op in ops:
        for B, T in GRID:
            if args.quick and T not in (2048, 32768):
                continue
            cell = time_peer(op, B, T)
            peer[(op, B, T)] = cell
            print(f"peer {op:12s} B={B:<3d} T={T:<6d} {cell}", flush=True)
            torch.cuda.empty_cache()
        # Written after every op, so a run cut off by its time limit keeps what it measured.
        result = merge(linea, peer, bandwidth)
        json.dump(result, open(args.out, "w"), indent=1)
    report(result, args)


def merge(linea, peer, bandwidth):
    """Linea's cells with the peer's, the memory floor and the ratios."""
    cells = []
    for c in linea["cells"]:
        key = (c["op"], c["B"], c["T"])
        p = peer.get(key, {})
        row = {"op": c["op"], "B": c["B"], "T": c["T"], "linea": c, "peer": p}
        for backward, name in ((False, "fwd_ms"), (True, "fwd_bwd_ms")):
            floor_ms = floor_bytes(c["op"], c["B"], c["T"], backward) / bandwidth * 1e3
            row[name.replace("_ms", "") + "_floor_ms"] = floor_ms
            if c.get(name):
                row["linea_" + name.replace("_ms", "") + "_x_floor"] = c[name] / floor_ms
            if c.get(name) and p.get(name):
                row["speedup_" + name.replace("_ms", "")] = p[name] / c[name]
        cells.append(row)
    result = {
        "device": linea.get("device"),
        "dtype": "bf16",
        "heads": H,
        "head_dim": D,
        "method": "median of repeats after warm-up, host-timed around call + synchronize, both sides; "
        "peak memory from the inputs up; floor = bytes read and written once / measured copy bandwidth",
        "torch": torch.__version__,
        "copy_bandwidth_bytes_per_s": bandwidth,
        "cells": cells,
    }
    return result


def report(result, args):
    """The accuracy comparison (when Linea wrote its inputs) and the table."""
    if args.compare_dir:
        result["accuracy_vs_float64"] = {op: compare(op, args.compare_dir) for op in (args.ops.split(",") if args.ops else OPS)}
        json.dump(result, open(args.out, "w"), indent=1)
    cells = result["cells"]
    print("op           B   T      linea fwd  peer fwd  linea f+b  peer f+b  speedup f+b  x floor f+b  peak MiB (linea/peer)")
    for r in cells:
        lf, pf = r["linea"].get("fwd_ms"), r["peer"].get("fwd_ms")
        lb, pb = r["linea"].get("fwd_bwd_ms"), r["peer"].get("fwd_bwd_ms")

        def f(x):
            return f"{x:9.3f}" if x else "        -"

        print(
            f"{r['op']:12s} {r['B']:<3d} {r['T']:<6d} {f(lf)} {f(pf)} {f(lb)} {f(pb)}"
            f"  {f(r.get('speedup_fwd_bwd'))}  {f(r.get('linea_fwd_bwd_x_floor'))}"
            f"  {r['linea'].get('peak_bytes', 0) / 2**20:8.1f} / {r['peer'].get('peak_bytes', 0) / 2**20:8.1f}"
        )
    if args.compare_dir:
        print("accuracy vs float64 (normwise relative):")
        for op, a in result["accuracy_vs_float64"].items():
            print(f"  {op:12s} linea {a['linea']}  peer {a['peer']}")


if __name__ == "__main__":
    main()
