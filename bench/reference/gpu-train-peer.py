"""The peer side of issue 16's training-throughput benchmark
(scripts/gpu-train-bench.ts is Linea's side; both run in one gpu-check.sh
call on the same GPU): the same two ~350M models built from
flash-linear-attention's layers in plain PyTorch, trained with the same step.

Models, as Linea's presets resized to d_model 1024, 20 layers, 8 heads of 128,
vocabulary 32000 (tied head), pre-norm blocks with a SwiGLU MLP of 4096:
- hybrid-gla-350m: fla's GatedLinearAttention (expand_k = expand_v = 1, low-rank
  gate of 16, swish output gate) in 3 layers of 4, causal softmax attention
  (PyTorch SDPA, flash backend, rotary) in every fourth;
- gated-deltanet-350m: fla's GatedDeltaNet (head_dim 128, expand_v 1, short
  convolution of 4, output gate) in every layer.

Step: bf16 autocast over fp32 weights, the loss over the labelled rows only
(as Linea: 64 MQAR queries per sequence, so the LM head runs on those rows),
backward, gradient clip 1, fused AdamW. WARMUP steps, then the median tokens/s
of MEASURE steps, each ended by a synchronize; peak memory from PyTorch's
allocator. Where fla refuses a backward (its Hopper check), the row says so.

usage: python3 gpu-train-peer.py --fla DIR --out peer.json [--batch 8] [--seq 4096] [--measure 10]
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

D, LAYERS, HEADS, HEAD_DIM, VOCAB, MLP = 1024, 20, 8, 128, 32000, 4096
WARMUP = 3
QUERIES = 64


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), self.weight, 1e-6)


class SwiGLU(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.gate = nn.Linear(d, hidden, bias=False)
        self.up = nn.Linear(d, hidden, bias=False)
        self.down = nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


def rotary(x):
    """Rotary positions on (B, T, H, Dh), half-split pairs, base 10000."""
    T, Dh = x.shape[1], x.shape[-1]
    inv = 1.0 / (10000 ** (torch.arange(0, Dh, 2, device=x.device, dtype=torch.float32) / Dh))
    ang = torch.arange(T, device=x.device, dtype=torch.float32)[:, None] * inv[None, :]
    cos, sin = ang.cos()[None, :, None, :].to(x.dtype), ang.sin()[None, :, None, :].to(x.dtype)
    a, b = x[..., : Dh // 2], x[..., Dh // 2 :]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


class SoftmaxAttention(nn.Module):
    def __init__(self, d, heads, head_dim):
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        self.qkv = nn.Linear(d, 3 * heads * head_dim, bias=False)
        self.o = nn.Linear(heads * head_dim, d, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, self.head_dim).unbind(2)
        q, k = rotary(q), rotary(k)
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.FLASH_ATTENTION):
            o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        return self.o(o.transpose(1, 2).reshape(B, T, -1))


class Mixer(nn.Module):
    """An fla layer, returning only its output."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        out = self.layer(x)
        return out[0] if isinstance(out, tuple) else out


def build(name):
    from fla.layers import GatedDeltaNet, GatedLinearAttention

    def mixer(i):
        if name == "hybrid-gla-350m":
            if i % 4 == 3:
                return SoftmaxAttention(D, HEADS, HEAD_DIM)
            return Mixer(
                GatedLinearAttention(
                    mode="chunk", hidden_size=D, expand_k=1.0, expand_v=1.0, num_heads=HEADS,
                    use_output_gate=True, gate_fn="swish", gate_low_rank_dim=16, layer_idx=i,
                )
            )
        return Mixer(
            GatedDeltaNet(
                mode="chunk", hidden_size=D, expand_v=1, head_dim=HEAD_DIM, num_heads=HEADS,
                use_gate=True, use_short_conv=True, conv_size=4, layer_idx=i,
            )
        )

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, D)
            self.blocks = nn.ModuleList(
                nn.ModuleDict({"n1": RMSNorm(D), "mixer": mixer(i), "n2": RMSNorm(D), "mlp": SwiGLU(D, MLP)})
                for i in range(LAYERS)
            )
            self.norm = RMSNorm(D)

        def forward(self, ids, rows, labels):
            h = self.embed(ids)
            for b in self.blocks:
                h = h + b["mixer"](b["n1"](h))
                h = h + b["mlp"](b["n2"](h))
            h = self.norm(h).reshape(-1, D)[rows]
            logits = h @ self.embed.weight.t()  # tied head, labelled rows only
            return F.cross_entropy(logits.float(), labels)

    return LM().cuda()


def bench(name, batch, seq, measure):
    torch.manual_seed(0)
    model = build(name)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    ids = torch.randint(0, 8192, (batch, seq), device="cuda")
    # 64 labelled rows per sequence, in its last quarter (MQAR's queries follow the pairs)
    pos = torch.stack([torch.randperm(seq // 4, device="cuda")[:QUERIES] + 3 * seq // 4 for _ in range(batch)])
    rows = (pos + torch.arange(batch, device="cuda")[:, None] * seq).reshape(-1)
    labels = torch.randint(0, 8192, (rows.numel(),), device="cuda")
    def train_step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(ids, rows, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    torch.cuda.reset_peak_memory_stats()
    rates = []
    for step in range(WARMUP + measure):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss_value = train_step().item()  # the step's one read, as Linea's
        torch.cuda.synchronize()
        if step >= WARMUP:
            rates.append(batch * seq / (time.perf_counter() - t0))
        if not math.isfinite(loss_value):
            raise RuntimeError(f"loss {loss_value} at step {step}")
    profile = None
    if os.environ.get("PEER_PROFILE") == "1":
        # Where the peer's step goes, kernel by kernel (CUDA time summed over one step), to set
        # beside Linea's per-op profile (scripts/gpu-train-bench.ts, BENCH_PROFILE=1).
        from torch.profiler import ProfilerActivity, profile as torch_profile

        with torch_profile(activities=[ProfilerActivity.CUDA]) as prof:
            train_step()
            torch.cuda.synchronize()
        events = sorted(prof.key_averages(), key=lambda e: -e.device_time_total)
        profile = [{"kernel": e.key[:120], "calls": e.count, "ms": e.device_time_total / 1e3} for e in events[:40]]
        total = sum(e.device_time_total for e in prof.key_averages()) / 1e3
        print(f"peer-profile {name}: kernels summed {total:.1f} ms", flush=True)
        for e in profile[:25]:
            print(f"peer-profile {name}   {e['ms']:8.2f} ms {e['calls']:5d} calls  {e['kernel'][:90]}", flush=True)
    return {
        "model": name,
        "params": params,
        "batch": batch,
        "seq_len": seq,
        "tokens_per_second": statistics.median(rates),
        "tokens_per_second_all": rates,
        "peak_bytes": torch.cuda.max_memory_allocated(),
        "torch": torch.__version__,
        **({"profile": profile} if profile else {}),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fla", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--measure", type=int, default=10)
    args = ap.parse_args()
    sys.path.insert(0, args.fla)
    rows = []
    for name in ("hybrid-gla-350m", "gated-deltanet-350m"):
        try:
            row = bench(name, args.batch, args.seq, args.measure)
            print(
                f"peer  {name:22s} {row['params'] / 1e6:.0f}M params  {row['tokens_per_second']:8.0f} tokens/s  "
                f"peak {row['peak_bytes'] / 2**30:.1f} GiB",
                flush=True,
            )
        except Exception as err:  # fla refusing a backward on this GPU is a result too
            row = {"model": name, "error": f"{type(err).__name__}: {err}"[:500]}
            print(f"peer  {name:22s} FAIL: {row['error']}", flush=True)
        rows.append(row)
        torch.cuda.empty_cache()
        json.dump({"rows": rows}, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
