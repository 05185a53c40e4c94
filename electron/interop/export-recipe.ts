// The scale-out recipe written beside a PyTorch export: train.py (plain torch,
// DistributedDataParallel under torchrun, Linea's AdamW settings and schedule
// from train_spec.json), train.sh (torchrun on every GPU of one machine, or
// several nodes) and convert_data.py (text or token rows into Linea's token
// format, the one `linea export --data N` writes for the run's own task).
// Written for Linea; model.py is beside them.

/** The token format of data/: meta.json plus one .bin per split. */
export const TOKENS_FORMAT = 'linea.tokens/1'

export const RECIPE_FILES = ['train.py', 'train.sh', 'convert_data.py'] as const

export function recipeSources(): Record<(typeof RECIPE_FILES)[number], string> {
  return { 'train.py': TRAIN_PY, 'train.sh': TRAIN_SH, 'convert_data.py': CONVERT_DATA_PY }
}

const TRAIN_SH = String.raw`#!/usr/bin/env bash
# Continue training this exported Linea model with torchrun, one process per GPU.
#
#   bash train.sh [train.py options]            every GPU of this machine (the CPU when none)
#   NPROC=4 bash train.sh --steps 2000          four processes
#   NNODES=2 MASTER=node0:29500 bash train.sh   on each of two nodes (same command on both)
#
# Options go to train.py (python3 train.py --help): --steps, --batch (per process),
# --lr, --precision bf16|f32, --save-every, --out. Data: data/meta.json, written by
# "linea export ... --data N" or convert_data.py.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${'${PYTHON:-python3}'}
if [ ! -f data/meta.json ]; then
  echo "train.sh: no data/meta.json here; write it with 'linea export <run> --out <this folder> --data 20000'" >&2
  echo "          or 'python3 convert_data.py text corpus.txt --seq-len 512 --out data'" >&2
  exit 2
fi
NPROC=${"${NPROC:-$($PYTHON -c 'import torch; print(max(1, torch.cuda.device_count()))')}"}
NNODES=${'${NNODES:-1}'}
# torch < 2 under Python >= 3.11 cannot parse torchrun's default --redirects/--tee (0);
# stderr-only redirection (2) parses everywhere and leaves stdout on the console.
STREAMS=$("$PYTHON" -c 'import sys, torch; print("--redirects 2 --tee 2" if sys.version_info >= (3, 11) and int(torch.__version__.split(".")[0]) < 2 else "")')
if [ "$NNODES" -gt 1 ]; then
  exec "$PYTHON" -m torch.distributed.run $STREAMS --nnodes "$NNODES" --nproc_per_node "$NPROC" \
    --rdzv_id linea --rdzv_backend c10d --rdzv_endpoint "${'${MASTER:?set MASTER=host:port of the first node}'}" train.py "$@"
fi
exec "$PYTHON" -m torch.distributed.run $STREAMS --standalone --nproc_per_node "$NPROC" train.py "$@"
`

const TRAIN_PY = String.raw`# train.py: continue training the exported Linea model (model.py beside it) with
# torchrun: DistributedDataParallel, one process per GPU (gloo on the CPU), on data in
# Linea's token format (data/meta.json). Settings default to train_spec.json, the run
# Linea trained: AdamW (decay on matrices, not on norms, biases, gates or conv kernels),
# warmup + cosine/linear/constant schedule, gradient clipping. --batch is per process:
# the global batch is batch x processes. Checkpoints are Linea checkpoints
# (linea inspect reads them back).
#
#   bash train.sh            or   torchrun --standalone --nproc_per_node 8 train.py --steps 5000
import argparse
import contextlib
import json
import math
import os
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import model as linea

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENS_FORMAT = "${TOKENS_FORMAT}"


def read_split(data_dir, info):
    """(inputs, labels), each (rows, seq_len) int64; labels -1 take no loss."""
    path = os.path.join(data_dir, os.path.basename(info["file"]))
    rows, T = info["rows"], info["seq_len"]
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    if len(raw) != 8 * rows * T:
        raise ValueError("%s: %d bytes, but meta.json says %d rows of %d (int32 inputs, then labels): %d bytes" % (path, len(raw), rows, T, 8 * rows * T))
    both = torch.frombuffer(raw, dtype=torch.int32).view(2, rows, T).long()
    return both[0], both[1]


def read_data(data_dir):
    with open(os.path.join(data_dir, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("format") != TOKENS_FORMAT:
        raise ValueError("%s/meta.json: format %r; expected %r" % (data_dir, meta.get("format"), TOKENS_FORMAT))
    if "train" not in meta["splits"]:
        raise ValueError("%s/meta.json has no 'train' split; it has %s" % (data_dir, ", ".join(meta["splits"])))
    return {name: read_split(data_dir, info) for name, info in meta["splits"].items()}


def learning_rate(step, steps, lr, schedule):
    """Linea's schedule (electron/engine/train/schedule.ts)."""
    warmup = schedule["warmup_steps"]
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    if schedule["decay"] == "constant":
        return lr
    progress = min(1.0, max(0.0, (step - warmup) / max(1, steps - warmup)))
    factor = 0.5 * (1 + math.cos(math.pi * progress)) if schedule["decay"] == "cosine" else 1 - progress
    return lr * (schedule["min_lr_ratio"] + (1 - schedule["min_lr_ratio"]) * factor)


def param_groups(net, weight_decay):
    """Linea decays matrices (embeddings and projections), not norms, biases, gate scalars or conv kernels."""
    decay, other = [], []
    for name, p in net.named_parameters():
        (decay if p.ndim >= 2 and not name.endswith("_conv.weight") else other).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": other, "weight_decay": 0.0}]


def masked_loss(logits, labels):
    """Mean cross-entropy over labelled positions (labels >= 0)."""
    mask = labels >= 0
    if not bool(mask.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float()[mask], labels[mask])


@torch.no_grad()
def evaluate(net, splits, batch, device, autocast):
    """Accuracy and mean nll at labelled positions of every split but train."""
    net.eval()
    results = {}
    for name, (x, y) in splits.items():
        if name == "train" or (net.max_positions is not None and x.shape[1] > net.max_positions):
            continue
        correct, total, nll = 0, 0, 0.0
        for i in range(0, x.shape[0], batch):
            xb, yb = x[i : i + batch].to(device), y[i : i + batch].to(device)
            with autocast:
                logits = net(xb)
            mask = yb >= 0
            correct += int((logits.argmax(-1)[mask] == yb[mask]).sum())
            total += int(mask.sum())
            nll += float(F.cross_entropy(logits.float()[mask], yb[mask], reduction="sum"))
        results[name] = (correct / max(1, total), nll / max(1, total))
    net.train()
    return results


def main():
    with open(os.path.join(HERE, "train_spec.json"), encoding="utf-8") as f:
        spec = json.load(f)
    opt = spec["optimizer"]
    p = argparse.ArgumentParser(description="Continue training the exported Linea model (run under torchrun for several GPUs).")
    p.add_argument("--data", default=os.path.join(HERE, "data"), help="folder with meta.json (default: data beside this file)")
    p.add_argument("--steps", type=int, default=spec["steps"], help="steps; the schedule spans them (default: the Linea run's)")
    p.add_argument("--batch", type=int, default=spec["batch_size"], help="sequences per process and step")
    p.add_argument("--lr", type=float, default=opt["lr"])
    p.add_argument("--weight-decay", type=float, default=opt["weight_decay"])
    p.add_argument("--grad-clip", type=float, default=opt["grad_clip"], help="global gradient norm; 0 = off")
    p.add_argument("--precision", choices=["bf16", "f32"], default="bf16", help="bf16 autocast on GPUs (weights stay f32)")
    p.add_argument("--form", choices=list(linea.FORMS), default="chunked", help="how linear mixers compute (fla: its kernels where they apply)")
    p.add_argument("--eval-every", type=int, default=spec["eval"]["every"])
    p.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps; 0 = at the end only")
    p.add_argument("--out", default=os.path.join(HERE, "checkpoints"), help="where Linea checkpoints go")
    p.add_argument("--seed", type=int, default=spec["seed"])
    args = p.parse_args()

    distributed = "RANK" in os.environ
    cuda = torch.cuda.is_available()
    if distributed:
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(args.seed)

    splits = read_data(args.data)
    inputs, labels = splits["train"]
    net = linea.load_linea(HERE, device=device, form=args.form).train()
    vocab = net.spec["vocab_size"]
    if int(inputs.max()) >= vocab:
        raise ValueError("the data has token %d; this model's vocabulary is %d" % (int(inputs.max()), vocab))
    model = DistributedDataParallel(net, device_ids=[local] if cuda else None) if distributed else net
    optimizer = torch.optim.AdamW(param_groups(net, args.weight_decay), lr=args.lr, betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"])
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda and args.precision == "bf16" else contextlib.nullcontext()
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        print("training %s on %d process(es) x %d sequences of %d, %d steps, %s" % (net.spec["name"], world, args.batch, inputs.shape[1], args.steps, device.type))
        for line in net.describe_forms():
            print("  layer " + line)

    def save(step):
        if rank == 0:
            path = os.path.join(args.out, "step-%07d.safetensors" % step)
            linea.save_linea_checkpoint(net, path, spec, step)
            print("saved %s" % path)

    # Each process draws its own rows: seeded by (seed, rank), so runs repeat.
    rows_of = torch.Generator().manual_seed(args.seed * 1000003 + rank)
    # tokens/s over the steps since the last line (not since the start: fla's Triton kernels compile
    # on their first call, which would weigh on every later average).
    since, since_step = time.time(), 0
    for step in range(args.steps):
        rows = torch.randint(0, inputs.shape[0], (args.batch,), generator=rows_of)
        x, y = inputs[rows].to(device), labels[rows].to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr, spec["schedule"])
        with autocast:
            logits = model(x)
        loss = masked_loss(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), args.grad_clip)
        optimizer.step()
        done = step + 1
        if rank == 0 and (done % 10 == 0 or done == args.steps):
            value = loss.item()  # waits for the GPU, so the clock below counts the steps' work
            now = time.time()
            tokens = (done - since_step) * args.batch * world * inputs.shape[1]
            print("step %d  loss %.4f  lr %.3g  %.0f tokens/s" % (done, value, optimizer.param_groups[0]["lr"], tokens / (now - since)))
            since, since_step = now, done
        if rank == 0 and args.eval_every > 0 and done % args.eval_every == 0:
            for name, (accuracy, nll) in evaluate(net, splits, args.batch, device, autocast).items():
                print("  eval %s: accuracy %.4f  nll %.4f" % (name, accuracy, nll))
        if args.save_every > 0 and done % args.save_every == 0 and done != args.steps:
            save(done)
    save(args.steps)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
`

const CONVERT_DATA_PY = String.raw`# convert_data.py: token data for train.py, in Linea's token format.
#
#   data/meta.json     {"format": "${TOKENS_FORMAT}", "vocab_size": V, "splits": {name: {"file", "rows", "seq_len"}}}
#   data/<name>.bin    rows x seq_len int32 inputs, then rows x seq_len int32 labels (-1: no loss), little-endian
#
# "linea export <run> --out <dir> --data N" writes the run's own task this way (MQAR, parity,
# modular addition, permutations, selective copying, induction heads, bytes), from Linea's
# generators with the run's seed. This script converts what Linea did not generate:
#
#   python3 convert_data.py text corpus.txt --seq-len 512 --out data [--eval-fraction 0.01]
#       bytes of a text file (vocabulary 256): windows of seq_len, the label of each byte the next one
#   python3 convert_data.py jsonl rows.jsonl --out data [--split train]
#       one {"inputs": [...], "labels": [...]} per line, all of one length (labels -1: no loss)
#   python3 convert_data.py show data
#       what a data folder holds
import argparse
import json
import os
import sys

import torch

TOKENS_FORMAT = "${TOKENS_FORMAT}"


def read_meta(out):
    path = os.path.join(out, "meta.json")
    if not os.path.exists(path):
        return {"format": TOKENS_FORMAT, "vocab_size": 0, "splits": {}}
    with open(path, encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("format") != TOKENS_FORMAT:
        sys.exit("convert_data.py: %s has format %r; expected %r" % (path, meta.get("format"), TOKENS_FORMAT))
    return meta


def write_split(out, name, inputs, labels, vocab_size):
    """inputs, labels: (rows, seq_len) integer tensors."""
    if sys.byteorder != "little":
        sys.exit("convert_data.py: the format is little-endian; this machine is not")
    os.makedirs(out, exist_ok=True)
    meta = read_meta(out)
    rows, seq_len = inputs.shape
    with open(os.path.join(out, name + ".bin"), "wb") as f:
        f.write(inputs.to(torch.int32).contiguous().numpy().tobytes())
        f.write(labels.to(torch.int32).contiguous().numpy().tobytes())
    meta["splits"][name] = {"file": name + ".bin", "rows": rows, "seq_len": seq_len}
    meta["vocab_size"] = max(meta["vocab_size"], vocab_size)
    with open(os.path.join(out, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    print("%s/%s.bin: %d rows of %d tokens" % (out, name, rows, seq_len))


def from_text(args):
    with open(args.file, "rb") as f:
        data = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).long()
    T = args.seq_len
    rows = (data.numel() - 1) // T
    if rows < 2:
        sys.exit("convert_data.py: %s has %d bytes, fewer than two windows of --seq-len %d" % (args.file, data.numel(), T))
    inputs = data[: rows * T].view(rows, T)
    labels = data[1 : rows * T + 1].view(rows, T)
    held = max(1, int(rows * args.eval_fraction)) if args.eval_fraction > 0 else 0
    write_split(args.out, "train", inputs[: rows - held], labels[: rows - held], 256)
    if held:
        write_split(args.out, "eval", inputs[rows - held :], labels[rows - held :], 256)


def from_jsonl(args):
    inputs, labels = [], []
    with open(args.file, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if len(row["inputs"]) != len(row["labels"]) or (inputs and len(row["inputs"]) != len(inputs[0])):
                sys.exit("convert_data.py: %s line %d: inputs and labels must all have the same length" % (args.file, n))
            inputs.append(row["inputs"])
            labels.append(row["labels"])
    if not inputs:
        sys.exit("convert_data.py: %s has no rows" % args.file)
    x, y = torch.tensor(inputs), torch.tensor(labels)
    write_split(args.out, args.split, x, y, int(max(x.max(), y.max())) + 1)


def show(args):
    meta = read_meta(args.out)
    print("%s: vocabulary %d" % (args.out, meta["vocab_size"]))
    for name, info in meta["splits"].items():
        print("  %s: %d rows of %d tokens (%s)" % (name, info["rows"], info["seq_len"], info["file"]))


def main():
    p = argparse.ArgumentParser(description="Token data for train.py in Linea's token format.")
    sub = p.add_subparsers(dest="command", required=True)
    text = sub.add_parser("text", help="bytes of a text file, next-byte labels")
    text.add_argument("file")
    text.add_argument("--seq-len", type=int, required=True)
    text.add_argument("--out", default="data")
    text.add_argument("--eval-fraction", type=float, default=0.01)
    rows = sub.add_parser("jsonl", help="token rows with labels, one JSON object per line")
    rows.add_argument("file")
    rows.add_argument("--out", default="data")
    rows.add_argument("--split", default="train")
    listing = sub.add_parser("show", help="what a data folder holds")
    listing.add_argument("out", nargs="?", default="data")
    args = p.parse_args()
    {"text": from_text, "jsonl": from_jsonl, "show": show}[args.command](args)


if __name__ == "__main__":
    main()
`
