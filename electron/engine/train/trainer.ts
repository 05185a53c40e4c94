// The training loop: batches from the task, forward and backward through the
// tape, gradient clipping, AdamW with the schedule, evaluation, early stop,
// NaN/inf detection that names the step and the layer, checkpoints, resume
// and cancellation (finishing the step and saving a consistent checkpoint).
//
// A step goes through its stages in order, one method each on TrainingRun:
// batch → forward and backward → clip and optimizer step → progress, then
// between steps: eval (and early stop) → periodic checkpoint → stop checks.
import { statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ModelSpec } from '../../api/model-spec'
import type { EvalProgress, StepProgress } from '../../api/runs'
import { stopStep, type TrainSpec } from '../../api/train-spec'
import { Ctx, type ComputeDType } from '../autograd/context'
import { precisionDTypes, resolvePrecision, type PrecisionDTypes, type RunPrecision } from '../precision'
import type { Backend } from '../backend'
import { CheckpointError, readCheckpoint, restoreCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint'
import { Model } from '../model/model'
import type { Param } from '../model/params'
import { createTask } from '../tasks'
import type { EvalSet, TaskGenerator } from '../tasks/types'
import type { FloatDType, Tensor } from '../tensor'
import { disposeBatch, toDevice, type LabelledBatch } from './device-batch'
import { evaluate } from './evaluate'
import { AdamW } from './optimizer'
import { checkRun } from './run-checks'
import { learningRate } from './schedule'
import { makeDirs } from '../../platform/make-dirs'

/**
 * What the loop tells its caller, and asks it, as it goes. (The engine
 * process turns these into the protocol's TrainEvents messages.)
 */
export interface TrainCallbacks {
  onStep?(p: StepProgress): void
  onEval?(e: EvalProgress): void
  onCheckpoint?(path: string, step: number): void
  /**
   * A resume restored its checkpoint: training continues after `step`. Steps
   * after it that were reported before (a run killed past its last
   * checkpoint) are trained again and reported again, so a listener keeping
   * a log drops what it has after this step.
   */
  onResume?(step: number): void
  /** Polled between steps; true ends the run after the current step, with a checkpoint. */
  shouldStop?(): boolean
  /**
   * Called before every step and right before every checkpoint write; the
   * engine process exits there when its parent is gone (a step is one
   * synchronous stretch, so this is the earliest it can notice, and nothing
   * is written for a parent that is not there).
   */
  checkAlive?(): void
}

export interface TrainRunOptions {
  modelSpec: ModelSpec
  trainSpec: TrainSpec
  backend: Backend
  /** The precision the run computes in (selectRun's); else the spec's, 'auto' resolved for the backend. */
  precision?: RunPrecision
  /** Where checkpoints go (created); none saved without it. */
  outDir?: string
  /** A checkpoint to continue from: same specs, same data stream, same curve. */
  resumeFrom?: string
  events?: TrainCallbacks
}

export type { EvalProgress, StepProgress }

export type TrainStatus = 'completed' | 'early_stopped' | 'cancelled'

export interface TrainSummary {
  status: TrainStatus
  steps: number
  finalLoss: number
  lastEval?: EvalProgress
  checkpoint?: string
  parameters: number
  seconds: number
  tokensPerSecond: number
}

/** A non-finite value stopped the run. */
export class TrainingDivergedError extends Error {
  constructor(
    readonly step: number,
    readonly where: string,
  ) {
    super(`NaN/inf at step ${step} in ${where}`)
    this.name = 'TrainingDivergedError'
  }
}

export function checkpointPath(outDir: string, step: number): string {
  return join(outDir, `step-${String(step).padStart(7, '0')}.safetensors`)
}

async function isFinite(t: Tensor): Promise<boolean> {
  for (const x of await t.read()) if (!Number.isFinite(x)) return false
  return true
}

/** Finds where a non-finite value first appears in a forward pass on `batch`. */
async function locateNonFinite(model: Model, backend: Backend, dtype: ComputeDType, batch: LabelledBatch): Promise<string> {
  const ctx = new Ctx(backend, dtype, false)
  try {
    const found: string[] = []
    const hidden: [number, Tensor][] = []
    model.hidden(ctx, batch.ids, (i, h) => hidden.push([i, h]))
    for (const [i, h] of hidden) if (!(await isFinite(h))) found.push(`layer ${i} (${model.spec.layers[i]!.kind} block output)`)
    return found[0] ?? 'the LM head or the loss (every block output is finite)'
  } finally {
    ctx.dispose()
  }
}

/** Names the first parameter whose gradient holds a non-finite value. */
async function locateNonFiniteGrad(grads: Map<string, Tensor>): Promise<string> {
  for (const [name, g] of grads) if (!(await isFinite(g))) return `the gradient of ${name}`
  return 'the gradients'
}

/** Checks the checkpoint and loads it into the model and optimizer; returns its step. */
function restoreFrom(path: string, modelSpec: ModelSpec, dtype: FloatDType, model: Model, optimizer: AdamW): number {
  // A FIFO or a device would block the read (and the process) for good.
  let st
  try {
    st = statSync(path)
  } catch (err) {
    throw new CheckpointError(path, `cannot be read: ${(err as Error).message}`)
  }
  if (!st.isFile()) throw new CheckpointError(path, 'is not a regular file')
  const state = readCheckpoint(path)
  if (JSON.stringify(state.modelSpec) !== JSON.stringify(modelSpec))
    throw new Error(`checkpoint ${path} was trained with another ModelSpec; resume needs the same one`)
  if (state.dtype !== dtype) throw new Error(`checkpoint ${path} is ${state.dtype}, the run is ${dtype}`)
  restoreCheckpoint(path, state, model, optimizer)
  return state.step
}

export async function trainModel(o: TrainRunOptions): Promise<TrainSummary> {
  const { trainSpec } = o
  const task = createTask(trainSpec.task, trainSpec.seed)
  checkRun(o.modelSpec, trainSpec, task)
  const run = new TrainingRun(o, precisionDTypes(o.precision ?? resolvePrecision(trainSpec.precision, o.backend.id)), task)
  try {
    run.prepare()
    return await run.train()
  } finally {
    run.dispose()
  }
}

/** How a run ended early: after an eval that reached the target, or at a cancel. */
type EarlyEnd = Exclude<TrainStatus, 'completed'>

/** One run: the model, its optimizer, the task and where the run stands. */
class TrainingRun {
  private readonly spec: TrainSpec
  private readonly backend: Backend
  private readonly callbacks: TrainCallbacks
  private readonly model: Model
  private readonly trainable: Param[]
  private readonly optimizer: AdamW
  private readonly tokensPerStep: number
  private evalSets: EvalSet[] = []
  private startStep = 0
  /**
   * The step whose checkpoint is on disk already: not saved again (a cancel
   * on a checkpoint step, a resume of a finished run), so each step has one
   * file and one checkpoint event.
   */
  private savedStep = -1
  private checkpoint: string | undefined
  private started = 0
  private trainSeconds = 0
  private finalLoss = NaN
  private lastEval: EvalProgress | undefined

  constructor(
    private readonly o: TrainRunOptions,
    private readonly dtypes: PrecisionDTypes,
    private readonly task: TaskGenerator,
  ) {
    this.spec = o.trainSpec
    this.backend = o.backend
    this.callbacks = o.events ?? {}
    this.model = new Model(o.modelSpec, o.backend, dtypes.weights, this.spec.seed)
    this.trainable = this.model.params.trainable()
    const opt = this.spec.optimizer
    this.optimizer = new AdamW(o.backend, this.trainable, { beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weight_decay })
    this.tokensPerStep = this.spec.batch_size * task.seqLen
  }

  /** Resume (if asked), the checkpoint folder and the eval sets. */
  prepare(): void {
    const { resumeFrom, outDir } = this.o
    if (resumeFrom) {
      this.startStep = restoreFrom(resumeFrom, this.o.modelSpec, this.dtypes.weights, this.model, this.optimizer)
      if (outDir && resolve(resumeFrom) === resolve(checkpointPath(outDir, this.startStep))) {
        this.savedStep = this.startStep
        this.checkpoint = resumeFrom
      }
      this.callbacks.onResume?.(this.startStep)
    }
    if (outDir) makeDirs(outDir)
    this.evalSets = this.task.evalSets(this.spec.batch_size, this.spec.eval.batches)
  }

  /** The last step of this run: max_steps when set (the schedule still spans `steps`). */
  private get lastStep(): number {
    return stopStep(this.spec)
  }

  async train(): Promise<TrainSummary> {
    this.started = performance.now()
    for (let step = this.startStep; step < this.lastStep; step++) {
      await this.trainStep(step)
      const end = await this.betweenSteps(step + 1)
      if (end) return this.summary(end, step + 1)
    }
    await this.save(this.lastStep)
    return this.summary('completed', this.lastStep)
  }

  dispose(): void {
    this.optimizer.dispose()
    this.model.dispose()
  }

  // ---- one step: batch → forward and backward → clip and update → progress

  /** Trains on the batch of `step` (0-based) and reports it as step + 1. */
  private async trainStep(step: number): Promise<void> {
    this.callbacks.checkAlive?.()
    const t0 = performance.now()
    const batch = toDevice(this.backend, this.task.trainBatch(step, this.spec.batch_size))
    const ctx = new Ctx(this.backend, this.dtypes.compute, true)
    try {
      const { nll, grads } = this.forwardBackward(ctx, batch)
      const { loss, lr, gradNorm } = await this.clipAndUpdate(nll, grads, batch, step)
      this.finalLoss = loss
      const seconds = (performance.now() - t0) / 1000
      this.trainSeconds += seconds
      this.reportStep(step + 1, loss, lr, gradNorm, seconds)
    } finally {
      ctx.dispose()
      disposeBatch(batch)
    }
  }

  /** Enqueues the forward and backward passes; nothing is read. */
  private forwardBackward(ctx: Ctx, batch: LabelledBatch): { nll: Tensor; grads: Map<string, Tensor> } {
    const out = this.model.loss(ctx, batch)
    ctx.backward([])
    return { nll: out.nll, grads: ctx.gradsByName(this.trainable) }
  }

  /**
   * Enqueues the update (the global-norm clip on the device), then reads the
   * step's loss and gradient norm: the one wait of a step, after all its work.
   * A non-finite loss or norm ends the run; the device skipped that update.
   */
  private async clipAndUpdate(
    nll: Tensor,
    grads: Map<string, Tensor>,
    batch: LabelledBatch,
    step: number,
  ): Promise<{ loss: number; lr: number; gradNorm: number }> {
    const gradSqSum = this.optimizer.gradSqSum(grads)
    try {
      const lr = learningRate(this.spec, step)
      this.optimizer.step(grads, lr, step + 1, { gradSqSum, maxNorm: this.spec.optimizer.grad_clip })
      const rows = await nll.read()
      let sum = 0
      for (let m = 0; m < batch.count; m++) sum += rows[m]!
      const loss = sum / batch.count
      if (!Number.isFinite(loss)) throw new TrainingDivergedError(step + 1, await locateNonFinite(this.model, this.backend, this.dtypes.compute, batch))
      const gradNorm = await AdamW.norm(gradSqSum)
      if (!Number.isFinite(gradNorm)) throw new TrainingDivergedError(step + 1, await locateNonFiniteGrad(grads))
      return { loss, lr, gradNorm }
    } finally {
      gradSqSum.dispose()
    }
  }

  private reportStep(done: number, loss: number, lr: number, gradNorm: number, seconds: number): void {
    const memory = this.backend.memory()
    this.callbacks.onStep?.({
      step: done,
      steps: this.lastStep,
      loss,
      lr,
      gradNorm,
      tokensPerSecond: this.tokensPerStep / seconds,
      elapsedSeconds: (performance.now() - this.started) / 1000,
      memoryBytes: memory.bytesInUse,
      peakMemoryBytes: memory.peakBytes,
    })
  }

  // ---- between steps: eval → checkpoint → stop checks -------------------

  /** After step `done` (1-based): how the run ends here, or undefined to go on. */
  private async betweenSteps(done: number): Promise<EarlyEnd | undefined> {
    const last = done === this.lastStep
    if (done % this.spec.eval.every === 0 || last) {
      const e = await this.evaluateAt(done)
      if (this.reachedTarget(e)) {
        await this.save(done)
        return 'early_stopped'
      }
    }
    if (this.spec.checkpoint_every > 0 && done % this.spec.checkpoint_every === 0 && !last) await this.save(done)
    if (await this.stopRequested()) {
      await this.save(done)
      return 'cancelled'
    }
    return undefined
  }

  private async evaluateAt(step: number): Promise<EvalProgress> {
    const sets = await evaluate(this.model, this.backend, this.dtypes.compute, this.task, this.evalSets)
    const first = sets[0]!
    this.lastEval = {
      step,
      sets,
      headline: this.task.headline === 'accuracy' ? first.accuracy : first.bitsPerByte,
      headlineName: this.task.headline,
    }
    this.callbacks.onEval?.(this.lastEval)
    return this.lastEval
  }

  /** Early stop: an accuracy task whose eval reached `early_stop_accuracy`. */
  private reachedTarget(e: EvalProgress): boolean {
    const target = this.spec.early_stop_accuracy
    return target !== null && this.task.headline === 'accuracy' && e.headline >= target
  }

  /** Lets messages (a cancel) arrive, then asks whether to stop. */
  private async stopRequested(): Promise<boolean> {
    await new Promise((r) => setImmediate(r))
    return this.callbacks.shouldStop?.() === true
  }

  private async save(step: number): Promise<void> {
    const { outDir } = this.o
    if (!outDir || step === this.savedStep) return
    this.callbacks.checkAlive?.()
    const path = checkpointPath(outDir, step)
    await saveCheckpoint(path, this.model, this.optimizer, this.spec, step)
    this.savedStep = step
    this.checkpoint = path
    this.callbacks.onCheckpoint?.(path, step)
  }

  private summary(status: TrainStatus, steps: number): TrainSummary {
    return {
      status,
      steps,
      finalLoss: this.finalLoss,
      lastEval: this.lastEval,
      checkpoint: this.checkpoint,
      parameters: this.model.params.count(),
      seconds: (performance.now() - this.started) / 1000,
      tokensPerSecond: ((steps - this.startStep) * this.tokensPerStep) / Math.max(this.trainSeconds, 1e-9),
    }
  }
}
