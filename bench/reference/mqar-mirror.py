# A PyTorch mirror of the mqar-zoology template's models (the same
# switches, initializations, optimizer, schedule and task layout as Linea's
# engine), written to tell an engine bug from a property of the model: when
# Linea and this mirror agree run for run, the engine is not the cause.
# Not part of Linea and never run by CI; a reference for bench/mqar-recall.md.
#
#   python bench/reference/mqar-mirror.py --arch hybrid_first --seed 0
#   archs: gdn1 gdn2 hybrid (Gated DeltaNet, then softmax window 16)
#          hybrid_first (softmax first) transformer gla (--gla_conv 4: short conv)
#          baseconv_gla (Zoology's BaseConv layer, then GLA), baseconv_gla4 (the pair twice)
#   --zoology_block: Zoology's block with its "no MLP" (Identity state mixer), LayerNorms
# Prints an evaluation every --eval_every steps and a RESULT line of JSON; results of
# the GPU box run: bench/reference/mqar-mirror-results.json. The task's
# random draws differ from Linea's generator (same distribution).
import argparse, json, math, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--arch', required=True)  # gdn1 gdn2 hybrid hybrid_first transformer gla gdn_swa_full
p.add_argument('--steps', type=int, default=1500)
p.add_argument('--seed', type=int, default=0)
p.add_argument('--heads', type=int, default=2)
p.add_argument('--window', type=int, default=16)
p.add_argument('--pos', default='learned')  # learned | none
p.add_argument('--gla_conv', type=int, default=0)
p.add_argument('--gla_dk', type=int, default=0)  # per-head key dim override
p.add_argument('--lr', type=float, default=3e-3)
p.add_argument('--gla_init', default='fan_in')  # fan_in (nn.Linear's default) | fla: every GLA projection xavier_uniform(gain 2^-2.5), as fla's GatedLinearAttention initializes its layer
p.add_argument('--gla_norm', type=float, default=16)  # GLA's gate_logit_normalizer: log decay = logsigmoid(x W1 W2 + b) / this
p.add_argument('--decay_all', action='store_true')  # weight decay on every parameter (AdamW(model.parameters()), as Zoology's trainer)
# Zoology's TransformerBlock with state_mixer=Identity (its "no MLP"): LayerNorm (with bias) before the mixer, and the
# block's second sublayer is the identity on norm2(x), so each block also adds LayerNorm2(x) to the residual stream;
# ln_f at the end (zoology/model.py: TransformerBlock, LMBackbone.layers_forward).
p.add_argument('--zoology_block', action='store_true')
# Sequences per step (the template's 64); the cosine schedule runs over --steps.
p.add_argument('--batch', type=int, default=64)
# The task and width: the mqar-zoology template's by default; the mqar-zoology-gpu template's grid
# (vocabulary 8192, T = 256 with 16 pairs at batch 256, or T = 512 with 64 at batch 128, d_model
# 64 to 256, evaluation every 250 steps on 16 batches) with --vocab 8192 --seq 256 --pairs 16 ...
p.add_argument('--vocab', type=int, default=512)
p.add_argument('--seq', type=int, default=128)
p.add_argument('--pairs', type=int, default=8)
p.add_argument('--d_model', type=int, default=64)
p.add_argument('--eval_every', type=int, default=100)
p.add_argument('--eval_seqs', type=int, default=2048)
# Stop at this evaluation accuracy (the GPU template's early stop at 0.99); 0: train every step.
p.add_argument('--stop_at', type=float, default=0)
# Draw batches with array operations (same distribution, other draws than the loop): the loop takes
# tens of ms a batch at T = 256 and batch 256, longer than the step on a GPU.
p.add_argument('--fast_data', action='store_true')
a = p.parse_args()
torch.manual_seed(a.seed); np.random.seed(a.seed)
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
V, T, NKV, D, BS = a.vocab, a.seq, a.pairs, a.d_model, a.batch

def mqar_batch(rng, n):
    half = V // 2
    space = (T - 2 * NKV + 1) // 2
    w = np.arange(1, space + 1, dtype=np.float64) ** (0.01 - 1); w /= w.sum()
    x = rng.integers(0, V, size=(n, T)); y = np.full((n, T), -1); tag = np.full((n, T), -1)
    for r in range(n):
        keys = rng.choice(half - 1, NKV, replace=False) + 1
        vals = half + rng.integers(0, V - half, NKV)
        x[r, 0:2 * NKV:2] = keys; x[r, 1:2 * NKV:2] = vals
        slots = rng.choice(space, NKV, replace=False, p=w)
        for i in range(NKV):
            q = 2 * NKV + 2 * slots[i]
            x[r, q] = keys[i]
            if q + 1 < T: x[r, q + 1] = vals[i]
            y[r, q] = vals[i]
        for i in range(NKV):
            q = 2 * NKV + 2 * slots[i]
            tag[r, q] = int((x[r, 2 * NKV:q] == keys[i]).any())
    return torch.tensor(x), torch.tensor(y), torch.tensor(tag)

def mqar_batch_fast(rng, n):
    # mqar_batch's distribution with array operations: keys distinct per row (the first NKV of a
    # random permutation), slots without replacement with weights w (Gumbel top-k).
    half = V // 2
    space = (T - 2 * NKV + 1) // 2
    w = np.arange(1, space + 1, dtype=np.float64) ** (0.01 - 1); w /= w.sum()
    x = rng.integers(0, V, size=(n, T)); y = np.full((n, T), -1); tag = np.full((n, T), -1)
    keys = np.argsort(rng.random((n, half - 1)), axis=1)[:, :NKV] + 1
    vals = half + rng.integers(0, V - half, (n, NKV))
    x[:, 0:2 * NKV:2] = keys; x[:, 1:2 * NKV:2] = vals
    slots = np.argsort(np.log(w)[None, :] + rng.gumbel(size=(n, space)), axis=1)[:, ::-1][:, :NKV]
    q = 2 * NKV + 2 * slots
    rows = np.arange(n)[:, None]
    x[rows, q] = keys
    nxt = q + 1; inside = nxt < T
    x[np.broadcast_to(rows, q.shape)[inside], nxt[inside]] = vals[inside]
    y[rows, q] = vals
    # tag: the query's key also occurs earlier, between the pairs and the query, as another token
    pos = np.arange(T)[None, None, :]
    seen = (x[:, None, :] == keys[:, :, None]) & (pos >= 2 * NKV) & (pos < q[:, :, None])
    tag[rows, q] = seen.any(-1).astype(int)
    return torch.tensor(x), torch.tensor(y), torch.tensor(tag)

def lin(out, inn):
    m = nn.Linear(inn, out, bias=False); b = 1 / math.sqrt(inn); nn.init.uniform_(m.weight, -b, b); return m

def rms(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

def causal_conv(x, w):  # x (B,T,C), w (C,W): tap W-1 sees t
    W = w.shape[1]
    xp = F.pad(x.transpose(1, 2), (W - 1, 0))
    return F.silu(F.conv1d(xp, w.unsqueeze(1), groups=w.shape[0]).transpose(1, 2))

class Conv(nn.Module):
    def __init__(s, c, W=4):
        super().__init__(); s.weight = nn.Parameter(torch.empty(c, W).uniform_(-1 / math.sqrt(W), 1 / math.sqrt(W))); s.weight._nodecay = True
    def forward(s, x): return causal_conv(x, s.weight)

class GDN(nn.Module):
    def __init__(s, H):
        super().__init__(); s.H = H; s.dk = D // H
        s.q, s.k, s.v, s.o, s.g = lin(D, D), lin(D, D), lin(D, D), lin(D, D), lin(D, D)
        s.b, s.dt = lin(H, D), lin(H, D)
        s.dt_bias = nn.Parameter(torch.full((H,), 1e-3 + math.log(-math.expm1(-1e-3))))
        s.A_log = nn.Parameter(torch.zeros(H)); s.onorm = nn.Parameter(torch.ones(s.dk))
        for t in (s.dt_bias, s.A_log, s.onorm): t._nodecay = True
        s.cq, s.ck, s.cv = Conv(D), Conv(D), Conv(D)
    def forward(s, x):
        B_, T_, _ = x.shape; H, dk = s.H, s.dk
        q = F.normalize(s.cq(s.q(x)).view(B_, T_, H, dk), dim=-1, eps=1e-6)
        k = F.normalize(s.ck(s.k(x)).view(B_, T_, H, dk), dim=-1, eps=1e-6)
        v = s.cv(s.v(x)).view(B_, T_, H, dk)
        beta = torch.sigmoid(s.b(x))
        g = -torch.exp(s.A_log) * F.softplus(s.dt(x) + s.dt_bias)
        a_ = torch.exp(g)
        S = x.new_zeros(B_, H, dk, dk); outs = []
        scale = dk ** -0.5
        for t in range(T_):
            S = S * a_[:, t, :, None, None]
            kt = k[:, t]; vt = v[:, t]
            pred = torch.einsum('bhk,bhkv->bhv', kt, S)
            S = S + torch.einsum('bhk,bhv->bhkv', kt, (vt - pred) * beta[:, t, :, None])
            outs.append(torch.einsum('bhk,bhkv->bhv', q[:, t] * scale, S))
        o = rms(torch.stack(outs, 1), s.onorm).reshape(B_, T_, D)
        return s.o(F.silu(s.g(x)) * o)

class GLA(nn.Module):
    def __init__(s, H, conv=0, dk=0):
        super().__init__(); s.H = H; s.dk = dk or D // H; s.dv = D // H
        s.q, s.k, s.v, s.g = lin(H * s.dk, D), lin(H * s.dk, D), lin(D, D), lin(D, D); s.o = lin(D, D)
        gain = 2 ** -2.5
        s.down = nn.Linear(D, 16, bias=False); s.up = nn.Linear(16, H * s.dk, bias=True)
        nn.init.xavier_uniform_(s.down.weight, gain); nn.init.xavier_uniform_(s.up.weight, gain); nn.init.zeros_(s.up.bias)
        s.up.bias._nodecay = True
        s.onorm = nn.Parameter(torch.ones(s.dv)); s.onorm._nodecay = True
        s.conv = conv
        if conv: s.cq, s.ck, s.cv = Conv(H * s.dk), Conv(H * s.dk), Conv(D)
        if a.gla_init == 'fla':
            for m in (s.q, s.k, s.v, s.g, s.o):
                nn.init.xavier_uniform_(m.weight, gain)
                if m.bias is not None: nn.init.zeros_(m.bias)
    def forward(s, x):
        B_, T_, _ = x.shape; H, dk, dv = s.H, s.dk, s.dv
        q, k, v = s.q(x), s.k(x), s.v(x)
        if s.conv: q, k, v = s.cq(q), s.ck(k), s.cv(v)
        q, k, v = q.view(B_, T_, H, dk), k.view(B_, T_, H, dk), v.view(B_, T_, H, dv)
        gk = (F.logsigmoid(s.up(s.down(x))) / a.gla_norm).view(B_, T_, H, dk)
        a_ = torch.exp(gk)
        S = x.new_zeros(B_, H, dk, dv); outs = []; scale = dk ** -0.5
        for t in range(T_):
            S = S * a_[:, t, :, :, None] + torch.einsum('bhk,bhv->bhkv', k[:, t], v[:, t])
            outs.append(torch.einsum('bhk,bhkv->bhv', q[:, t] * scale, S))
        o = rms(torch.stack(outs, 1), s.onorm).reshape(B_, T_, D)
        return s.o(F.silu(s.g(x)) * o)

class BaseConvMix(nn.Module):
    # Zoology's BaseConv (zoology/mixers/base_conv.py), the layer its MQAR configs put before
    # each recurrent mixer (Hybrid alternates them by layer): a depthwise causal convolution of
    # kernel 3 (with bias, no activation) gating a linear projection (with bias), plus the input.
    def __init__(s, W=3):
        super().__init__()
        s.proj = nn.Linear(D, D)  # PyTorch's default init: U(±1/sqrt(D)) for weight and bias
        bound = 1 / math.sqrt(W)  # nn.Conv1d's default for a depthwise kernel of W taps
        s.weight = nn.Parameter(torch.empty(D, W).uniform_(-bound, bound))
        s.bias = nn.Parameter(torch.empty(D).uniform_(-bound, bound)); s.bias._nodecay = True
    def forward(s, x):
        W = s.weight.shape[1]
        xp = F.pad(x.transpose(1, 2), (W - 1, 0))
        conv = F.conv1d(xp, s.weight.unsqueeze(1), s.bias, groups=D).transpose(1, 2)
        return conv * s.proj(x) + x

def rotary(x):  # (B,T,H,Dh) rotate half
    B_, T_, H, Dh = x.shape; half = Dh // 2
    inv = 10000 ** (-torch.arange(half, device=x.device, dtype=torch.float64) * 2 / Dh)
    th = torch.arange(T_, device=x.device, dtype=torch.float64)[:, None] * inv
    c, s_ = th.cos().float()[None, :, None], th.sin().float()[None, :, None]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * c - x2 * s_, x2 * c + x1 * s_], -1)

class Attn(nn.Module):
    def __init__(s, H, window):
        super().__init__(); s.H = H; s.hd = D // H; s.w = window
        s.q, s.k, s.v, s.o = lin(D, D), lin(D, D), lin(D, D), lin(D, D)
    def forward(s, x):
        B_, T_, _ = x.shape
        q = rotary(s.q(x).view(B_, T_, s.H, s.hd)).transpose(1, 2)
        k = rotary(s.k(x).view(B_, T_, s.H, s.hd)).transpose(1, 2)
        v = s.v(x).view(B_, T_, s.H, s.hd).transpose(1, 2)
        i = torch.arange(T_, device=x.device)
        mask = (i[None, :] <= i[:, None])
        if s.w: mask = mask & (i[None, :] > i[:, None] - s.w)
        scores = (q @ k.transpose(-1, -2)) * s.hd ** -0.5
        o = torch.softmax(scores.masked_fill(~mask, float('-inf')), -1) @ v
        return s.o(o.transpose(1, 2).reshape(B_, T_, D))

class Model(nn.Module):
    def __init__(s, mixers, pos):
        super().__init__()
        s.embed = nn.Embedding(V, D); nn.init.normal_(s.embed.weight, 0, 1)
        s.pos = nn.Embedding(T, D) if pos else None
        if pos: nn.init.normal_(s.pos.weight, 0, 1)
        s.mixers = nn.ModuleList(mixers)
        s.norms = nn.ParameterList([nn.Parameter(torch.ones(D)) for _ in mixers])
        for n in s.norms: n._nodecay = True
        s.fnorm = nn.Parameter(torch.ones(D)); s.fnorm._nodecay = True
        if a.zoology_block:  # LayerNorms with bias: norm1, norm2 per block, ln_f (1-d parameters: no weight decay)
            s.ln1 = nn.ModuleList([nn.LayerNorm(D) for _ in mixers])
            s.ln2 = nn.ModuleList([nn.LayerNorm(D) for _ in mixers])
            s.lnf = nn.LayerNorm(D)
        s.head = lin(V, D)
    def forward(s, x):
        h = s.embed(x)
        if s.pos is not None: h = h + s.pos.weight[None, :x.shape[1]]
        if a.zoology_block:
            for m, n1, n2 in zip(s.mixers, s.ln1, s.ln2):
                h = h + m(n1(h))
                h = h + n2(h)  # the Identity state mixer on norm2(residual), added by the next block's residual
            return s.head(s.lnf(h))
        for m, n in zip(s.mixers, s.norms): h = h + m(rms(h, n))
        return s.head(rms(h, s.fnorm))

H = a.heads
if a.arch == 'gdn1': mix = [GDN(H)]
elif a.arch == 'gdn2': mix = [GDN(H), GDN(H)]
elif a.arch == 'hybrid': mix = [GDN(H), Attn(H, a.window)]
elif a.arch == 'hybrid_first': mix = [Attn(H, a.window), GDN(H)]
elif a.arch == 'transformer': mix = [Attn(H, 0), Attn(H, 0)]
elif a.arch == 'gla': mix = [GLA(H, a.gla_conv, a.gla_dk), GLA(H, a.gla_conv, a.gla_dk)]
elif a.arch == 'baseconv_gla': mix = [BaseConvMix(), GLA(H, a.gla_conv, a.gla_dk)]  # Zoology's 2 layers
elif a.arch == 'baseconv_gla4': mix = [BaseConvMix(), GLA(H, a.gla_conv, a.gla_dk)] * 1 + [BaseConvMix(), GLA(H, a.gla_conv, a.gla_dk)]
else: sys.exit('arch?')
pos = a.pos == 'learned' and a.arch != 'transformer'
model = Model(mix, pos).to(dev)
decay = [q for q in model.parameters() if a.decay_all or (q.ndim >= 2 and not getattr(q, '_nodecay', False))]
nodecay = [q for q in model.parameters() if not (a.decay_all or (q.ndim >= 2 and not getattr(q, '_nodecay', False)))]
opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': nodecay, 'weight_decay': 0.0}], lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
def lr_at(step):
    if step < 100: return a.lr * (step + 1) / 100
    pr = min(1, (step - 100) / (a.steps - 100)); return a.lr * 0.5 * (1 + math.cos(math.pi * pr))
rng = np.random.default_rng(1000 + a.seed)
batch_of = mqar_batch_fast if a.fast_data else mqar_batch
ex, ey, et = batch_of(np.random.default_rng(99), a.eval_seqs)
ex, ey, et = ex.to(dev), ey.to(dev), et.to(dev)
def evaluate():
    model.eval(); c = n = 0; cs = [0, 0]; ns = [0, 0]
    with torch.no_grad():
        for i in range(0, a.eval_seqs, 256):
            lo = model(ex[i:i + 256]); yy = ey[i:i + 256]; tt = et[i:i + 256]
            m = yy >= 0; ok = (lo.argmax(-1) == yy) & m
            c += ok.sum().item(); n += m.sum().item()
            for j in (0, 1): cs[j] += (ok & (tt == j)).sum().item(); ns[j] += (m & (tt == j)).sum().item()
    model.train(); return c / n, [cs[j] / max(1, ns[j]) for j in (0, 1)]
hist = []; t0 = time.time(); first = None
for step in range(a.steps):
    x, y, _ = batch_of(rng, BS); x, y = x.to(dev), y.to(dev)
    for gr in opt.param_groups: gr['lr'] = lr_at(step)
    loss = F.cross_entropy(model(x).view(-1, V), y.view(-1), ignore_index=-1)
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
    if (step + 1) % a.eval_every == 0:
        acc, split = evaluate(); hist.append([step + 1, round(loss.item(), 4), round(acc, 4)])
        if first is None and acc >= 0.99: first = step + 1
        print(f'{a.arch} {vars(a)} step {step+1} loss {loss.item():.3f} acc {acc:.4f} split {split[0]:.3f}/{split[1]:.3f} t {time.time()-t0:.0f}s', flush=True)
        if a.stop_at and acc >= a.stop_at: break
res = {'args': vars(a), 'first_0_99': first, 'best': max((h[2] for h in hist), default=None), 'hist': hist}
print('RESULT', json.dumps(res), flush=True)
