// Captures one sequence's pass through a model, per layer and head: the
// mixer output, gates and β over time, ‖S_t‖ over time, S_t and its
// singular values at chosen steps, and the materialized attention matrix.
// Everything goes through backend ops (the layer's own mixer op), so every
// backend serves it; the host only slices, reduces and decomposes.
import { INSPECT_LIMITS, type HeadCapture, type LayerCapture } from '../../api/inspect'
import { layerSwitches } from '../../api/layer-label'
import { headDims } from '../../api/model-spec'
import { Ctx } from '../autograd/context'
import type { Backend } from '../backend'
import type { Model } from '../model/model'
import type { MixerTap } from '../model/taps'
import type { FloatDType } from '../tensor'
import { attentionMatrices, attentionStats } from './attention-matrix'
import { headRows, toHostSeq } from './host-tensors'
import { effectiveRank, singularValues } from './singular-values'
import { traceState } from './state-trace'
import { UserError } from '../../api/errors'

export class InspectLimitError extends UserError {
  override name = 'InspectLimitError'
}

export interface CaptureOptions {
  /** Heads to keep (0-based); default all. */
  heads?: readonly number[]
  /** Steps where S_t and its spectrum are kept; default 8 spread over T. */
  stateSteps?: readonly number[]
  maxAttentionT: number
  localWindow: number
}

export interface Capture {
  layers: LayerCapture[]
  /** Argmax of the logits at the labelled positions (−1 elsewhere). */
  predicted: Int32Array
  attentionSkipped?: string
}

/** Steps spread evenly over 0..T−1, always including the last. */
export function spreadSteps(T: number, count: number): number[] {
  if (T <= count) return Array.from({ length: T }, (_, t) => t)
  return [...new Set(Array.from({ length: count }, (_, j) => Math.round(((j + 1) * T) / count) - 1))]
}

/** Rounds to 5 significant digits: the JSON stays small and the pictures do not change. */
const r5 = (x: number) => (Number.isFinite(x) ? Number(x.toPrecision(5)) : x)

export function checkCaptureBounds(model: Model, T: number, o: CaptureOptions): { heads: number[][]; attention: boolean; skipped?: string } {
  if (T > INSPECT_LIMITS.maxT) throw new InspectLimitError(`the input has ${T} tokens; the inspector captures at most ${INSPECT_LIMITS.maxT}`)
  const heads = model.spec.layers.map((l) => {
    if (!o.heads) return Array.from({ length: l.heads }, (_, h) => h)
    for (const h of o.heads)
      if (h >= l.heads) throw new InspectLimitError(`heads: head ${h} does not exist; layer ${model.spec.layers.indexOf(l)} has heads 0..${l.heads - 1}`)
    return [...new Set(o.heads)].sort((a, b) => a - b)
  })
  for (const t of o.stateSteps ?? []) if (t >= T) throw new InspectLimitError(`stateSteps: step ${t} is past the input's last step ${T - 1}`)
  if (T > o.maxAttentionT)
    return { heads, attention: false, skipped: `attention maps are materialized up to T = ${o.maxAttentionT} (maxAttentionT); the input has ${T} tokens` }
  const values = heads.reduce((n, hs) => n + hs.length * T * T, 0)
  if (values > INSPECT_LIMITS.maxAttentionValues)
    throw new InspectLimitError(
      `attention maps for ${heads.reduce((n, hs) => n + hs.length, 0)} heads at T = ${T} hold ${values} values; the bound is ${INSPECT_LIMITS.maxAttentionValues}: choose fewer heads or lower maxAttentionT`,
    )
  return { heads, attention: true }
}

/** Runs `tokens` (one sequence) through the model and captures every layer. */
export async function captureSequence(
  model: Model,
  backend: Backend,
  dtype: FloatDType,
  tokens: Int32Array,
  labels: Int32Array,
  o: CaptureOptions,
): Promise<Capture> {
  const T = tokens.length
  const bounds = checkCaptureBounds(model, T, o)
  const taps: MixerTap[] = []
  const mixers = model.mixers()
  mixers.forEach((m, i) => (m.tap = (t: MixerTap) => (taps[i] = t)))
  const ctx = new Ctx(backend, dtype, false)
  const predicted = new Int32Array(T).fill(-1)
  try {
    const ids = ctx.own(backend.upload(tokens, [1, T]))
    const rows = [...labels.keys()].filter((t) => labels[t]! >= 0)
    if (rows.length > 0) {
      const rowIds = ctx.own(backend.upload(Int32Array.from(rows), [rows.length]))
      const rowLabels = ctx.own(
        backend.upload(
          Int32Array.from(rows, (t) => labels[t]!),
          [rows.length],
        ),
      )
      const logits = await model.logits(ctx, { ids, rows: rowIds, labels: rowLabels, count: rows.length }).read()
      const vocab = model.spec.vocab_size
      rows.forEach((t, m) => {
        let best = 0
        for (let c = 1; c < vocab; c++) if (logits[m * vocab + c]! > logits[m * vocab + best]!) best = c
        predicted[t] = best
      })
    } else {
      model.hidden(ctx, ids)
    }
    const stateSteps = o.stateSteps ? [...o.stateSteps] : spreadSteps(T, 8)
    const normSteps = spreadSteps(T, Math.min(T, 512))
    const layers: LayerCapture[] = []
    for (const [index, tap] of taps.entries()) {
      const spec = model.spec.layers[index]!
      const { dk, dv } = headDims(model.spec, spec)
      const keep = bounds.heads[index]!
      const out = await toHostSeq(tap.o)
      const heads: HeadCapture[] = keep.map((h) => ({ head: h, outputNorm: headRows(out, h).map((row) => r5(Math.hypot(...row))) }))
      const layer: LayerCapture = { index, kind: tap.kind, label: layerSwitches(spec), dk, dv, heads }
      if (tap.kind === 'linear') {
        await addGates(tap, keep, heads)
        const trace = await traceState(backend, tap, normSteps, stateSteps)
        layer.stateNormSteps = trace.steps
        keep.forEach((h, j) => {
          heads[j]!.stateNorm = trace.norms[h]!.map(r5)
          heads[j]!.snapshots = [...trace.snapshots.entries()].map(([t, states]) => {
            const singular = singularValues(states[h]!, dk, dv)
            return { t, dk, dv, values: Array.from(states[h]!, r5), singular: singular.map(r5), effectiveRank: r5(effectiveRank(singular)) }
          })
        })
      }
      if (bounds.attention) {
        const maps = await attentionMatrices(backend, tap)
        keep.forEach((h, j) => {
          heads[j]!.attention = Array.from(maps[h]!, r5)
          heads[j]!.attentionStats = attentionStats(maps[h]!, T, o.localWindow)
        })
      }
      layers.push(layer)
    }
    return { layers, predicted, attentionSkipped: bounds.skipped }
  } finally {
    for (const m of mixers) m.tap = undefined
    ctx.dispose()
  }
}

/** Decay a_t = exp(g_t) (mean and min over key dims for vector gates), input-gate weights and β, per kept head. */
async function addGates(tap: Extract<MixerTap, { kind: 'linear' }>, keep: number[], heads: HeadCapture[]): Promise<void> {
  const [, T, H] = tap.q.shape as [number, number, number, number]
  const dk = tap.q.shape[3]!
  if (tap.g) {
    const g = await tap.g.read()
    const gate = tap.attrs.gate
    keep.forEach((h, j) => {
      const decay: number[] = []
      const decayMin: number[] = []
      for (let t = 0; t < T; t++) {
        if (gate === 'fixed') decay.push(Math.exp(g[h]!))
        else if (gate === 'scalar') decay.push(Math.exp(g[t * H + h]!))
        else {
          let sum = 0
          let min = Infinity
          for (let d = 0; d < dk; d++) {
            const a = Math.exp(g[(t * H + h) * dk + d]!)
            sum += a
            min = Math.min(min, a)
          }
          decay.push(sum / dk)
          decayMin.push(r5(min))
        }
      }
      heads[j]!.decay = decay.map(r5)
      if (decayMin.length) heads[j]!.decayMin = decayMin
    })
  }
  if (tap.i) {
    const i = await tap.i.read()
    const w = { sigmoid: (x: number) => 1 / (1 + Math.exp(-x)), softplus: (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x))), exp: Math.exp }[
      tap.attrs.input_gate as 'sigmoid' | 'softplus' | 'exp'
    ]
    keep.forEach((h, j) => (heads[j]!.inputGate = Array.from({ length: T }, (_, t) => r5(w(i[t * H + h]!)))))
  }
  if (tap.beta) {
    const beta = await tap.beta.read()
    keep.forEach((h, j) => (heads[j]!.beta = Array.from({ length: T }, (_, t) => r5(beta[t * H + h]!))))
  }
}
