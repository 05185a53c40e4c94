// Messages between the main process and an engine process (one per job).
// The engine answers calls by id and may push events at any time.
import type { DemoForwardParams, DemoForwardResult, EngineInfo, ModelEstimate } from '../api/labapi'
import type { ModelSpec } from '../api/model-spec'
import type { TrainSpec } from '../api/train-spec'
import type { InspectResult } from '../api/inspect'
import type { ProfileResult, ProfileSettings } from '../api/profile'
import type { InspectCheckpointParams } from './inspect/inspect-checkpoint'
import type { EvalProgress, StepProgress, TrainSummary } from './train/trainer'

export interface TrainParams {
  modelSpec: ModelSpec
  trainSpec: TrainSpec
  /** Checkpoints are written here. */
  outDir: string
  resumeFrom?: string
  /** A checkpoint whose weights the run starts from (a fine-tune; not with resumeFrom). */
  initFrom?: string
  /** One rank of a data-parallel run (train/data-parallel.ts); the parent starts one engine per rank. */
  parallel?: ParallelParams
}

export interface ParallelParams {
  rank: number
  world: number
  /**
   * 'nccl': the ranks sum through NCCL, joined by `ncclId` (rank 0's
   * ncclUniqueId, which its engine reports as the train.ncclId event);
   * 'relay': TEST DOUBLE, the sums go through the parent (collective messages).
   */
  transport: 'nccl' | 'relay'
  ncclId?: Uint8Array
}

/** Events an engine streams while a call runs: `train`'s (the trainer's TrainCallbacks as messages), `profile`'s and `inspect`'s progress. */
export interface TrainEvents {
  'train.backend': { reason: string }
  'train.step': StepProgress
  'train.eval': EvalProgress
  'train.checkpoint': { path: string; step: number }
  /** A resume loaded its checkpoint: steps after `step` come again (anything logged past it is stale). */
  'train.resumed': { step: number }
  /** Rank 0 of an NCCL data-parallel run: the id the other ranks join with (their TrainParams.parallel.ncclId). */
  'train.ncclId': { id: Uint8Array }
  'profile.progress': { message: string; fraction: number }
  'inspect.progress': { message: string; fraction: number }
}

/** What an engine process can be asked to do. */
export interface EngineMethods {
  info(params: Record<string, never>): EngineInfo
  demoForward(params: DemoForwardParams & { backend?: string }): DemoForwardResult
  /** Parameters, state and FLOPs of a (validated) spec, and of a same-width Transformer. */
  estimate(params: { spec: ModelSpec; contextLength: number }): ModelEstimate
  /** Profiles a model on the chosen backend; streams profile.progress. */
  profile(params: { spec: ModelSpec; settings: ProfileSettings; backend?: 'auto' | 'cpu' | 'cuda' | 'webgpu'; device?: number }): ProfileResult
  /** Inspects a checkpoint: on WebGPU for a run trained there (when its adapter takes every call), else cuda:0 when it does, else the CPU (inspect-backend.ts); streams inspect.progress. */
  inspect(params: InspectCheckpointParams): InspectResult
  /**
   * Writes a model's initial weights as a step-0 checkpoint at `path`, on the
   * CPU in f32, seeded by trainSpec.seed as a run's training starts
   * (checkpoint/initial-checkpoint.ts): the composer's Export… of a design.
   */
  initWeights(params: { modelSpec: ModelSpec; trainSpec: TrainSpec; path: string }): { parameters: number }
  /** Trains until done, early stop or cancel; streams TrainEvents. */
  train(params: TrainParams): TrainSummary
}
export type EngineMethod = keyof EngineMethods
export type EngineParams<M extends EngineMethod> = Parameters<EngineMethods[M]>[0]
export type EngineResult<M extends EngineMethod> = ReturnType<EngineMethods[M]>

export type HostToEngine =
  | { type: 'call'; id: number; method: EngineMethod; params: unknown }
  /** Ends a running `train` after its current step, with a checkpoint. */
  | { type: 'cancel' }
  /** TEST DOUBLE transport of data parallel: the sums over the ranks of exchange `seq`. */
  | { type: 'collective'; seq: number; values: Float64Array[] }

export interface EngineErrorBody {
  name: string
  message: string
  code?: string
  /** A UserError (the caller's input): the host answers it as a bad request. */
  user?: boolean
}

export type EngineToHost =
  | { type: 'ready'; pid: number }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: EngineErrorBody }
  | { type: 'event'; name: string; data: unknown }
  /** TEST DOUBLE transport of data parallel: this rank's values of exchange `seq`, to be summed over the ranks. */
  | { type: 'collective'; seq: number; values: Float64Array[] }
