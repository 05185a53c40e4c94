// The gradient table: for every differentiable op of the native table, the
// op that computes its input gradients and how the two are wired, declared
// once (tfjs `registerGradient`, tinygrad's gradient table). The tape
// (Ctx.op, context.ts) reads it; nothing else knows how an op differentiates.
//
// An entry says
//   backward       the op that computes the gradients
//   save           forward inputs the backward reads, under the same names
//   saveOutputs    forward outputs the backward reads: forward output → backward input
//   upstream       gradients flowing in: forward output → backward input; the
//                  backward runs when the first listed output has a gradient
//   grads          backward outputs → the forward inputs they are gradients of,
//                  in the order they are accumulated
//   attrs          the backward's attributes from the forward's (default: the same)
//   passThrough    attribute values that make the op the identity on an input:
//                  the input is returned, nothing runs, nothing is recorded
//   seedAttr       a loss: its backward needs no upstream gradient; the caller's
//                  seed (d loss / d Σ output) goes to this backward attribute
//
// Ops that are never differentiated (inference, optimizer) are listed in
// `notDifferentiable` with the reason; `trainingOps` (the ops a training
// step may run) follows from the two.
// tests/node/engine/gradients.test.ts checks that every op of the table is a
// forward op here, the backward of one, or listed there, and checks each
// entry against finite differences.
import { opNames, withDefaults, type OpAttrs, type OpInputs, type OpName, type OpOutputs } from '../ops/generated'

type InputName<N extends OpName> = keyof OpInputs<N> & string
type OutputName<N extends OpName> = keyof OpOutputs<N> & string

export interface GradientEntry<F extends OpName, B extends OpName> {
  backward: B
  save: readonly (InputName<F> & InputName<B>)[]
  saveOutputs?: { readonly [O in OutputName<F>]?: InputName<B> }
  upstream: { readonly [O in OutputName<F>]?: InputName<B> }
  grads: { readonly [O in OutputName<B>]?: InputName<F> }
  attrs?: (forward: OpAttrs<F>) => OpAttrs<B>
  passThrough?: { when: Partial<OpAttrs<F>>; input: InputName<F>; output: OutputName<F> }
  seedAttr?: keyof OpAttrs<B> & string
}

/** An entry as the tape reads it: names as strings. */
export interface GradientRule {
  forward: OpName
  backward: OpName
  save: readonly string[]
  saveOutputs: Readonly<Record<string, string>>
  upstream: Readonly<Record<string, string>>
  grads: Readonly<Record<string, string>>
  attrs?: (forward: Record<string, unknown>) => Record<string, unknown>
  passThrough?: { when: Readonly<Record<string, unknown>>; input: string; output: string }
  seedAttr?: string
}

/** Declares the gradient of `forward`; the types tie every name to the two ops' signatures. */
function gradient<F extends OpName, B extends OpName>(forward: F, e: GradientEntry<F, B>): GradientRule {
  return {
    forward,
    backward: e.backward,
    save: e.save,
    saveOutputs: (e.saveOutputs ?? {}) as Record<string, string>,
    upstream: e.upstream as Record<string, string>,
    grads: e.grads as Record<string, string>,
    attrs: e.attrs as GradientRule['attrs'],
    passThrough: e.passThrough as GradientRule['passThrough'],
    seedAttr: e.seedAttr,
  }
}

const mixerInputs = ['q', 'k', 'v', 'g', 'i', 'beta', 's0', 'z0', 'm0'] as const

const entries: GradientRule[] = [
  gradient('mixer_fwd', {
    backward: 'mixer_bwd',
    // nothing else is saved: the backward recomputes the forward
    save: mixerInputs,
    upstream: { o: 'do' },
    grads: { dq: 'q', dk: 'k', dv: 'v', dg: 'g', di: 'i', dbeta: 'beta', ds0: 's0', dz0: 'z0' },
  }),
  gradient('feature_map_fwd', {
    backward: 'feature_map_bwd',
    save: ['x'],
    upstream: { y: 'dy' },
    grads: { dx: 'x' },
    passThrough: { when: { kind: 'identity' }, input: 'x', output: 'y' },
  }),
  gradient('short_conv_fwd', {
    backward: 'short_conv_bwd',
    save: ['x', 'weight', 'bias'],
    upstream: { y: 'dy' },
    grads: { dx: 'x', dweight: 'weight', dbias: 'bias' },
  }),
  gradient('softmax_attn_fwd', {
    backward: 'softmax_attn_bwd',
    save: ['q', 'k', 'v'],
    saveOutputs: { o: 'o', lse: 'lse' },
    upstream: { o: 'do' },
    grads: { dq: 'q', dk: 'k', dv: 'v' },
  }),
  gradient('embedding_fwd', {
    backward: 'embedding_bwd',
    save: ['ids', 'table'],
    upstream: { y: 'dy' },
    grads: { dtable: 'table' },
  }),
  gradient('norm_fwd', {
    backward: 'norm_bwd',
    save: ['x', 'weight'],
    saveOutputs: { rstd: 'rstd' },
    upstream: { y: 'dy' },
    grads: { dx: 'x', dweight: 'weight' },
  }),
  gradient('linear_fwd', {
    backward: 'linear_bwd',
    save: ['x', 'w', 'bias'],
    upstream: { y: 'dy' },
    grads: { dx: 'x', dw: 'w', dbias: 'bias' },
  }),
  gradient('swiglu_fwd', {
    backward: 'swiglu_bwd',
    save: ['gate', 'up'],
    upstream: { y: 'dy' },
    grads: { dgate: 'gate', dup: 'up' },
  }),
  // A rotation: its gradient is the inverse rotation of the upstream gradient.
  gradient('rotary_fwd', {
    backward: 'rotary_fwd',
    save: [],
    upstream: { y: 'x' },
    grads: { y: 'x' },
    attrs: (a) => ({ ...a, inverse: !withDefaults('rotary_fwd', a).inverse }),
  }),
  // The last op of a forward pass: the caller's seed is the weight of Σ nll.
  gradient('cross_entropy_fwd', {
    backward: 'cross_entropy_bwd',
    save: ['logits', 'labels'],
    saveOutputs: { lse: 'lse' },
    upstream: {},
    grads: { dlogits: 'logits' },
    seedAttr: 'scale',
  }),
  gradient('gather_rows', {
    backward: 'scatter_add_rows',
    save: ['idx', 'x'],
    upstream: { y: 'dy' },
    grads: { dx: 'x' },
  }),
  gradient('unary_fwd', {
    backward: 'unary_bwd',
    save: ['x'],
    upstream: { y: 'dy' },
    grads: { dx: 'x' },
  }),
  gradient('binary_fwd', {
    backward: 'binary_bwd',
    save: ['a', 'b'],
    upstream: { y: 'dy' },
    grads: { da: 'a', db: 'b' },
  }),
]

/** The gradient of each differentiable op, by forward op name. */
export const gradients: ReadonlyMap<OpName, GradientRule> = new Map(entries.map((e) => [e.forward, e]))

/** Ops of the table that have no gradient: whether a training step uses them, and why they need none. */
export const notDifferentiable: { readonly [N in OpName]?: { use: 'training' | 'inference'; why: string } } = {
  softmax_attn_decode: { use: 'inference', why: 'one query against a cache of keys and values' },
  sum_squares: { use: 'training', why: "the optimizer's squared gradient norm" },
  accumulate: { use: 'training', why: 'in place: the tape sums gradients with it' },
  adamw_step: { use: 'training', why: 'the optimizer: updates parameters in place' },
  cast: { use: 'training', why: 'mixed precision: bf16 copies of f32 master weights, made outside the tape' },
}

/** Every op a training step may run, in table order: each gradient entry's two ops and the training ops without a gradient. */
export function trainingOps(): OpName[] {
  const used = new Set<OpName>()
  for (const rule of gradients.values()) used.add(rule.forward).add(rule.backward)
  for (const [op, entry] of Object.entries(notDifferentiable)) if (entry.use === 'training') used.add(op as OpName)
  return opNames.filter((op) => used.has(op))
}
