// The output norm's weight per head (output_norm_weight 'per_head', H·dv
// values) against the shared one (dv values for every head): with each head
// holding the shared weight the model computes the same logits, and the
// per-head gradient summed over heads is the shared gradient; a per-head
// model trains on the CPU and its heads' weights part ways. (fla's own
// Mamba2 checkpoints check the per-head weight and the D skip before the
// norm against fla: tests/node/interop-import.test.ts, LINEA_FLA_FIXTURES.)
import { describe, expect, it } from 'vitest'
import type { LinearLayer, ModelSpec } from '../../../electron/api/model-spec'
import { preset } from '../../../electron/api/presets'
import { resizeModel } from '../../../electron/api/resize'
import { Ctx } from '../../../electron/engine/autograd/context'
import { readCheckpoint } from '../../../electron/engine/checkpoint/checkpoint'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { Model } from '../../../electron/engine/model/model'
import { Rng } from '../../../electron/engine/random'
import { toDevice } from '../../../electron/engine/train/device-batch'
import { trainModel } from '../../../electron/engine/train/trainer'
import { quickTrainSpec } from '../../fixtures/runs'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const cpu = nativeBackend('cpu')
const [B, T, VOCAB, H, DV] = [2, 10, 24, 2, 4]

function batch(seed: number) {
  const rng = new Rng(seed)
  const inputs = Int32Array.from({ length: B * T }, () => rng.int(VOCAB))
  const labels = Int32Array.from({ length: B * T }, () => rng.int(VOCAB))
  return toDevice(cpu, { batchSize: B, seqLen: T, inputs, labels, tags: {} })
}

/** A tiny model of a preset, its linear layers changed by `over`. */
function tiny(id: string, over: Partial<LinearLayer>): ModelSpec {
  const s = resizeModel(preset(id), { d_model: 8, vocab_size: VOCAB, heads: H })
  return { ...s, layers: s.layers.map((l) => (l.kind === 'linear' ? { ...l, dk: 4, dv: DV, ...over } : l)) }
}

/** Logits, loss and every parameter's gradient, in float64. */
async function run(model: Model, b: ReturnType<typeof batch>) {
  const ctx = new Ctx(cpu, 'f64', true)
  try {
    const { logits } = model.loss(ctx, b)
    const out = (await logits.read()) as Float64Array
    ctx.backward([])
    const grads = new Map<string, Float64Array>()
    for (const p of model.params.trainable()) {
      const g = ctx.grad(p.tensor)
      grads.set(p.name, g ? ((await g.read()) as Float64Array) : new Float64Array(p.tensor.size))
    }
    return { logits: out, grads }
  } finally {
    ctx.dispose()
  }
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, x) => Math.max(m, Math.abs(x)), 0)

describe('per-head output norm weight against the shared one (float64, CPU)', () => {
  const cases: [string, string, Partial<LinearLayer>][] = [
    ['mamba2, rmsnorm, D skip before the norm', 'mamba2', { shortcut: 'd_skip_before_norm' }],
    ['mamba2, rmsnorm, D skip after the norm', 'mamba2', {}],
    ['gla, rmsnorm', 'gla', {}],
    ['retnet, groupnorm', 'retnet', {}],
  ]
  it.each(cases)('%s: equal heads give the shared logits, and the per-head gradient sums to the shared one', async (_name, id, over) => {
    const sharedSpec = tiny(id, over)
    const perSpec = tiny(id, { ...over, output_norm_weight: 'per_head' })
    const shared = new Model(sharedSpec, cpu, 'f64', 3)
    const per = new Model(perSpec, cpu, 'f64', 3)
    // the same parameters, the norm weight not ones (so the multiply shows), copied to every head
    const normNames: string[] = []
    for (const p of shared.params.list()) {
      let v = (await p.tensor.read()) as Float64Array
      if (p.name.endsWith('.o_norm.weight')) {
        normNames.push(p.name)
        v = Float64Array.from(v, (_, j) => 0.5 + 0.25 * j)
        cpu.write(p.tensor, v)
        expect(per.params.get(p.name).tensor.shape).toEqual([H * DV])
        cpu.write(
          per.params.get(p.name).tensor,
          Float64Array.from({ length: H * DV }, (_, c) => v[c % DV]!),
        )
      } else cpu.write(per.params.get(p.name).tensor, v)
    }
    expect(normNames.length).toBe(sharedSpec.layers.filter((l) => l.kind === 'linear').length)
    const b = batch(5)
    const a = await run(shared, b)
    const c = await run(per, b)
    expect(maxDiff(a.logits, c.logits)).toBeLessThanOrEqual(1e-12 * maxAbs(a.logits))
    for (const [name, g] of a.grads) {
      const gp = c.grads.get(name)!
      if (!normNames.includes(name)) {
        expect(maxDiff(g, gp), name).toBeLessThanOrEqual(1e-12 * (maxAbs(g) + 1e-30))
        continue
      }
      // d/dw_j of the shared weight = Σ_h d/dw_{h,j} of the per-head one
      const summed = Float64Array.from({ length: DV }, (_, j) => Array.from({ length: H }, (_, h) => gp[h * DV + j]!).reduce((x, y) => x + y, 0))
      expect(maxDiff(g, summed), name).toBeLessThanOrEqual(1e-12 * maxAbs(g))
      // and the heads get gradients of their own
      expect(maxDiff(gp.subarray(0, DV), gp.subarray(DV)), name).toBeGreaterThan(0)
    }
    shared.dispose()
    per.dispose()
  })

  it('a weight of another head changes only what that head reads: the multiply is head-major (h·dv + j)', async () => {
    const spec = tiny('mamba2', { shortcut: 'd_skip_before_norm', output_norm_weight: 'per_head' })
    const model = new Model({ ...spec, layers: [spec.layers[0]!] }, cpu, 'f64', 3)
    const w = model.params.get('layers.0.mixer.o_norm.weight').tensor
    const o = model.params.get('layers.0.mixer.o_proj').tensor // (d_model, H·dv)
    const oProj = (await o.read()) as Float64Array
    const b = batch(2)
    const base = (await run(model, b)).logits
    // zero o_proj's columns of head 1: the weights of head 1 then change nothing, those of head 0 do
    cpu.write(
      o,
      oProj.map((x, i) => (Math.floor((i % (H * DV)) / DV) === 1 ? 0 : x)),
    )
    const cut = (await run(model, b)).logits
    cpu.write(
      w,
      Float64Array.from({ length: H * DV }, (_, c) => (c >= DV ? 3 : 1)),
    )
    expect(maxDiff((await run(model, b)).logits, cut)).toBe(0)
    cpu.write(
      w,
      Float64Array.from({ length: H * DV }, (_, c) => (c < DV ? 3 : 1)),
    )
    expect(maxDiff((await run(model, b)).logits, cut)).toBeGreaterThan(1e-6)
    expect(maxDiff(base, cut)).toBeGreaterThan(0)
    model.dispose()
  })
})

describe('a per-head output norm weight trains', () => {
  it('mamba2 with per-head weights and the D skip before the norm: finite losses, the heads part ways', async () => {
    const base = resizeModel(preset('mamba2'), { d_model: 32, vocab_size: 64, heads: 2 })
    const modelSpec: ModelSpec = {
      ...base,
      layers: base.layers.map((l) => (l.kind === 'linear' ? { ...l, output_norm_weight: 'per_head', shortcut: 'd_skip_before_norm' } : l)),
    }
    const losses: number[] = []
    const outDir = mkdtempSync(join(tmpdir(), 'linea-norm-weight-'))
    const summary = await trainModel({
      modelSpec,
      trainSpec: quickTrainSpec({ steps: 6, eval: { every: 6, batches: 1 } }),
      backend: cpu,
      outDir,
      events: { onStep: (p) => losses.push(p.loss) },
    })
    expect(losses).toHaveLength(6)
    expect(losses.every(Number.isFinite)).toBe(true)
    const state = readCheckpoint(summary.checkpoint!)
    expect(state.modelSpec).toEqual(modelSpec)
    const layer = modelSpec.layers[0] as LinearLayer
    const w = state.tensors['layers.0.mixer.o_norm.weight']!
    const dv = layer.dv ?? 32 / layer.heads
    expect(w.shape).toEqual([layer.heads * dv])
    const head = (h: number) => Array.from(w.data.subarray(h * dv, (h + 1) * dv) as ArrayLike<number>)
    expect(head(0).some((x) => x !== 1)).toBe(true)
    expect(head(0)).not.toEqual(head(1))
  })
})
