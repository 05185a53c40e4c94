// Initialization per scheme: the empirical std of each kind of weight
// against the scheme's formula, written out here (not read from the code
// under test), and the parameters each architecture initializes its own way.
import { describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../../electron/api/model-spec'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { Model } from '../../../electron/engine/model/model'
import { glaLayer, modelSpec, softmaxLayer } from '../../fixtures/specs'

const cpu = nativeBackend('cpu')
const D = 256
const LAYERS = 2

/** A linear (GLA) layer and a softmax layer, MLP 4x, an untied head, learned positions: every kind of weight. */
function wide(overrides: Partial<ModelSpec> = {}): ModelSpec {
  return modelSpec({
    d_model: D,
    vocab_size: 512,
    mlp_expansion: 4,
    tie_embeddings: false,
    hybrid: { ratio: 0.5, placement: 'manual' },
    layers: [glaLayer({ heads: 4 }), softmaxLayer({ heads: 4 })],
    position: 'learned',
    max_positions: 256,
    ...overrides,
  })
}

async function values(model: Model, name: string): Promise<Float64Array> {
  return (await model.params.get(name).tensor.read()) as Float64Array
}

function std(x: Float64Array): number {
  let mean = 0
  for (const v of x) mean += v
  mean /= x.length
  let sq = 0
  for (const v of x) sq += (v - mean) ** 2
  return Math.sqrt(sq / x.length)
}

const maxAbs = (x: Float64Array) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)

/** Sample std within 5% of the formula (65k or more values: the sampling error is ~0.3%). */
async function expectStd(model: Model, name: string, expected: number): Promise<void> {
  const s = std(await values(model, name))
  expect(Math.abs(s - expected) / expected, `${name}: std ${s.toExponential(3)}, formula ${expected.toExponential(3)}`).toBeLessThan(0.05)
}

describe('initialization schemes', () => {
  it("fan_in: PyTorch's defaults, U(±1/√fan_in) for every projection with no depth shrink, N(0, 1) embeddings", async () => {
    const model = new Model(wide({ init: 'fan_in' }), cpu, 'f64', 1)
    const linear = 1 / Math.sqrt(3 * D) // fan_in = d_model (q, k, v, gates, MLP up, head)
    for (const name of [
      'layers.0.mixer.q_proj',
      'layers.0.mixer.k_proj',
      'layers.0.mixer.v_proj',
      'layers.0.mixer.g_proj',
      'layers.1.attn.q_proj',
      'layers.0.mlp.gate_proj',
      'lm_head.weight',
    ])
      await expectStd(model, name, linear)
    // Output projections: fan_in = heads · dv = d_model; the MLP's down: fan_in = 4 · d_model. No 1/√(2·layers).
    await expectStd(model, 'layers.0.mixer.o_proj', linear)
    await expectStd(model, 'layers.1.attn.o_proj', linear)
    await expectStd(model, 'layers.1.mlp.down_proj', 1 / Math.sqrt(3 * 4 * D))
    // Uniform: nothing beyond the bound 1/√fan_in.
    expect(maxAbs(await values(model, 'layers.0.mixer.q_proj'))).toBeLessThanOrEqual(1 / Math.sqrt(D))
    expect(maxAbs(await values(model, 'layers.0.mixer.q_proj'))).toBeGreaterThan(0.95 / Math.sqrt(D))
    await expectStd(model, 'embed.weight', 1)
    await expectStd(model, 'pos_embed.weight', 1)
    model.dispose()
  })

  it('fan_in with a tied head: embedding rows N(0, 1/√d_model), so logits start at unit scale', async () => {
    const model = new Model(wide({ init: 'fan_in', tie_embeddings: true }), cpu, 'f64', 1)
    await expectStd(model, 'embed.weight', 1 / Math.sqrt(D))
    await expectStd(model, 'pos_embed.weight', 1 / Math.sqrt(D))
    expect(model.params.list().some((p) => p.name === 'lm_head.weight')).toBe(false)
    model.dispose()
  })

  it('gpt2: N(0, 0.02) everywhere, output projections N(0, 0.02/√(2·layers))', async () => {
    const model = new Model(wide({ init: 'gpt2' }), cpu, 'f64', 1)
    for (const name of [
      'layers.0.mixer.q_proj',
      'layers.0.mixer.v_proj',
      'layers.1.attn.k_proj',
      'layers.0.mlp.up_proj',
      'lm_head.weight',
      'embed.weight',
      'pos_embed.weight',
    ])
      await expectStd(model, name, 0.02)
    for (const name of ['layers.0.mixer.o_proj', 'layers.1.attn.o_proj', 'layers.0.mlp.down_proj']) await expectStd(model, name, 0.02 / Math.sqrt(2 * LAYERS))
    model.dispose()
  })

  it('a spec without init starts as fan_in (the default), bit for bit', async () => {
    const spec = wide({ init: 'fan_in' })
    delete spec.init
    const implicit = new Model(spec, cpu, 'f64', 4)
    const explicit = new Model(wide({ init: 'fan_in' }), cpu, 'f64', 4)
    const bytes = async (m: Model, name: string) => Buffer.from((await values(m, name)).buffer)
    for (const p of explicit.params.list()) expect((await bytes(implicit, p.name)).equals(await bytes(explicit, p.name)), p.name).toBe(true)
    implicit.dispose()
    explicit.dispose()
  })

  it("fan_in starts every scalar forget gate remembering: A = 1, dt = 1e-3, the slow end of Mamba2's ranges", async () => {
    const mamba = glaLayer({ heads: 8, forget_gate: 'scalar', input_gate: 'softplus', output_norm: 'none', shortcut: 'd_skip', short_conv: 4 })
    const writeOnly = glaLayer({ heads: 8, forget_gate: 'none', input_gate: 'softplus' })
    const model = new Model(wide({ init: 'fan_in', mlp_expansion: 0, position: 'none', max_positions: undefined, layers: [mamba, writeOnly] }), cpu, 'f64', 2)
    expect(Array.from(await values(model, 'layers.0.mixer.A_log'))).toEqual(new Array(8).fill(0))
    for (const b of await values(model, 'layers.0.mixer.dt_bias')) expect(Math.log1p(Math.exp(b))).toBeCloseTo(1e-3, 12)
    // dt only as a write strength (no forget gate): Mamba2's draw
    const dt = Array.from(await values(model, 'layers.1.mixer.dt_bias'), (b) => Math.log1p(Math.exp(b)))
    expect(new Set(dt.map((x) => x.toFixed(9))).size).toBe(8)
    expect(dt.every((x) => x >= 1e-3 * (1 - 1e-9) && x <= 0.1 * (1 + 1e-9))).toBe(true)
    model.dispose()
  })

  it("keeps each architecture's own parameters: Mamba2's A_log and dt draw (gpt2), GLA's gate, RetNet's decays", async () => {
    const mamba = glaLayer({ heads: 8, forget_gate: 'scalar', input_gate: 'softplus', output_norm: 'none', shortcut: 'd_skip', short_conv: 4 })
    const retnet = glaLayer({ heads: 4, forget_gate: 'fixed', output_norm: 'groupnorm' })
    for (const init of ['fan_in', 'gpt2'] as const) {
      const model = new Model(
        wide({ init, mlp_expansion: 0, position: 'none', max_positions: undefined, layers: [glaLayer({ heads: 4 }), mamba, retnet] }),
        cpu,
        'f64',
        2,
      )
      // A ∈ [1, 16]: A_log = log A
      const aLog = await values(model, 'layers.1.mixer.A_log')
      expect(aLog.every((x) => x >= 0 && x <= Math.log(16))).toBe(true)
      if (init === 'gpt2') expect(new Set(aLog).size).toBe(8)
      // dt = softplus(dt_bias) ∈ [1e-3, 0.1]
      const dt = Array.from(await values(model, 'layers.1.mixer.dt_bias'), (b) => Math.log1p(Math.exp(b)))
      expect(
        dt.every((x) => x >= 1e-3 * (1 - 1e-9) && x <= 0.1 * (1 + 1e-9)),
        `dt ${dt}`,
      ).toBe(true)
      // GLA's low-rank gate: xavier-uniform with gain 2^-2.5, bound gain·√(6 / (fan_in + fan_out))
      const down = await values(model, 'layers.0.mixer.gk_proj.0.weight')
      const bound = 2 ** -2.5 * Math.sqrt(6 / (D + 16))
      expect(maxAbs(down)).toBeLessThanOrEqual(bound)
      expect(maxAbs(down)).toBeGreaterThan(0.9 * bound)
      // RetNet: γ_h = 1 − 2^(−5−h)
      expect(Array.from(await values(model, 'layers.2.mixer.log_decay'))).toEqual([0, 1, 2, 3].map((h) => Math.log(1 - 2 ** (-5 - h))))
      // D skip starts at 1, short-conv kernels U(±1/√4)
      expect((await values(model, 'layers.1.mixer.D')).every((x) => x === 1)).toBe(true)
      expect(maxAbs(await values(model, 'layers.1.mixer.q_conv.weight'))).toBeLessThanOrEqual(0.5)
      model.dispose()
    }
  })
})
