// A profile of a model on a backend: where the time of a training step goes
// (per layer and op, forward and backward), where the memory goes, how each
// kernel stands against the device's ceilings, and how time and memory grow
// with sequence length, next to a softmax Transformer of the same width.
// Written as profile.json; the report is rendered from it alone.
import type { ModelSpec } from './model-spec'

export const PROFILE_FORMAT = 'linea.profile/1'

export interface ProfileSettings {
  batchSize: number
  seqLen: number
  dtype: 'f32' | 'f64'
  warmup: number
  repeats: number
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
}

export interface Ceilings {
  /** Bytes read + written per second by a large streaming op. */
  bandwidthBytesPerSecond: number
  /** FLOP/s of a large matrix product. */
  flopsPerSecond: number
  method: string
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
  machine: MachineInfo
  ceilings: Ceilings
  step: { forwardMs: number; backwardMs: number; optimizerMs: number; totalMs: number; tokensPerSecond: number }
  ops: OpProfile[]
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
