// The gradient table (electron/engine/autograd/gradients.ts) against the op
// table and against finite differences: every op is differentiable, the
// backward of one, or listed as not differentiable; every entry's wiring
// (saved tensors, upstream, which gradient goes to which input, attribute
// hooks) gives the derivative of its forward, float64 on the CPU backend.
import { describe, expect, it } from 'vitest'
import { resizeModel } from '../../../electron/api/resize'
import { loadAddon } from '../../../electron/engine/addon'
import { Ctx, GradientError, type OpOptions } from '../../../electron/engine/autograd/context'
import { gradients, notDifferentiable, trainingOps } from '../../../electron/engine/autograd/gradients'
import { Model } from '../../../electron/engine/model/model'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { featureMapKindChoices, unaryKindChoices, type OpAttrs, type OpInputs, type OpName } from '../../../electron/engine/ops/generated'
import { presets } from '../../../electron/api/presets'
import { Rng } from '../../../electron/engine/random'
import type { Tensor } from '../../../electron/engine/tensor'
import { disposeBatch, toDevice } from '../../../electron/engine/train/device-batch'
import { AdamW } from '../../../electron/engine/train/optimizer'

const cpu = nativeBackend('cpu')
const table = loadAddon().opTable()
const byName = new Map(table.map((op) => [op.name, op]))

describe('gradient table covers the op table', () => {
  const backwards = new Set([...gradients.values()].map((g) => g.backward))

  it('every op is a differentiable forward, the backward of one, or listed as not differentiable', () => {
    for (const op of table) {
      const name = op.name as OpName
      const roles = [gradients.has(name) && 'forward', backwards.has(name) && 'backward', name in notDifferentiable && 'not differentiable'].filter(Boolean)
      // an op that is its own backward (rotary_fwd: the inverse rotation) has two
      if (gradients.get(name)?.backward === name) expect(roles, op.name).toEqual(['forward', 'backward'])
      else expect(roles, op.name).toHaveLength(1)
    }
    for (const name of [...gradients.keys(), ...backwards, ...Object.keys(notDifferentiable)])
      expect(byName.has(name), `${name} is not in the op table`).toBe(true)
  })

  it('every forward op with a _bwd partner has that partner as its gradient', () => {
    for (const op of table) {
      if (!op.name.endsWith('_fwd')) continue
      const partner = op.name.replace(/_fwd$/, '_bwd')
      if (byName.has(partner)) expect(gradients.get(op.name as OpName)?.backward, op.name).toBe(partner)
    }
  })

  it('every name an entry wires exists in the two ops signatures', () => {
    for (const rule of gradients.values()) {
      const fwd = byName.get(rule.forward)!
      const bwd = byName.get(rule.backward)!
      const names = (list: { name: string }[]) => list.map((s) => s.name)
      for (const s of rule.save) {
        expect(names(fwd.inputs), `${rule.forward} saves ${s}`).toContain(s)
        expect(names(bwd.inputs), `${rule.backward} takes ${s}`).toContain(s)
      }
      for (const [o, arg] of [...Object.entries(rule.saveOutputs), ...Object.entries(rule.upstream)]) {
        expect(names(fwd.outputs), `${rule.forward} output ${o}`).toContain(o)
        expect(names(bwd.inputs), `${rule.backward} input ${arg}`).toContain(arg)
      }
      for (const [g, input] of Object.entries(rule.grads)) {
        expect(names(bwd.outputs), `${rule.backward} output ${g}`).toContain(g)
        expect(names(fwd.inputs), `${rule.forward} input ${input}`).toContain(input)
      }
      // every required forward input that is not an index gets a gradient
      for (const s of fwd.inputs) if (!s.index && !s.optional) expect(Object.values(rule.grads), `${rule.forward} gradient of ${s.name}`).toContain(s.name)
    }
  })
})

describe('training ops', () => {
  it('a training step of every preset runs only ops the backend selection asks for', async () => {
    const ran = new Set<string>()
    cpu.observe((op) => ran.add(op))
    try {
      for (const spec of presets()) {
        const model = new Model(resizeModel(spec, { d_model: 8, vocab_size: 16, heads: 2 }), cpu, 'f32', 1)
        const ids = Int32Array.from({ length: 2 * 6 }, (_, n) => (3 * n) % 16)
        const batch = toDevice(cpu, { batchSize: 2, seqLen: 6, inputs: ids, labels: ids, tags: {} })
        const optimizer = new AdamW(cpu, model.params.trainable(), { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 })
        const ctx = new Ctx(cpu, 'f32', true)
        try {
          model.loss(ctx, batch)
          ctx.backward([])
          const grads = new Map(model.params.trainable().flatMap((p) => (ctx.grad(p.tensor) ? [[p.name, ctx.grad(p.tensor)!] as const] : [])))
          const gradSqSum = optimizer.gradSqSum(grads)
          optimizer.step(grads, 1e-3, 1, { gradSqSum, maxNorm: 1 })
          await gradSqSum.read()
          gradSqSum.dispose()
        } finally {
          ctx.dispose()
          optimizer.dispose()
          model.dispose()
          disposeBatch(batch)
        }
      }
    } finally {
      cpu.observe(undefined)
    }
    const training: string[] = trainingOps()
    expect([...ran].filter((op) => !training.includes(op))).toEqual([])
    expect(training).not.toContain('softmax_attn_decode')
  })
})

// ---- finite differences ----------------------------------------------------

interface Sample {
  op: OpName
  attrs?: Record<string, unknown>
  inputs: Record<string, Float64Array | Int32Array>
  shapes: Record<string, number[]>
  seed?: number
  label?: string
}

let seedCounter = 1
function normal(n: number, map: (x: number) => number = (x) => x): Float64Array {
  const rng = new Rng(seedCounter++)
  return Float64Array.from({ length: n }, () => map(rng.normal()))
}
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1)
const logSigmoid = (x: number) => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)))

/** A sample call: float inputs drawn from shapes (optionally mapped), index inputs given. */
function sample(
  op: OpName,
  shapes: Record<string, number[]>,
  opts: { attrs?: Record<string, unknown>; maps?: Record<string, (x: number) => number>; index?: Record<string, number[]>; seed?: number; label?: string } = {},
): Sample {
  const inputs: Sample['inputs'] = {}
  for (const [name, shape] of Object.entries(shapes)) inputs[name] = normal(sizeOf(shape), opts.maps?.[name])
  for (const [name, values] of Object.entries(opts.index ?? {})) {
    inputs[name] = Int32Array.from(values)
    shapes[name] ??= [values.length]
  }
  return { op, attrs: opts.attrs, inputs, shapes, seed: opts.seed, label: opts.label }
}

const [B, T, H, K, V] = [2, 20, 2, 3, 2]
const gate = (x: number) => Math.max(logSigmoid(x + 1), -5)
const unit = (x: number) => 1 / (1 + Math.exp(-x))
const samples: Sample[] = [
  sample(
    'mixer_fwd',
    { q: [B, T, H, K], k: [B, T, H, K], v: [B, T, H, V], g: [B, T, H], s0: [B, H, K, V] },
    { attrs: { gate: 'scalar', chunk_size: 16 }, maps: { g: gate }, label: 'scalar gate, initial state' },
  ),
  sample(
    'mixer_fwd',
    { q: [B, T, H, K], k: [B, T, H, K], v: [B, T, H, V], g: [B, T, H, K], beta: [B, T, H] },
    { attrs: { gate: 'vector', delta: true, chunk_size: 16 }, maps: { g: gate, beta: unit }, label: 'vector gate, delta' },
  ),
  sample(
    'mixer_fwd',
    { q: [B, T, H, K], k: [B, T, H, K], v: [B, T, H, V], g: [H], i: [B, T, H] },
    { attrs: { gate: 'fixed', input_gate: 'sigmoid', form: 'recurrent' }, maps: { g: gate }, label: 'fixed gate, sigmoid input gate' },
  ),
  sample(
    'mixer_fwd',
    { q: [B, T, H, K], k: [B, T, H, K], v: [B, T, H, V] },
    { attrs: { normalize: 'sum', scale: 0.7 }, maps: { q: Math.exp, k: Math.exp }, label: 'sum denominator' },
  ),
  ...featureMapKindChoices
    .filter((kind) => kind !== 'relu') // a kink at 0
    .map((kind) => sample('feature_map_fwd', { x: [B, 3, H, 4] }, { attrs: { kind }, label: kind })),
  sample('short_conv_fwd', { x: [B, 7, 3], weight: [3, 4], bias: [3] }, { attrs: { activation: 'silu' } }),
  sample('softmax_attn_fwd', { q: [B, 7, H, 4], k: [B, 7, H, 4], v: [B, 7, H, 3] }, { attrs: { window: 3 } }),
  sample('embedding_fwd', { table: [5, 3] }, { index: { ids: [0, 4, 2, 4, 1, 0] } }),
  sample('norm_fwd', { x: [4, 6], weight: [6] }, { attrs: { kind: 'rms' }, label: 'rms, weight' }),
  sample('norm_fwd', { x: [4, 6] }, { attrs: { kind: 'layer' }, label: 'layer' }),
  sample('linear_fwd', { x: [2, 3, 4], w: [5, 4], bias: [5] }, { attrs: { trans_w: true }, label: 'trans_w, bias' }),
  sample('linear_fwd', { x: [3, 4], w: [4, 5] }, { label: 'w as (in, out)' }),
  sample('swiglu_fwd', { gate: [3, 5], up: [3, 5] }),
  sample('rotary_fwd', { x: [B, 5, H, 4] }, { attrs: { offset: 3 } }),
  sample('cross_entropy_fwd', { logits: [4, 5] }, { index: { labels: [2, -1, 0, 4] }, seed: 0.25 }),
  sample('gather_rows', { x: [5, 3] }, { index: { idx: [4, 0, 4, 2] } }),
  ...unaryKindChoices.map((kind) => sample('unary_fwd', { x: [3, 4] }, { attrs: { kind, alpha: 0.7 }, label: kind })),
  sample('binary_fwd', { a: [3, 4], b: [3, 4] }, { attrs: { kind: 'add' }, label: 'add' }),
  sample('binary_fwd', { a: [3, 4], b: [3, 4] }, { attrs: { kind: 'mul' }, label: 'mul' }),
  sample('binary_fwd', { a: [2, 3, 4], b: [4] }, { attrs: { kind: 'mul', broadcast: true }, label: 'mul, broadcast' }),
  sample('binary_fwd', { a: [2, 3, 4], b: [4] }, { attrs: { kind: 'add', broadcast: true }, label: 'add, broadcast' }),
]

/** Runs a sample's op. Its tensors are keyed by name at run time; the samples above name them as the table does. */
function call(ctx: Ctx, s: Sample, tensors: Record<string, Tensor>, options: OpOptions = {}): Record<string, Tensor> {
  return ctx.op(s.op, tensors as unknown as OpInputs<OpName>, (s.attrs ?? {}) as OpAttrs<OpName>, options) as Record<string, Tensor>
}

/** L = Σ r ⊙ y over the upstream outputs, or seed · Σ output for a loss; the op runs unrecorded. */
async function objective(s: Sample, data: Sample['inputs'], weights: Map<string, Float64Array>): Promise<number> {
  const ctx = new Ctx(cpu, 'f64', false)
  try {
    const out = call(ctx, s, upload(ctx, s, data))
    let sum = 0
    for (const [name, r] of weights) {
      const y = await out[name]!.read()
      for (let j = 0; j < y.length; j++) sum += r[j]! * y[j]!
    }
    return sum
  } finally {
    ctx.dispose()
  }
}

function upload(ctx: Ctx, s: Sample, data: Sample['inputs']): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(data).map(([name, d]) => [name, ctx.own(cpu.upload(d, s.shapes[name]!))]))
}

describe('gradient entries against finite differences (float64)', () => {
  it('every entry has a sample', () => {
    const sampled = new Set(samples.map((s) => s.op))
    for (const op of gradients.keys()) expect(sampled.has(op), `no finite-difference sample for ${op}`).toBe(true)
  })

  for (const s of samples)
    it(`${s.op}${s.label ? ` (${s.label})` : ''}`, async () => {
      const rule = gradients.get(s.op)!
      const ctx = new Ctx(cpu, 'f64', true)
      const inputs = upload(ctx, s, s.inputs)
      const out = call(ctx, s, inputs, { seed: s.seed })
      // upstream weights r per output; a loss weighs its first output by the seed
      const weights = new Map<string, Float64Array>()
      const first = byName.get(s.op)!.outputs[0]!.name
      if (rule.seedAttr) weights.set(first, new Float64Array(out[first]!.size).fill(s.seed!))
      for (const o of Object.keys(rule.upstream)) weights.set(o, normal(out[o]!.size))
      const seeds = Object.keys(rule.upstream).map((o) => [out[o]!, ctx.own(cpu.upload(weights.get(o)!, out[o]!.shape))] as [Tensor, Tensor])
      ctx.backward(seeds)
      // every float input of the sample gets its gradient
      const analytic = new Map<string, Float64Array>()
      for (const [input, data] of Object.entries(s.inputs)) {
        if (data instanceof Int32Array) continue
        const g = ctx.grad(inputs[input]!)
        expect(g, `gradient of ${input}`).toBeDefined()
        expect(g!.shape, `gradient of ${input}`).toEqual(inputs[input]!.shape)
        analytic.set(input, (await g!.read()) as Float64Array)
      }
      ctx.dispose()
      expect(analytic.size).toBeGreaterThan(0)

      const eps = 1e-5
      for (const [input, grad] of analytic) {
        const base = s.inputs[input] as Float64Array
        const dir = normal(base.length)
        const along = (h: number) => ({ ...s.inputs, [input]: base.map((x, j) => x + h * dir[j]!) })
        const numeric = ((await objective(s, along(eps), weights)) - (await objective(s, along(-eps), weights))) / (2 * eps)
        const exact = grad.reduce((sum, g, j) => sum + g * dir[j]!, 0)
        expect(Math.abs(numeric - exact), `d/d${input}: numeric ${numeric}, tape ${exact}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(exact)))
      }
    })
})

describe('the tape', () => {
  it('feature map identity is the input itself: no op runs, nothing is recorded', () => {
    const ctx = new Ctx(cpu, 'f64', true)
    const x = ctx.own(cpu.upload(normal(24), [1, 2, 3, 4]))
    const ran: string[] = []
    cpu.observe((op) => ran.push(op))
    try {
      expect(ctx.op('feature_map_fwd', { x }, { kind: 'identity' }).y).toBe(x)
      expect(ctx.op('feature_map_fwd', { x }).y).toBe(x) // the table's default kind
      expect(ran).toEqual([])
      ctx.op('feature_map_fwd', { x }, { kind: 'elu1' })
      expect(ran).toEqual(['feature_map_fwd'])
    } finally {
      cpu.observe(undefined)
      ctx.dispose()
    }
  })

  it('a recording pass refuses an op without a gradient, naming why', () => {
    const ctx = new Ctx(cpu, 'f64', true)
    const x = ctx.own(cpu.upload(normal(4), [4]))
    try {
      expect(() => ctx.op('sum_squares', { x })).toThrow(GradientError)
      expect(() => ctx.op('sum_squares', { x })).toThrow("sum_squares has no gradient (the optimizer's squared gradient norm)")
    } finally {
      ctx.dispose()
    }
    const evaluation = new Ctx(cpu, 'f64', false)
    expect(evaluation.op('sum_squares', { x: evaluation.own(cpu.upload(new Float64Array([3, 4]), [2])) }).y.shape).toEqual([1])
    evaluation.dispose()
  })

  it('a loss in a recording pass needs its seed', () => {
    const ctx = new Ctx(cpu, 'f64', true)
    try {
      const logits = ctx.own(cpu.upload(normal(6), [2, 3]))
      const labels = ctx.own(cpu.upload(new Int32Array([0, 2]), [2]))
      expect(() => ctx.op('cross_entropy_fwd', { logits, labels })).toThrow('cross_entropy_fwd is a loss: give its seed')
    } finally {
      ctx.dispose()
    }
  })

  it('a frozen parameter (RetNet fixed decay) gets no gradient, and its op is not asked for one', () => {
    const spec = presets().find((p) => p.preset === 'retnet')!
    const model = new Model(resizeModel(spec, { d_model: 8, vocab_size: 16, heads: 2 }), cpu, 'f64', 1)
    const ids = Int32Array.from({ length: 2 * 6 }, (_, n) => (5 * n) % 16)
    const batch = toDevice(cpu, { batchSize: 2, seqLen: 6, inputs: ids, labels: ids, tags: {} })
    const mixerGradients: string[][] = []
    const ctx = new Ctx(cpu, 'f64', true)
    try {
      model.loss(ctx, batch)
      cpu.observe((op, _inputs, _attrs, out) => {
        if (op === 'mixer_bwd') mixerGradients.push(Object.keys(out).sort())
      })
      ctx.backward([])
      const frozen = model.params.list().filter((p) => !p.trainable)
      expect(frozen.map((p) => p.name)).toContain('layers.0.mixer.log_decay')
      for (const p of frozen) expect(ctx.grad(p.tensor), p.name).toBeUndefined()
      expect(mixerGradients.length).toBeGreaterThan(0)
      for (const outputs of mixerGradients) expect(outputs).toEqual(['dk', 'dq', 'dv'])
      for (const p of model.params.trainable()) expect(ctx.grad(p.tensor), p.name).toBeDefined()
    } finally {
      cpu.observe(undefined)
      ctx.dispose()
      model.dispose()
      disposeBatch(batch)
    }
  })

  it('a call that does not reach the loss runs no backward', () => {
    const ctx = new Ctx(cpu, 'f64', true)
    const x = ctx.own(cpu.upload(normal(6), [2, 3]))
    const ran: string[] = []
    try {
      ctx.op('unary_fwd', { x }, { kind: 'silu' })
      cpu.observe((op) => ran.push(op))
      ctx.backward([])
      expect(ran).toEqual([])
      expect(ctx.grad(x)).toBeUndefined()
    } finally {
      cpu.observe(undefined)
      ctx.dispose()
    }
  })
})
