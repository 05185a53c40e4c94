// Differentiable functions over the op table: each runs the forward op,
// records a closure that runs the matching backward op, and accumulates the
// input gradients. Shapes follow the ops (see native/src/ops/*_ops.cpp).
import type { AttrValue } from '../backend'
import type { Tensor } from '../tensor'
import type { Ctx } from './context'

function run(ctx: Ctx, op: string, inputs: Record<string, Tensor | undefined>, attrs: Record<string, AttrValue | undefined> = {}, want: string[] = []) {
  const out = ctx.backend.run(op, inputs, attrs, want)
  for (const t of Object.values(out)) ctx.own(t)
  return out
}

/** A view with another shape of the same size; its gradient is the gradient's view. */
export function reshape(ctx: Ctx, x: Tensor, shape: readonly number[]): Tensor {
  const y = ctx.own(x.view(shape))
  ctx.record(() => {
    const dy = ctx.grad(y)
    if (dy) ctx.accumulate(x, ctx.own(dy.view(x.shape)))
  })
  return y
}

/** y = x w (+ bias); w is (K, M), or (M, K) with transW. */
export function linear(ctx: Ctx, x: Tensor, w: Tensor, bias?: Tensor, transW = false): Tensor {
  const y = run(ctx, 'linear_fwd', { x, w, bias }, { trans_w: transW }).y!
  ctx.record(() => {
    const dy = ctx.grad(y)
    if (!dy) return
    const g = run(ctx, 'linear_bwd', { x, w, bias, dy }, { trans_w: transW })
    ctx.accumulate(x, g.dx)
    ctx.accumulate(w, g.dw)
    if (bias) ctx.accumulate(bias, g.dbias)
  })
  return y
}

/** Rows of `table` (R, D) at `ids` (i32, any shape). */
export function embedding(ctx: Ctx, ids: Tensor, table: Tensor): Tensor {
  const y = run(ctx, 'embedding_fwd', { ids, table }).y!
  ctx.record(() => {
    const dy = ctx.grad(y)
    if (dy) ctx.accumulate(table, run(ctx, 'embedding_bwd', { ids, table, dy }).dtable)
  })
  return y
}

/** RMS or layer norm over the last dim, optionally scaled by weight. */
export function norm(ctx: Ctx, x: Tensor, weight: Tensor | undefined, kind: 'rms' | 'layer', eps = 1e-6): Tensor {
  const out = run(ctx, 'norm_fwd', { x, weight }, { kind, eps })
  const y = out.y!
  const rstd = out.rstd!
  ctx.record(() => {
    const dy = ctx.grad(y)
    if (!dy) return
    const g = run(ctx, 'norm_bwd', { x, weight, rstd, dy }, { kind, eps })
    ctx.accumulate(x, g.dx)
    if (weight) ctx.accumulate(weight, g.dweight)
  })
  return y
}

/** silu(gate) ⊙ up: the SwiGLU MLP's gate, and the output gate o ⊙ swish(g). */
export function swiglu(ctx: Ctx, gate: Tensor, up: Tensor): Tensor {
  const y = run(ctx, 'swiglu_fwd', { gate, up }).y!
  ctx.record(() => {
    const dy = ctx.grad(y)
    if (!dy) return
    const g = run(ctx, 'swiglu_bwd', { gate, up, dy })
    ctx.accumulate(gate, g.dgate)
    ctx.accumulate(up, g.dup)
  })
  return y
}

/** Rotary positions on x (B, T, H, D); the backward is the inverse rotation. */
export function rotary(ctx: Ctx, x: Tensor, base = 10000, offset = 0): Tensor {
  const y = run(ctx, 'rotary_fwd', { x }, { base, offset, inverse: false }).y!
  ctx.record(() => {
    const dy = ctx.grad(y)
    if (dy) ctx.accumulate(x, run(ctx, 'rotary_fwd', { x: dy }, { base, offset, inverse: true }).y)
  })
  return y
}

export type UnaryKind = 'identity' | 'silu' | 'sigmoid' | 'softplus' | 'logsigmoid' | 'exp' | 'neg_exp'

/** alpha · f(x), elementwise. */
export function unary(ctx: Ctx, x: Tensor, kind: UnaryKind, alpha = 1): Tensor {
  const y = run(ctx, 'unary_fwd', { x }, { kind, alpha }).y!
  ctx.record(() => {
    const dy = ctx.grad(y)
    if (dy) ctx.accumulate(x, run(ctx, 'unary_bwd', { x, dy }, { kind, alpha }).dx)
  })
  return y
}

/** a + b or a ⊙ b; with broadcast, b has only the last dim of a. */
export function binary(ctx: Ctx, a: Tensor, b: Tensor, kind: 'add' | 'mul', broadcast = false): Tensor {
  const y = run(ctx, 'binary_fwd', { a, b }, { kind, broadcast }).y!
  ctx.record(() => {
    const dy = ctx.grad(y)
    if (!dy) return
    const g = run(ctx, 'binary_bwd', { a, b, dy }, { kind, broadcast })
    ctx.accumulate(a, g.da)
    ctx.accumulate(b, g.db)
  })
  return y
}

export type FeatureMapKind = 'identity' | 'elu1' | 'relu' | 'silu' | 'l2norm' | 'silu_l2norm' | 'taylor2'

/** φ(x) over the last dim of x (B, T, H, D). */
export function featureMap(ctx: Ctx, x: Tensor, kind: FeatureMapKind): Tensor {
  if (kind === 'identity') return x
  const y = run(ctx, 'feature_map_fwd', { x }, { kind }).y!
  ctx.record(() => {
    const dy = ctx.grad(y)
    if (dy) ctx.accumulate(x, run(ctx, 'feature_map_bwd', { x, dy }, { kind }).dx)
  })
  return y
}

/** Causal depthwise convolution of x (B, T, C) with weight (C, W). */
export function shortConv(ctx: Ctx, x: Tensor, weight: Tensor, bias: Tensor | undefined, activation: 'none' | 'silu'): Tensor {
  const y = run(ctx, 'short_conv_fwd', { x, weight, bias }, { activation }).y!
  ctx.record(() => {
    const dy = ctx.grad(y)
    if (!dy) return
    const g = run(ctx, 'short_conv_bwd', { x, weight, bias, dy }, { activation })
    ctx.accumulate(x, g.dx)
    ctx.accumulate(weight, g.dweight)
    if (bias) ctx.accumulate(bias, g.dbias)
  })
  return y
}

export interface MixerCall {
  q: Tensor
  k: Tensor
  v: Tensor
  g?: Tensor
  i?: Tensor
  beta?: Tensor
  attrs: Record<string, AttrValue>
}

/** The fused linear-attention mixer (mixer_fwd / mixer_bwd). */
export function mixer(ctx: Ctx, m: MixerCall): Tensor {
  const inputs = { q: m.q, k: m.k, v: m.v, g: m.g, i: m.i, beta: m.beta }
  const o = run(ctx, 'mixer_fwd', inputs, m.attrs).o!
  ctx.record(() => {
    const d = ctx.grad(o)
    if (!d) return
    const g = run(ctx, 'mixer_bwd', { ...inputs, do: d }, m.attrs)
    ctx.accumulate(m.q, g.dq)
    ctx.accumulate(m.k, g.dk)
    ctx.accumulate(m.v, g.dv)
    if (m.g) ctx.accumulate(m.g, g.dg)
    if (m.i) ctx.accumulate(m.i, g.di)
    if (m.beta) ctx.accumulate(m.beta, g.dbeta)
  })
  return o
}

/** Causal softmax attention of (B, T, H, D) tensors; window 0 = full. */
export function softmaxAttention(ctx: Ctx, q: Tensor, k: Tensor, v: Tensor, window: number): Tensor {
  const out = run(ctx, 'softmax_attn_fwd', { q, k, v }, { window })
  const o = out.o!
  const lse = out.lse!
  ctx.record(() => {
    const d = ctx.grad(o)
    if (!d) return
    const g = run(ctx, 'softmax_attn_bwd', { q, k, v, o, lse, do: d }, { window })
    ctx.accumulate(q, g.dq)
    ctx.accumulate(k, g.dk)
    ctx.accumulate(v, g.dv)
  })
  return o
}

/** Rows of x (N, D) at idx (i32, M). */
export function gatherRows(ctx: Ctx, x: Tensor, idx: Tensor): Tensor {
  const y = run(ctx, 'gather_rows', { x, idx }).y!
  ctx.record(() => {
    const dy = ctx.grad(y)
    if (dy) ctx.accumulate(x, run(ctx, 'scatter_add_rows', { idx, dy, x }).dx)
  })
  return y
}

export interface CrossEntropy {
  /** −log p(label) per row (0 on ignored rows). */
  nll: Tensor
  /** 1 where the argmax is the label. */
  correct: Tensor
}

/**
 * Cross-entropy of logits (N, C) against labels (i32, N; −1 ignored). The
 * loss is scale · Σ nll; its backward is seeded here, so this is the last
 * op of a forward pass.
 */
export function crossEntropyLoss(ctx: Ctx, logits: Tensor, labels: Tensor, scale: number): CrossEntropy {
  const out = run(ctx, 'cross_entropy_fwd', { logits, labels })
  const lse = out.lse!
  ctx.record(() => {
    ctx.accumulate(logits, run(ctx, 'cross_entropy_bwd', { logits, labels, lse }, { scale }).dlogits)
  })
  return { nll: out.nll!, correct: out.correct! }
}
