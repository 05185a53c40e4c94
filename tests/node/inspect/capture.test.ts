// The inspector's numbers, checked against the model's own outputs and an
// independent reference: for every preset (every mixer kind, softmax layers
// of hybrids included) the materialized attention matrix times V equals the
// layer's output and matches a float64 recurrence; the captured S_t equals
// the state the chunked form carries at chunk boundaries.
import { describe, expect, it } from 'vitest'
import { resizeModel } from '../../../electron/api/resize'
import { Ctx } from '../../../electron/engine/autograd/context'
import { attentionMatrices, attentionStats } from '../../../electron/engine/inspect/attention-matrix'
import { captureSequence, InspectLimitError, spreadSteps } from '../../../electron/engine/inspect/capture'
import { toHostSeq, uploadSteps } from '../../../electron/engine/inspect/host-tensors'
import { effectiveRank, singularValues } from '../../../electron/engine/inspect/singular-values'
import { traceState } from '../../../electron/engine/inspect/state-trace'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { Model } from '../../../electron/engine/model/model'
import type { LinearMixerTap, MixerTap } from '../../../electron/engine/model/taps'
import { presets } from '../../../electron/api/presets'
import { Rng } from '../../../electron/engine/random'
import type { FloatDType } from '../../../electron/engine/tensor'
import { referenceMatrix, referenceSoftmax } from './mixer-reference'

const cpu = nativeBackend('cpu')
const VOCAB = 40

function smallModel(id: string, dtype: FloatDType, seed = 3): Model {
  const spec = presets().find((p) => p.preset === id)!
  const small = resizeModel(spec, { d_model: 16, vocab_size: VOCAB, heads: 2, n_layers: spec.layers.some((l) => l.kind === 'softmax') ? 2 : 1 })
  for (const layer of small.layers) if (layer.kind === 'softmax' && layer.window !== null) layer.window = 7
  return new Model(small, cpu, dtype, seed)
}

function tokens(T: number, seed: number): Int32Array {
  const rng = new Rng(seed)
  return Int32Array.from({ length: T }, () => rng.int(VOCAB))
}

/** Runs the model on one sequence with taps on every mixer; `use` sees the taps while the pass's tensors are alive. */
async function withTaps<R>(model: Model, ids: Int32Array, use: (taps: MixerTap[]) => Promise<R>): Promise<R> {
  const taps: MixerTap[] = []
  model.mixers().forEach((m, i) => (m.tap = (t: MixerTap) => (taps[i] = t)))
  const ctx = new Ctx(cpu, model.dtype, false)
  try {
    model.hidden(ctx, ctx.own(cpu.upload(ids, [1, ids.length])))
    return await use(taps)
  } finally {
    model.mixers().forEach((m) => (m.tap = undefined))
    ctx.dispose()
  }
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, x) => Math.max(m, Math.abs(x)), 0)

describe('materialized attention (float64, T = 37)', () => {
  for (const spec of presets()) {
    it(`${spec.preset}: M v equals the mixer output, and M matches the reference`, async () => {
      const model = smallModel(spec.preset!, 'f64')
      const T = 37
      await withTaps(model, tokens(T, 11), async (taps) => {
        expect(taps).toHaveLength(model.spec.layers.length)
        for (const tap of taps) {
          const [, , H, D] = tap.q.shape as number[]
          const dv = tap.v.shape[3]!
          const maps = await attentionMatrices(cpu, tap)
          const v = (await tap.v.read()) as Float64Array
          const o = (await tap.o.read()) as Float64Array
          const q = await tap.q.read()
          const k = await tap.k.read()
          const host =
            tap.kind === 'linear'
              ? { T, H: H!, dk: D!, q, k, g: await tap.g?.read(), i: await tap.i?.read(), beta: await tap.beta?.read(), attrs: tap.attrs }
              : undefined
          for (let h = 0; h < H!; h++) {
            const M = maps[h]!
            // causal: nothing above the diagonal
            for (let t = 0; t < T; t++) for (let s = t + 1; s < T; s++) expect(M[t * T + s]).toBe(0)
            let err = 0
            for (let t = 0; t < T; t++)
              for (let c = 0; c < dv; c++) {
                let mv = 0
                for (let s = 0; s <= t; s++) mv += M[t * T + s]! * v[(s * H! + h) * dv + c]!
                err = Math.max(err, Math.abs(mv - o[(t * H! + h) * dv + c]!))
              }
            expect(err, `layer ${tap.kind} head ${h}: |M v − o|`).toBeLessThan(1e-10 * Math.max(1, maxAbs(o)))
            const ref = tap.kind === 'linear' ? referenceMatrix(host!, h) : referenceSoftmax(q, k, T, H!, D!, h, tap.window)
            let refErr = 0
            for (let j = 0; j < T * T; j++) refErr = Math.max(refErr, Math.abs(M[j]! - ref[j]!))
            expect(refErr, `layer ${tap.kind} head ${h}: |M − reference|`).toBeLessThan(1e-9 * Math.max(1, maxAbs(ref)))
          }
        }
      })
    })
  }

  it('works in float32 too, and the rows of a softmax layer sum to 1', async () => {
    const model = smallModel('hybrid-gla', 'f32')
    await withTaps(model, tokens(50, 2), async (taps) => {
      const soft = taps.find((t) => t.kind === 'softmax')!
      const [M] = await attentionMatrices(cpu, soft)
      for (let t = 0; t < 50; t++) {
        let sum = 0
        for (let s = 0; s < 50; s++) sum += M![t * 50 + s]!
        expect(sum).toBeCloseTo(1, 5)
      }
      const linear = taps.find((t) => t.kind === 'linear')!
      const o = await linear.o.read()
      const v = await linear.v.read()
      const [, , H] = linear.q.shape as number[]
      const dv = linear.v.shape[3]!
      const [M0] = await attentionMatrices(cpu, linear)
      let err = 0
      for (let t = 0; t < 50; t++) {
        let mv = 0
        for (let s = 0; s <= t; s++) mv += M0![t * 50 + s]! * v[s * H! * dv]!
        err = Math.max(err, Math.abs(mv - o[t * H! * dv]!))
      }
      expect(err).toBeLessThan(1e-4 * Math.max(1, maxAbs(o)))
    })
  })
})

describe('captured state', () => {
  for (const id of ['gla', 'gated-deltanet', 'mlstm', 'retnet', 'deltanet-negative-eigen']) {
    it(`${id}: S_t equals the state the chunked form carries at chunk boundaries`, async () => {
      const model = smallModel(id, 'f64')
      const T = 64 * 3 + 5
      await withTaps(model, tokens(T, 4), async (taps) => {
        const tap = taps.find((t): t is LinearMixerTap => t.kind === 'linear')!
        const boundaries = [63, 127, 191]
        const trace = await traceState(cpu, tap, spreadSteps(T, 20), boundaries)
        const hosts = await Promise.all(
          [tap.q, tap.k, tap.v, tap.attrs.gate === 'fixed' ? undefined : tap.g, tap.i, tap.beta].map(async (t) => (t ? toHostSeq(t) : undefined)),
        )
        for (const t of boundaries) {
          const [q, k, v, g, i, beta] = hosts.map((x) => (x ? uploadSteps(cpu, x, 0, t + 1) : undefined))
          const want = ['s_final', ...(tap.attrs.input_gate === 'exp' ? ['m_final'] : [])]
          const out = cpu.run(
            'mixer_fwd',
            { q, k, v, g: tap.attrs.gate === 'fixed' ? tap.g : g, i, beta },
            { ...tap.attrs, form: 'chunked', chunk_size: 64 },
            want,
          )
          const s = await out.s_final!.read()
          const m = out.m_final ? await out.m_final.read() : undefined
          const [, , H, dk] = tap.q.shape as number[]
          const dv = tap.v.shape[3]!
          for (let h = 0; h < H!; h++) {
            const captured = trace.snapshots.get(t)![h]!
            const scale = m ? Math.exp(m[h]!) : 1
            let err = 0
            for (let j = 0; j < dk! * dv; j++) err = Math.max(err, Math.abs(captured[j]! - s[h * dk! * dv + j]! * scale))
            expect(err, `t=${t} head ${h}`).toBeLessThan(1e-10 * Math.max(1, maxAbs(captured)))
            expect(maxAbs(captured)).toBeGreaterThan(0)
          }
          for (const x of [q, k, v, g, i, beta, ...Object.values(out)]) x?.dispose()
        }
        // norms at every traced step, the snapshot steps among them
        expect(trace.steps).toEqual([...new Set([...spreadSteps(T, 20), ...boundaries])].sort((a, b) => a - b))
        for (const norms of trace.norms) expect(norms.every((n) => Number.isFinite(n) && n >= 0)).toBe(true)
      })
    })
  }
})

describe('singular values', () => {
  it('match a known spectrum: U diag(σ) Vᵀ built from rotations, tall and wide', () => {
    const sigma = [5, 2, 0.5, 1e-6]
    // A = R1 [diag(σ); 0] R2 with Givens rotations R1 (6×6) and R2 (4×4)
    const rows = 6
    const cols = 4
    const a = Array.from({ length: rows * cols }, (_, j) => (Math.floor(j / cols) === j % cols ? sigma[j % cols]! : 0))
    const rotateRows = (p: number, q: number, th: number) => {
      for (let c = 0; c < cols; c++) {
        const x = a[p * cols + c]!
        const y = a[q * cols + c]!
        a[p * cols + c] = Math.cos(th) * x - Math.sin(th) * y
        a[q * cols + c] = Math.sin(th) * x + Math.cos(th) * y
      }
    }
    const rotateCols = (p: number, q: number, th: number) => {
      for (let r = 0; r < rows; r++) {
        const x = a[r * cols + p]!
        const y = a[r * cols + q]!
        a[r * cols + p] = Math.cos(th) * x - Math.sin(th) * y
        a[r * cols + q] = Math.sin(th) * x + Math.cos(th) * y
      }
    }
    rotateRows(0, 5, 0.7)
    rotateRows(1, 3, -1.1)
    rotateRows(2, 4, 0.3)
    rotateCols(0, 3, 0.9)
    rotateCols(1, 2, 2.1)
    const got = singularValues(a, rows, cols)
    sigma.forEach((s, j) => expect(got[j]).toBeCloseTo(s, 12))
    const wide = Array.from({ length: cols * rows }, (_, j) => a[(j % rows) * cols + Math.floor(j / rows)]!) // the transpose
    singularValues(wide, cols, rows).forEach((s, j) => expect(s).toBeCloseTo(sigma[j]!, 12))
  })

  it('effective rank is 1 for rank one and n for a flat spectrum', () => {
    expect(effectiveRank([3, 0, 0])).toBeCloseTo(1, 12)
    expect(effectiveRank([2, 2, 2, 2])).toBeCloseTo(4, 12)
    expect(effectiveRank([0, 0])).toBe(0)
  })
})

describe('attention statistics', () => {
  it('sink, locality and entropy of known maps', () => {
    const T = 5
    const sink = new Float64Array(T * T)
    for (let t = 0; t < T; t++) sink[t * T] = 1
    expect(attentionStats(sink, T, 2)).toEqual({ entropy: 0, sinkMass: 1, localMass: 0.25, window: 2 }) // row 1 has key 0 within its last 2
    const uniform = new Float64Array(T * T)
    for (let t = 0; t < T; t++) for (let s = 0; s <= t; s++) uniform[t * T + s] = 1 / (t + 1)
    const u = attentionStats(uniform, T, 1)
    expect(u.entropy).toBeCloseTo((Math.log(2) + Math.log(3) + Math.log(4) + Math.log(5)) / 4, 12)
    expect(u.sinkMass).toBeCloseTo((1 / 2 + 1 / 3 + 1 / 4 + 1 / 5) / 4, 12)
  })
})

describe('captureSequence', () => {
  it('captures every layer and head with predictions, traces and maps', async () => {
    const model = smallModel('hybrid-gated-deltanet', 'f32')
    const T = 48
    const ids = tokens(T, 9)
    const labels = Int32Array.from({ length: T }, (_, t) => (t % 3 === 2 ? ids[(t + 1) % T]! : -1))
    const c = await captureSequence(model, cpu, 'f32', ids, labels, { maxAttentionT: 64, localWindow: 4, stateSteps: [0, 20, 47] })
    expect(c.layers.map((l) => l.kind)).toEqual(model.spec.layers.map((l) => l.kind))
    expect([...c.predicted].filter((p, t) => (labels[t]! >= 0 ? p >= 0 && p < VOCAB : p === -1))).toHaveLength(T)
    for (const layer of c.layers) {
      expect(layer.heads.map((h) => h.head)).toEqual([0, 1])
      for (const h of layer.heads) {
        expect(h.outputNorm).toHaveLength(T)
        expect(h.attention).toHaveLength(T * T)
        expect(h.attentionStats!.window).toBe(4)
        if (layer.kind === 'linear') {
          expect(h.beta).toHaveLength(T)
          expect(h.decay).toHaveLength(T)
          expect(h.beta!.every((b) => b > 0 && b < 1)).toBe(true)
          expect(h.snapshots!.map((s) => s.t)).toEqual([0, 20, 47])
          expect(h.snapshots![0]!.values).toHaveLength(layer.dk * layer.dv)
          expect(h.snapshots![2]!.singular).toHaveLength(Math.min(layer.dk, layer.dv))
          expect(layer.stateNormSteps).toHaveLength(h.stateNorm!.length)
        }
      }
    }
    // the taps are removed afterwards
    expect(model.mixers().every((m) => m.tap === undefined)).toBe(true)
  })

  it('leaves attention out past maxAttentionT and refuses requests beyond the bounds', async () => {
    const model = smallModel('gla', 'f32')
    const c = await captureSequence(model, cpu, 'f32', tokens(40, 1), new Int32Array(40).fill(-1), { maxAttentionT: 32, localWindow: 4 })
    expect(c.attentionSkipped).toMatch(/up to T = 32.*40 tokens/)
    expect(c.layers[0]!.heads[0]!.attention).toBeUndefined()
    expect(c.layers[0]!.heads[0]!.snapshots).toHaveLength(8)
    await expect(
      captureSequence(model, cpu, 'f32', tokens(40, 1), new Int32Array(40).fill(-1), { maxAttentionT: 64, localWindow: 4, heads: [2] }),
    ).rejects.toThrow(/head 2 does not exist; layer 0 has heads 0..1/)
    await expect(
      captureSequence(model, cpu, 'f32', tokens(40, 1), new Int32Array(40).fill(-1), { maxAttentionT: 64, localWindow: 4, stateSteps: [40] }),
    ).rejects.toThrow(InspectLimitError)
  })
})
