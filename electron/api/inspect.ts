// The inspector's contract: what to capture from a checkpoint (the request,
// bounded so memory stays small) and what comes back (one JSON file cached
// in the run's inspect/ folder, readable with no engine running).
//
// Shapes: T = the input's length; attention maps are T × T row-major with
// rows the queries (o_t = Σ_s M[t, s] v_s); states are dk × dv row-major.
import { z } from 'zod'
import type { ModelSpec } from './model-spec'
import type { Task } from './train-spec'

export const INSPECT_FORMAT = 'linea.inspect/1'

/** Bounds that keep a capture small: a T × T map per head and layer, a dk × dv state per snapshot. */
export const INSPECT_LIMITS = {
  /** Longest input whose attention maps are materialized. */
  maxAttentionT: 1024,
  /** Longest input captured at all (states and traces). */
  maxT: 8192,
  maxStateSteps: 64,
  /** Most values in all attention maps together (layers × heads × T²). */
  maxAttentionValues: 8 * 2 ** 20,
  /** MQAR examples per number of pairs in the recall grid. */
  maxRecallExamples: 4096,
  /** Lengths of the state-tracking curve. */
  maxLengths: 16,
} as const

const positive = z.number().int().min(1)

export const InspectRequestSchema = z.strictObject({
  runId: z.string().min(1),
  /** Checkpoint file relative to the run folder; default the run's latest. */
  checkpoint: z.string().min(1).optional(),
  /** A cached result's name: inspect/<name>.json in the run folder. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,80}$/, 'letters, digits, _ . - only (1 to 80)')
    .optional(),
  input: z
    .discriminatedUnion('kind', [
      /** Example number `example` of the task's held-out stream (the same for every checkpoint of the run). */
      z.strictObject({ kind: z.literal('task'), example: z.number().int().min(0).max(100_000) }),
      /** Text as UTF-8 bytes (models with vocabulary >= 256). */
      z.strictObject({ kind: z.literal('text'), text: z.string().min(1).max(INSPECT_LIMITS.maxT) }),
    ])
    .default({ kind: 'task', example: 0 }),
  /** Heads to capture (0-based); default all. */
  heads: z.array(z.number().int().min(0)).max(64).optional(),
  /** Steps t (0-based) where S_t itself and its singular values are kept; default 8 spread over T. */
  stateSteps: z.array(z.number().int().min(0)).max(INSPECT_LIMITS.maxStateSteps).optional(),
  /** Attention maps are materialized when T <= this (and within maxAttentionValues). */
  maxAttentionT: positive.max(INSPECT_LIMITS.maxAttentionT).default(256),
  /** Locality window w of the attention statistics (mass on the last w keys). */
  localWindow: positive.max(4096).default(16),
  /** MQAR: the recall grid over numbers of key-value pairs. */
  recall: z
    .strictObject({
      numKvPairs: z.array(positive).min(1).max(16).optional(),
      examples: positive.max(INSPECT_LIMITS.maxRecallExamples).default(256),
    })
    .optional(),
  /** State tracking: evaluate at these lengths (default: the trained length × ½, 1, 2, 4, 8). */
  lengths: z.array(positive).min(1).max(INSPECT_LIMITS.maxLengths).optional(),
  /** Examples per length for the state-tracking curve. */
  lengthExamples: positive.max(4096).default(128),
})
export type InspectRequest = z.input<typeof InspectRequestSchema>
export type InspectRequestFull = z.output<typeof InspectRequestSchema>

export interface AttentionStats {
  /** Mean over queries of the entropy (nats) of |M[t, :]| normalized to sum 1. */
  entropy: number
  /** Mean share of |M[t, :]| on key 0 (attention sinks). */
  sinkMass: number
  /** Mean share of |M[t, :]| on the last `window` keys t−w+1..t (locality). */
  localMass: number
  window: number
}

export interface StateSnapshot {
  t: number
  dk: number
  dv: number
  /** S_t, dk × dv row-major (the true state; for the exp input gate, e^m S̃). */
  values: number[]
  /** Singular values of S_t, largest first. */
  singular: number[]
  /** exp(entropy of σ / Σσ): 1 for rank one, min(dk, dv) for a flat spectrum. */
  effectiveRank: number
}

export interface HeadCapture {
  head: number
  /** ‖o_t‖ of this head's mixer output at every step (T). */
  outputNorm: number[]
  /** Linear layers: the gates at every step (T each), when the layer has them. */
  decay?: number[]
  /** Vector gates: the smallest decay over key dims at each step. */
  decayMin?: number[]
  /** Input-gate weights w_t (sigmoid, softplus or exp of the pre-activation). */
  inputGate?: number[]
  beta?: number[]
  /** Linear layers: ‖S_t‖_F at steps stateNormSteps (the layer's stride). */
  stateNorm?: number[]
  snapshots?: StateSnapshot[]
  /** T × T, rows are queries; absent when T > maxAttentionT. */
  attention?: number[]
  attentionStats?: AttentionStats
}

export interface LayerCapture {
  index: number
  kind: 'linear' | 'softmax'
  /** A short description of the layer's switches. */
  label: string
  dk: number
  dv: number
  /** The steps where stateNorm was measured. */
  stateNormSteps?: number[]
  heads: HeadCapture[]
}

export interface InspectInput {
  tokens: number[]
  /** The target at each position, −1 where there is none. */
  labels: number[]
  /** The model's prediction (argmax) at labelled positions, −1 elsewhere. */
  predicted: number[]
  /** MQAR: where each pair's key, value and query sit. */
  pairs?: { key: number; value: number; query: number }[]
  text?: string
}

export interface RecallCell {
  correct: number
  count: number
}

export interface RecallAnalysis {
  numKvPairs: number[]
  trainedNumKvPairs: number
  examples: number
  /** Query distance buckets (floor log2 of query minus key position). */
  distanceBuckets: string[]
  /** [pairs index][distance bucket index] */
  byDistance: RecallCell[][]
  positionBuckets: string[]
  /** [pairs index][position bucket index] */
  byPosition: RecallCell[][]
  accuracy: number[]
  /**
   * Queries split by whether their key also occurs earlier as a noise token
   * (a different skill: telling the pair's occurrence from a later one).
   * [pairs index][0: key only in its pair, 1: key also earlier as noise].
   * Absent in inspections saved before the split existed.
   */
  byKeyInNoise?: RecallCell[][]
  keyInNoiseBuckets?: string[]
}

export interface LengthCurve {
  trainedLength: number
  points: { seqLen: number; accuracy: number; count: number }[]
}

export interface InspectResult {
  format: typeof INSPECT_FORMAT
  name: string
  createdMs: number
  runId: string
  runName: string
  checkpoint: string
  step: number
  modelSpec: ModelSpec
  task: Task
  request: InspectRequestFull
  backend: string
  input: InspectInput
  layers: LayerCapture[]
  /** Why attention maps were left out, when they were. */
  attentionSkipped?: string
  recall?: RecallAnalysis
  lengths?: LengthCurve
  seconds: number
}

/** What the run's inspect/ folder lists. */
export interface InspectionSummary {
  runId: string
  name: string
  checkpoint: string
  step: number
  createdMs: number
  input: string
}
