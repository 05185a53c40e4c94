// Runs as the workspace stores them and the LabApi reports them.
//   runs/<id>/run.json        RunRecord (atomic writes)
//   runs/<id>/metrics.jsonl   one MetricsLine per line, append-only
//   runs/<id>/checkpoints/    step-NNNNNNN.safetensors
import type { ModelSpec } from './model-spec'
import type { TrainSpec } from './train-spec'

export const RUN_FORMAT = 'linea.run/1'

export type RunStatus = 'queued' | 'running' | 'completed' | 'early_stopped' | 'cancelled' | 'failed'

export const FINISHED_STATUSES: readonly RunStatus[] = ['completed', 'early_stopped', 'cancelled', 'failed']

export interface RunRecord {
  format: typeof RUN_FORMAT
  id: string
  /** A readable name, e.g. "gla d64" from a template, or the spec name. */
  name: string
  /** The saved spec it came from, when it did. */
  specName?: string
  /** The template and its sweep values, when it came from one. */
  template?: { id: string; values: Record<string, unknown> }
  modelSpec: ModelSpec
  /** The model's parameters (trainable and fixed), counted when the run was made; absent in older runs. */
  params?: number
  trainSpec: TrainSpec
  status: RunStatus
  createdMs: number
  startedMs?: number
  endedMs?: number
  /** Why it failed (engine exit, NaN/inf, bad spec). */
  failure?: string
  /** What the engine picked, e.g. "cpu (asked for)". */
  backend?: string
  steps: number
  bestAccuracy?: number
  lastLoss?: number
  /** Latest checkpoint, relative to the run folder. */
  checkpoint?: string
  /** Hidden from the Runs table's default view (archiveRun); the folder stays. */
  archived?: boolean
  /** Free-text labels (tagRun), each a RUN_TAG; the Runs table filters by them. */
  tags?: string[]
  /** Set on a model imported from another tool (`linea import`), not trained here: where it came from. */
  imported?: RunImport
  /** A fine-tune: the run starts from another run's checkpoint (weights only; optimizer and step start afresh). */
  startFrom?: RunStart
}

/** Where a fine-tune starts: a run of this workspace and a checkpoint inside its folder. */
export interface RunStart {
  run: string
  checkpoint: string
}

/** Where an imported run's model came from. */
export interface RunImport {
  /** The folder read (absolute). */
  source: string
  /** The tool whose checkpoint it was: 'fla' (flash-linear-attention, Hugging Face format). */
  format: 'fla'
  /** Its model_type, e.g. 'gla'. */
  modelType: string
  /** Tensor dtypes in the source, e.g. ['BF16']. */
  dtypes: string[]
}

/** At most this many tags on a run. */
export const MAX_RUN_TAGS = 16
/** A tag: 1 to 32 characters, no control or format characters, no space at either end. */
export const RUN_TAG = /^(?!\s)[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]{1,32}(?<!\s)$/u
export const RUN_TAG_RULE = 'is not a valid tag: 1 to 32 characters, no control characters, no space at either end'

/** What a training step reports (the engine's progress event, a metrics line). */
export interface StepProgress {
  step: number // 1-based, steps completed
  steps: number
  loss: number
  lr: number
  gradNorm: number
  tokensPerSecond: number
  elapsedSeconds: number
  memoryBytes: number
  peakMemoryBytes: number
  /** A data-parallel run (TrainSpec.devices): each device's memory at this step; the figures above are rank 0's. */
  devices?: DeviceStep[]
  /** An f16 run: the loss scale after this step (train/loss-scale.ts). */
  lossScale?: number
  /** An f16 run's step whose gradients overflowed f16: the weights were not updated (gradNorm 0). */
  skipped?: boolean
}

/** One device of a data-parallel run at a step: its rank, name ("cuda:1") and memory. */
export interface DeviceStep {
  rank: number
  device: string
  memoryBytes: number
  peakMemoryBytes: number
}

export interface BucketStats {
  correct: number
  count: number
}

export interface EvalSetResult {
  name: string
  seqLen: number
  accuracy: number
  loss: number
  bitsPerByte: number
  count: number
  /** tag → bucket label → counts */
  byTag: Record<string, Record<string, BucketStats>>
}

/** What an evaluation reports. */
export interface EvalProgress {
  step: number
  sets: EvalSetResult[]
  /** The headline figure of the first set: accuracy, or bits per byte for text. */
  headline: number
  headlineName: 'accuracy' | 'bits_per_byte'
}

/** One line of metrics.jsonl. */
export type MetricsLine =
  | ({ type: 'train' } & StepProgress)
  | ({ type: 'eval' } & EvalProgress)
  | { type: 'checkpoint'; step: number; path: string }
  | { type: 'status'; status: RunStatus; atMs: number; failure?: string }

export interface MetricsRead {
  lines: MetricsLine[]
  /** Lines that could not be parsed (a truncated last line after a crash), with their line numbers. */
  skipped: { line: number; reason: string }[]
}
