// What a researcher reads first on the Inspect screen: a few sentences that
// turn an inspection's numbers into answers (which queries the model misses
// and why: the state forgets far keys, runs out of room, decays too fast,
// attention sinks or spreads out; how far past its trained length it holds).
// Pure: each sentence comes from numbers in the InspectResult, and every
// threshold is named here, compared against what a uniform (untrained)
// pattern would give where that matters.
import { modelPosition, type PositionKind } from '../../../electron/api/model-spec'
import type {
  AttentionStats,
  HeadCapture,
  InspectInput,
  InspectResult,
  LayerCapture,
  LengthCurve,
  RecallAnalysis,
  RecallCell,
} from '../../../electron/api/inspect'

export type FindingTopic = 'example' | 'recall' | 'capacity' | 'attention' | 'state' | 'gates' | 'length'

export interface Finding {
  topic: FindingTopic
  /** 'problem': a reason the model fails; 'note': how it works. */
  severity: 'problem' | 'note'
  text: string
}

/** A drop this large (in accuracy) between near and far, or few and many pairs, is worth a sentence. */
export const MEANINGFUL_DROP = 0.3
/** Grid cells with fewer queries than this are too noisy to compare. */
export const MIN_CELL_COUNT = 8
/** Accuracy within this of the trained length's still "holds". */
export const LENGTH_TOLERANCE = 0.05
/** A head puts at least this share on token 0, and SINK_OVER_UNIFORM× what spreading evenly would. */
export const SINK_MASS = 0.3
export const SINK_OVER_UNIFORM = 3
/** A head keeps at least this share within its last w keys. */
export const LOCAL_MASS = 0.9
/** Mean entropy at least this fraction of the uniform row's: spread out. */
export const SPREAD_ENTROPY = 0.9
/** Effective rank reaching this fraction of min(dk, dv) fills the state; below LOW_RANK it uses few directions. */
export const FULL_RANK = 0.6
export const LOW_RANK = 0.25
/** Sentences per topic before "and N more". */
export const MAX_PER_TOPIC = 3

const acc = (x: number) => x.toFixed(2)
const pct = (x: number) => `${Math.round(100 * x)}%`
const cellsAccuracy = (cells: RecallCell[]) => {
  const count = cells.reduce((n, c) => n + c.count, 0)
  return { count, accuracy: count ? cells.reduce((n, c) => n + c.correct, 0) / count : NaN }
}
/** The largest number in a bucket label such as "8–15". */
const upperBound = (label: string) => Number(label.match(/\d+/g)?.at(-1) ?? NaN)
const headName = (layer: Pick<LayerCapture, 'index'>, head: Pick<HeadCapture, 'head'>) => `Layer ${layer.index} head ${head.head}`

// ---- recall ----------------------------------------------------------------

/** The row of the grid to read: the trained number of pairs when it was measured, else all rows pooled. */
function recallRow(r: RecallAnalysis): { cells: RecallCell[]; what: string } {
  const j = r.numKvPairs.indexOf(r.trainedNumKvPairs)
  if (j >= 0) return { cells: r.byDistance[j]!, what: `${r.trainedNumKvPairs} pairs, as trained` }
  return {
    cells: r.distanceBuckets.map((_, b) => ({
      correct: r.byDistance.reduce((n, row) => n + row[b]!.correct, 0),
      count: r.byDistance.reduce((n, row) => n + row[b]!.count, 0),
    })),
    what: 'all pair counts',
  }
}

/**
 * Queries whose key also occurs earlier as noise, against the others (at the
 * trained number of pairs): a large gap means the model reads the wrong
 * occurrence of the key, which a position signal resolves.
 */
export function diagnoseKeyInNoise(r: RecallAnalysis, position?: PositionKind): Finding[] {
  const j = r.numKvPairs.indexOf(r.trainedNumKvPairs)
  const row = r.byKeyInNoise?.[j]
  if (!row || row.length < 2) return []
  const clean = cellsAccuracy([row[0]!])
  const noisy = cellsAccuracy([row[1]!])
  if (clean.count < MIN_CELL_COUNT || noisy.count < MIN_CELL_COUNT) return []
  if (clean.accuracy - noisy.accuracy < MEANINGFUL_DROP / 3) return []
  return [
    {
      topic: 'recall',
      severity: 'problem',
      text: `Queries whose key also occurs earlier as noise are recalled at ${acc(noisy.accuracy)}, the others at ${acc(clean.accuracy)} (${noisy.count} and ${clean.count} queries): the model cannot tell which occurrence of a key holds its value${position === 'learned' ? '' : `; learned positions (this model's position is '${position ?? 'none'}') tell them apart`}`,
    },
  ]
}

/** Recall against query–key distance: the split into near and far with the largest drop. */
export function diagnoseRecallDistance(r: RecallAnalysis): Finding[] {
  const { cells, what } = recallRow(r)
  const filled = cells.map((c, b) => ({ c, b })).filter(({ c }) => c.count >= MIN_CELL_COUNT)
  if (filled.length === 0) return []
  let best: { near: number; far: number; bound: number } | undefined
  for (let k = 0; k < filled.length - 1; k++) {
    const near = cellsAccuracy(filled.slice(0, k + 1).map((x) => x.c)).accuracy
    const far = cellsAccuracy(filled.slice(k + 1).map((x) => x.c)).accuracy
    if (!best || near - far > best.near - best.far) best = { near, far, bound: upperBound(r.distanceBuckets[filled[k]!.b]!) }
  }
  if (best && best.near - best.far >= MEANINGFUL_DROP)
    return [
      {
        topic: 'recall',
        severity: 'problem',
        text: `Recall falls from ${acc(best.near)} at distance ≤${best.bound} to ${acc(best.far)} beyond ${best.bound} (${what}): the state forgets long-range pairs`,
      },
    ]
  const overall = cellsAccuracy(filled.map((x) => x.c)).accuracy
  return [
    overall >= 0.9
      ? { topic: 'recall', severity: 'note', text: `Recall is ${acc(overall)} at every query–key distance (${what})` }
      : {
          topic: 'recall',
          severity: 'problem',
          text: `Recall is ${acc(overall)} whether the key is near or far (${what}): the model misses pairs at every distance`,
        },
  ]
}

/** Recall against the number of pairs the state must hold. */
export function diagnoseRecallCapacity(r: RecallAnalysis): Finding[] {
  const rows = r.numKvPairs.map((n, j) => ({ n, ...cellsAccuracy(r.byDistance[j]!) })).filter((x) => x.count >= MIN_CELL_COUNT)
  if (rows.length < 2) return []
  const few = rows[0]!
  const many = rows.at(-1)!
  if (few.accuracy - many.accuracy < MEANINGFUL_DROP) return []
  // The first count where accuracy has lost at least half of the drop.
  const knee = rows.find((x) => few.accuracy - x.accuracy >= (few.accuracy - many.accuracy) / 2)!
  return [
    {
      topic: 'capacity',
      severity: 'problem',
      text: `Recall drops from ${acc(few.accuracy)} with ${few.n} pair${few.n > 1 ? 's' : ''} to ${acc(many.accuracy)} with ${many.n} (trained on ${r.trainedNumKvPairs}; below ${acc((few.accuracy + many.accuracy) / 2)} from ${knee.n}): the state runs out of room`,
    },
  ]
}

// ---- the example -----------------------------------------------------------

export interface QueryOutcome {
  query: number
  key: number
  value: number
  expected: number
  predicted: number
  right: boolean
}

/** Each MQAR query of the example: where its key sits, the value asked for and the model's answer. */
export function queryOutcomes(input: InspectInput): QueryOutcome[] {
  return (input.pairs ?? [])
    .map((p) => ({ ...p, expected: input.labels[p.query]!, predicted: input.predicted[p.query]! }))
    .map((q) => ({ ...q, right: q.expected === q.predicted }))
    .sort((a, b) => a.query - b.query)
}

export function diagnoseExample(input: InspectInput): Finding[] {
  const queries = queryOutcomes(input)
  if (queries.length) {
    const missed = queries.filter((q) => !q.right)
    const detail = missed
      .slice(0, 3)
      .map((q) => `at ${q.query} (key at ${q.key}, ${q.query - q.key} back) said ${q.predicted} for ${q.expected}`)
      .join('; ')
    return [
      {
        topic: 'example',
        severity: missed.length ? 'problem' : 'note',
        text: `This example: ${queries.length - missed.length} of ${queries.length} queries right${missed.length ? `; missed ${detail}${missed.length > 3 ? '; …' : ''}` : ''}`,
      },
    ]
  }
  const labelled = input.labels.map((l, t) => ({ l, t })).filter(({ l }) => l >= 0)
  if (!labelled.length) return []
  const right = labelled.filter(({ l, t }) => input.predicted[t] === l).length
  return [
    {
      topic: 'example',
      severity: right === labelled.length ? 'note' : 'problem',
      text: `This example: ${right} of ${labelled.length} labelled positions right`,
    },
  ]
}

// ---- attention -------------------------------------------------------------

/**
 * What a head that spreads evenly over keys 0..t would show, averaged over
 * queries 1 ≤ t < T as the engine averages (query 0 has only one key).
 */
export function uniformAttentionStats(T: number, window: number): Omit<AttentionStats, 'window'> {
  let sink = 0
  let local = 0
  let entropy = 0
  for (let t = 1; t < T; t++) {
    sink += 1 / (t + 1)
    local += Math.min(t + 1, window) / (t + 1)
    entropy += Math.log(t + 1)
  }
  const rows = Math.max(1, T - 1)
  return { sinkMass: sink / rows, localMass: local / rows, entropy: entropy / rows }
}

export function diagnoseAttention(layers: LayerCapture[], T: number): Finding[] {
  const out: Finding[] = []
  for (const layer of layers)
    for (const head of layer.heads) {
      const s = head.attentionStats
      if (!s) continue
      const uniform = uniformAttentionStats(T, s.window)
      const name = headName(layer, head)
      if (s.sinkMass >= SINK_MASS && s.sinkMass >= SINK_OVER_UNIFORM * uniform.sinkMass)
        out.push({ topic: 'attention', severity: 'note', text: `${name} puts ${pct(s.sinkMass)} of its mass on the first token (attention sink)` })
      else if (s.localMass >= LOCAL_MASS && uniform.localMass < LOCAL_MASS - 0.1)
        out.push({
          topic: 'attention',
          severity: 'note',
          text: `${name} keeps ${pct(s.localMass)} of its mass within the last ${s.window} tokens: it looks locally`,
        })
      else if (uniform.entropy > 0 && s.entropy >= SPREAD_ENTROPY * uniform.entropy)
        out.push({
          topic: 'attention',
          severity: 'problem',
          text: `${name} spreads its attention almost evenly (entropy ${s.entropy.toFixed(2)} of ${uniform.entropy.toFixed(2)} nats for uniform rows): it does not pick out keys`,
        })
    }
  return out
}

// ---- state and gates -------------------------------------------------------

export function diagnoseState(layers: LayerCapture[]): Finding[] {
  const out: Finding[] = []
  for (const layer of layers)
    for (const head of layer.heads) {
      const snaps = head.snapshots ?? []
      if (snaps.length < 2) continue
      const D = Math.min(layer.dk, layer.dv)
      const ranks = snaps.map((s) => s.effectiveRank)
      const top = Math.max(...ranks)
      const name = headName(layer, head)
      if (top >= FULL_RANK * D) {
        const at = snaps[ranks.findIndex((r) => r >= 0.9 * top)]!
        const last = snaps.at(-1)!
        out.push(
          at.t < last.t
            ? {
                topic: 'state',
                severity: 'problem',
                text: `${name}: state effective rank saturates at ${top.toFixed(1)} of ${D} by step ${at.t}; later pairs must overwrite earlier ones`,
              }
            : {
                topic: 'state',
                severity: 'note',
                text: `${name}: state effective rank is still growing at the last step (${top.toFixed(1)} of ${D} at step ${last.t})`,
              },
        )
      } else if (D >= 4 && top < LOW_RANK * D) {
        out.push({ topic: 'state', severity: 'note', text: `${name}: state uses few directions (effective rank at most ${top.toFixed(1)} of ${D})` })
      }
    }
  return out
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** Steps until a_1 a_2 … halves the state when every gate is the mean gate. */
export function halfLife(meanDecay: number): number {
  if (meanDecay >= 1) return Infinity
  if (meanDecay <= 0) return 0
  return Math.log(0.5) / Math.log(meanDecay)
}

/**
 * Gates that forget faster than the task needs: a half-life shorter than a
 * quarter of the typical query–key distance of the example's pairs (or than
 * 2 tokens without pairs). β above 1 is reported: the delta rule's
 * transition then has negative eigenvalues (what state tracking needs).
 */
export function diagnoseGates(layers: LayerCapture[], input: InspectInput): Finding[] {
  const out: Finding[] = []
  const distances = (input.pairs ?? []).map((p) => p.query - p.key)
  const typical = distances.length ? median(distances) : undefined
  for (const layer of layers)
    for (const head of layer.heads) {
      const name = headName(layer, head)
      if (head.decay?.length) {
        const a = mean(head.decay)
        const life = halfLife(a)
        const tooShort = typical !== undefined ? life < typical / 4 : life < 2
        if (tooShort)
          out.push({
            topic: 'gates',
            severity: 'problem',
            text: `${name} decays fast: mean gate ${a.toFixed(2)}, a half-life of ${life.toFixed(1)} tokens${typical !== undefined ? `, while queries come ~${typical} tokens after their keys` : ''}`,
          })
      }
      if (head.beta?.length) {
        const top = Math.max(...head.beta)
        if (top > 1)
          out.push({ topic: 'gates', severity: 'note', text: `${name}: β reaches ${top.toFixed(2)} (> 1), so its state transitions have negative eigenvalues` })
      }
    }
  return out
}

// ---- length ----------------------------------------------------------------

export function diagnoseLengths(curve: LengthCurve): Finding[] {
  const points = [...curve.points].sort((a, b) => a.seqLen - b.seqLen)
  const trainedAt = [...points].reverse().find((p) => p.seqLen <= curve.trainedLength) ?? points[0]
  if (!trainedAt) return []
  const beyond = points.filter((p) => p.seqLen > trainedAt.seqLen)
  const times = (L: number) => {
    const f = L / curve.trainedLength
    return Number.isInteger(f) ? `${f}×` : `${f.toFixed(1)}×`
  }
  if (!beyond.length)
    return [
      {
        topic: 'length',
        severity: 'note',
        text: `Accuracy ${acc(trainedAt.accuracy)} at the trained length ${curve.trainedLength}; no longer lengths measured`,
      },
    ]
  const firstDrop = beyond.findIndex((p) => p.accuracy < trainedAt.accuracy - LENGTH_TOLERANCE)
  const last = beyond.at(-1)!
  if (firstDrop < 0)
    return [
      {
        topic: 'length',
        severity: 'note',
        text: `Accuracy holds to ${times(last.seqLen)} the trained length (${acc(last.accuracy)} at ${last.seqLen}, ${acc(trainedAt.accuracy)} at ${trainedAt.seqLen})`,
      },
    ]
  const drop = beyond[firstDrop]!
  if (firstDrop === 0)
    return [
      {
        topic: 'length',
        severity: 'problem',
        text: `Accuracy drops right past the trained length: ${acc(trainedAt.accuracy)} at ${trainedAt.seqLen}, ${acc(drop.accuracy)} at ${drop.seqLen}, ${acc(last.accuracy)} at ${last.seqLen}`,
      },
    ]
  const held = beyond[firstDrop - 1]!
  return [
    {
      topic: 'length',
      severity: 'problem',
      text: `Accuracy holds to ${times(held.seqLen)} the trained length then drops (${acc(held.accuracy)} at ${held.seqLen}, ${acc(drop.accuracy)} at ${drop.seqLen})`,
    },
  ]
}

// ---- all of it ---------------------------------------------------------------

const ORDER: FindingTopic[] = ['example', 'recall', 'capacity', 'length', 'gates', 'state', 'attention']

/** At most MAX_PER_TOPIC sentences per topic (problems first), then one saying how many more. */
function capPerTopic(findings: Finding[]): Finding[] {
  const out: Finding[] = []
  for (const topic of ORDER) {
    const mine = findings.filter((f) => f.topic === topic).sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'problem' ? -1 : 1))
    out.push(...mine.slice(0, MAX_PER_TOPIC))
    if (mine.length > MAX_PER_TOPIC)
      out.push({
        topic,
        severity: 'note',
        text: `…and ${mine.length - MAX_PER_TOPIC} more ${topic} finding${mine.length - MAX_PER_TOPIC > 1 ? 's' : ''} like these`,
      })
  }
  return out
}

export function diagnose(r: InspectResult): Finding[] {
  return capPerTopic([
    ...diagnoseExample(r.input),
    ...(r.recall
      ? [...diagnoseRecallDistance(r.recall), ...diagnoseKeyInNoise(r.recall, modelPosition(r.modelSpec)), ...diagnoseRecallCapacity(r.recall)]
      : []),
    ...(r.lengths ? diagnoseLengths(r.lengths) : []),
    ...diagnoseGates(r.layers, r.input),
    ...diagnoseState(r.layers),
    ...diagnoseAttention(r.layers, r.input.tokens.length),
  ])
}
