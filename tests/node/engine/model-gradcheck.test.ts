// Whole-model gradient checks: a tiny model of every preset in float64 on
// the CPU backend, the tape's gradients against finite differences of the
// loss, along random directions over all parameters and per parameter; and
// the same with learned positions.
import { describe, expect, it } from 'vitest'
import type { LinearLayer, ModelSpec } from '../../../electron/api/model-spec'
import { resizeModel } from '../../../electron/api/resize'
import { Ctx } from '../../../electron/engine/autograd/context'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { Model } from '../../../electron/engine/model/model'
import { presets } from '../../../electron/api/presets'
import { Rng } from '../../../electron/engine/random'
import { toDevice } from '../../../electron/engine/train/device-batch'

const cpu = nativeBackend('cpu')
const [B, T, VOCAB] = [2, 12, 24]

function tinyBatch(seed: number) {
  const rng = new Rng(seed)
  const inputs = Int32Array.from({ length: B * T }, () => rng.int(VOCAB))
  // labels on most positions, some ignored
  const labels = Int32Array.from({ length: B * T }, (_, n) => (n % 5 === 3 ? -1 : rng.int(VOCAB)))
  return toDevice(cpu, { batchSize: B, seqLen: T, inputs, labels, tags: {} })
}

async function lossOf(model: Model, batch: ReturnType<typeof tinyBatch>): Promise<number> {
  const ctx = new Ctx(cpu, 'f64', false)
  try {
    const nll = await model.loss(ctx, batch).nll.read()
    let s = 0
    for (let m = 0; m < batch.count; m++) s += nll[m]!
    return s / batch.count
  } finally {
    ctx.dispose()
  }
}

/** Small enough for finite differences, big enough to use every switch (2 heads, head dim 4). */
function tiny(spec: ModelSpec): ModelSpec {
  const small = resizeModel(spec, { d_model: 8, vocab_size: VOCAB, heads: 2 })
  for (const layer of small.layers) {
    if (layer.kind === 'linear') {
      if (layer.dk !== undefined) layer.dk = layer.feature_map === 'taylor2' ? 3 : 4
      if (layer.dv !== undefined) layer.dv = 4
    } else if (layer.window !== null) layer.window = 5
  }
  return small
}

/** The tape's gradients against central differences of the loss; returns the mismatches. */
async function gradientMismatches(spec: ModelSpec): Promise<string[]> {
  const model = new Model(spec, cpu, 'f64', 3)
  const batch = tinyBatch(5)
  const ctx = new Ctx(cpu, 'f64', true)
  const params = model.params.trainable()
  model.loss(ctx, batch)
  ctx.backward([])
  const grads = new Map<string, Float64Array>()
  for (const p of params) {
    const g = ctx.grad(p.tensor)
    grads.set(p.name, g ? ((await g.read()) as Float64Array) : new Float64Array(p.tensor.size))
  }
  ctx.dispose()
  expect([...grads.values()].some((g) => g.some((x) => x !== 0))).toBe(true)

  const originals = new Map<string, Float64Array>()
  for (const p of params) originals.set(p.name, (await p.tensor.read()) as Float64Array)
  const setAlong = (dir: Map<string, Float64Array>, eps: number) => {
    for (const p of params) {
      const base = originals.get(p.name)!
      const d = dir.get(p.name)
      cpu.write(p.tensor, d ? base.map((x, i) => x + eps * d[i]!) : base)
    }
  }
  const rng = new Rng(11)
  const failures: string[] = []
  const check = async (dir: Map<string, Float64Array>, what: string) => {
    const eps = 1e-5
    setAlong(dir, eps)
    const up = await lossOf(model, batch)
    setAlong(dir, -eps)
    const down = await lossOf(model, batch)
    setAlong(new Map(), 0)
    const numeric = (up - down) / (2 * eps)
    let analytic = 0
    for (const [name, d] of dir) d.forEach((x, i) => (analytic += x * grads.get(name)![i]!))
    // Central differences at eps = 1e-5 on a unit direction: rounding of the
    // loss (~1e-16 / eps) bounds the absolute error, curvature the relative one.
    const allowed = 1e-9 + 3e-5 * (Math.abs(numeric) + Math.abs(analytic))
    if (!(Math.abs(numeric - analytic) <= allowed))
      failures.push(
        `${what}: finite difference ${numeric}, tape ${analytic} (difference ${Math.abs(numeric - analytic).toExponential(2)}, allowed ${allowed.toExponential(2)})`,
      )
  }
  // Unit-norm directions, so eps is the real step whatever the parameter count.
  const randomDir = (names: string[]) => {
    const dir = new Map(names.map((n) => [n, Float64Array.from({ length: originals.get(n)!.length }, () => rng.normal())]))
    let sq = 0
    for (const d of dir.values()) for (const x of d) sq += x * x
    for (const d of dir.values()) d.forEach((x, i) => (d[i] = x / Math.sqrt(sq)))
    return dir
  }
  await check(randomDir(params.map((p) => p.name)), 'all parameters')
  for (const p of params) await check(randomDir([p.name]), p.name)
  model.dispose()
  return failures
}

describe('whole-model gradients through the tape (float64)', () => {
  for (const spec of presets()) {
    it(`${spec.preset}`, async () => {
      expect(await gradientMismatches(tiny(spec)), `${spec.preset}`).toEqual([])
    })
  }
})

describe('learned positions: gradients through the position table (float64)', () => {
  // T = 12 inputs, a table of 16 positions: rows 12..15 get no gradient, the rest do.
  for (const id of ['gated-deltanet', 'hybrid-gla', 'transformer']) {
    it(`${id} with position 'learned'`, async () => {
      const spec: ModelSpec = { ...tiny(presets().find((p) => p.preset === id)!), position: 'learned', max_positions: 16 }
      expect(await gradientMismatches(spec), id).toEqual([])
    })
  }
})

describe("the output norm's weight per head, the D skip before the norm, rotary linear layers: gradients (float64)", () => {
  const variants: [string, Partial<LinearLayer>][] = [
    ['mamba2', { output_norm_weight: 'per_head', shortcut: 'd_skip_before_norm' }],
    ['mamba2', { shortcut: 'd_skip_before_norm' }],
    ['retnet', { output_norm_weight: 'per_head' }],
    // RetNet's retention rotates q and k (after the feature map); with the delta rule, after l2norm
    ['retnet', { rotary: true }],
    ['gated-deltanet', { rotary: true }],
  ]
  for (const [id, over] of variants) {
    it(`${id} with ${JSON.stringify(over)}`, async () => {
      const spec = tiny(presets().find((p) => p.preset === id)!)
      const changed: ModelSpec = { ...spec, layers: spec.layers.map((l) => (l.kind === 'linear' ? { ...l, ...over } : l)) }
      expect(await gradientMismatches(changed), id).toEqual([])
    })
  }
})
