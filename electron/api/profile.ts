// A profile of a model on a backend: where the time of a training step goes
// (per layer and op, forward and backward), where the memory goes, how each
// kernel stands against the device's ceilings, and how time and memory grow
// with sequence length, next to a softmax Transformer of the same width.
// Written as profile.json; the report is rendered from it alone.
import type { ModelSpec } from './model-spec'

export const PROFILE_FORMAT = 'linea.profile/1'

/** Least seconds, and repeats, each ceiling probe (bandwidth, matrix product) measures for. */
export const CEILING_PROBE_SECONDS = 0.5
export const CEILING_PROBE_MIN_REPEATS = 9

/** Timed repeats of the step the Profile screen and the CLI ask for: enough for quartiles. */
export const PROFILE_REPEATS = 10

export interface ProfileSettings {
  batchSize: number
  seqLen: number
  /**
   * Positions per sequence that carry a label, the last ones (the LM head and the loss run only
   * there, as in training: MQAR labels its queries, 64 of 512 at Zoology's T = 512); every
   * position when absent, as a language model. At most seqLen counts (the sweep's shorter
   * lengths label all of theirs).
   */
  labelsPerSequence?: number
  /** The weights' dtype where `precision` is absent (profiles saved before it). */
  dtype: 'f32' | 'f64'
  /**
   * As a TrainSpec's: 'auto' is bf16 mixed precision (f32 weights, bf16 passes)
   * on a CUDA device and f32 elsewhere. Wins over `dtype` when present.
   */
  precision?: 'auto' | 'f32' | 'f64' | 'bf16' | 'f16'
  warmup: number
  repeats: number
  /** Least seconds each ceiling probe measures for (default CEILING_PROBE_SECONDS). */
  probeSeconds?: number
  /** Sequence lengths of the sweep, shortest first. */
  sweepLengths: number[]
  /** The sweep stops at the first length past this many seconds of measuring. */
  sweepBudgetSeconds: number
  /** The sweep stops at the first length whose peak memory would pass this. */
  sweepMemoryLimitBytes: number
}

export interface MachineInfo {
  cpu: string
  cores: number
  memoryBytes: number
  platform: string
  node: string
  engineVersion: string
  compiler: string
  blas: string
  backend: string
  device: string
  deviceMemoryBytes: number
  deviceDetail: string
  /** How each op's time was measured ("CUDA events around each op (device time)", ...); absent in older profiles. */
  opTiming?: string
}

/** How a repeated measurement spread: quantiles over its n samples (linear interpolation). */
export interface Spread {
  n: number
  min: number
  q1: number
  median: number
  q3: number
  max: number
}

export interface Ceilings {
  /** Bytes read + written per second by a large streaming op (median of the probe's repeats). */
  bandwidthBytesPerSecond: number
  /** FLOP/s of a large matrix product (median of the probe's repeats). */
  flopsPerSecond: number
  method: string
  /** The probe's rates over its repeats (absent in profiles written before it was measured). */
  spread?: { bandwidthBytesPerSecond: Spread; flopsPerSecond: Spread }
}

export interface OpProfile {
  scope: string
  phase: 'forward' | 'backward' | 'optimizer'
  op: string
  calls: number
  /** Median over repeats of the summed time per step. */
  ms: number
  flops: number
  bytes: number
  /** The summed time per step over the repeats (absent in older profiles). */
  spread?: Spread
}

export type ProfilePhase = OpProfile['phase']

/** Time per step of one model part in one phase, over the repeats. */
export interface PartProfile {
  scope: string
  phase: ProfilePhase
  /** Median over repeats. */
  ms: number
  spread: Spread
}

/** One op call of the timed step whose total time was the median: what the trace export draws. */
export interface TimelineEvent {
  scope: string
  phase: ProfilePhase
  op: string
  /** Start, from the start of that step. */
  startMs: number
  ms: number
  flops: number
  bytes: number
}

export interface ProfileTimeline {
  /** Which repeat (0-based) it is, of how many. */
  repeat: number
  repeats: number
  events: TimelineEvent[]
  /** Calls past the cap, left out. */
  dropped: number
}

export interface MemoryBreakdown {
  parameters: number
  gradients: number
  optimizerState: number
  /** Tensors alive after the forward pass: what the backward needs. */
  activations: number
  /** Recurrent state (linear layers) plus KV cache (softmax layers) of one sequence at seqLen, for inference. */
  recurrentState: number
  /** Peak minus everything above: temporaries of the backward and the optimizer. */
  workspace: number
  peak: number
}

export interface SweepPoint {
  seqLen: number
  trainStepMs: number
  prefillMs: number
  decodeMsPerToken: number
  peakBytes: number
}

export interface SweepSeries {
  name: string
  points: SweepPoint[]
  /** Why it stopped before the last length, if it did. */
  stopped?: string
  /** Slopes of log(time) on log(T) over the measured lengths. */
  slopes: { trainStep: number | null; prefill: number | null }
}

export interface ProfileResult {
  format: typeof PROFILE_FORMAT
  createdMs: number
  spec: ModelSpec
  settings: ProfileSettings
  /** The precision the profile ran in, 'auto' resolved (absent in older profiles: settings.dtype). */
  precision?: 'f32' | 'f64' | 'bf16' | 'f16'
  machine: MachineInfo
  ceilings: Ceilings
  step: {
    forwardMs: number
    backwardMs: number
    optimizerMs: number
    totalMs: number
    tokensPerSecond: number
    /** The same times over the repeats (absent in older profiles). */
    spread?: { forwardMs: Spread; backwardMs: Spread; optimizerMs: Spread; totalMs: Spread }
  }
  ops: OpProfile[]
  /** Per model part and phase, over the repeats (absent in older profiles). */
  parts?: PartProfile[]
  /** Every op call of one timed step, in order (absent in older profiles). */
  timeline?: ProfileTimeline
  /** What may have made the times unreliable (another job on the machine, ...). */
  warnings?: string[]
  memory: MemoryBreakdown
  sweep: { model: SweepSeries; transformer: SweepSeries }
  parameters: number
}

/** Least-squares slope of log y on log x; null with fewer than two points. */
export function logLogSlope(xs: number[], ys: number[]): number | null {
  const pts = xs.map((x, i) => [Math.log(x), Math.log(ys[i]!)] as const).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b))
  if (pts.length < 2) return null
  const mx = pts.reduce((s, [a]) => s + a, 0) / pts.length
  const my = pts.reduce((s, [, b]) => s + b, 0) / pts.length
  let num = 0
  let den = 0
  for (const [a, b] of pts) {
    num += (a - mx) * (b - my)
    den += (a - mx) ** 2
  }
  return den > 0 ? num / den : null
}

/** The precision a profile ran in: its resolved precision, or for older profiles the weights' dtype. */
export function profilePrecision(p: Pick<ProfileResult, 'precision' | 'settings'>): 'f32' | 'f64' | 'bf16' | 'f16' {
  return p.precision ?? p.settings.dtype
}
