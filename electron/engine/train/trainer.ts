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
import { startRead, type Backend, type PendingRead } from '../backend'
import { CheckpointError, readCheckpoint, restoreCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint'
import { Model } from '../model/model'
import type { Param } from '../model/params'
import { createTask } from '../tasks'
import { type BatchSource, type BatchWorkerScript, bundledBatchWorker, inlineBatches, prefetchable, prefetchedBatches } from '../tasks/batch-prefetch'
import type { EvalSet, TaskGenerator } from '../tasks/types'
import type { FloatDType, Tensor } from '../tensor'
import { GradientBuckets, labelCount, sliceBatch, type Communicator } from './data-parallel'
import { disposeBatch, toDevice, type LabelledBatch } from './device-batch'
import { evaluate } from './evaluate'
import { AdamW } from './optimizer'
import { checkRun } from './run-checks'
import { LossScaler } from './loss-scale'
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
  /**
   * A checkpoint whose weights the run starts from (a fine-tune): the same
   * ModelSpec, any TrainSpec; the optimizer and the step start afresh.
   * Ignored with resumeFrom (the run's own checkpoint has the weights then).
   */
  initFrom?: string
  events?: TrainCallbacks
  /**
   * Data parallel: this process is one rank of several, each training on its
   * slice of every batch, gradients summed through `parallel`
   * (data-parallel.ts). Give `outDir` to rank 0 only: it alone writes
   * checkpoints. Every rank evaluates (the same weights give the same result,
   * so all agree on an early stop).
   */
  parallel?: Communicator
  /**
   * Where training batches are made: a worker thread running this script, a few steps ahead
   * (tasks/batch-prefetch.ts); by default the bundled worker script where there is one, else
   * (and with false) the training thread itself. The batches are the same either way.
   */
  batchWorker?: BatchWorkerScript | false
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

/** Steps the reported tokens/s averages over. */
const THROUGHPUT_WINDOW = 8
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

/** Checks the checkpoint and loads it into the model (and the optimizer, when given); returns its step. */
function restoreFrom(path: string, modelSpec: ModelSpec, dtype: FloatDType, model: Model, optimizer: AdamW | undefined): number {
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
    throw new Error(`checkpoint ${path} was trained with another ModelSpec; ${optimizer ? 'resume' : 'starting from it'} needs the same one`)
  if (state.dtype !== dtype) throw new Error(`checkpoint ${path} is ${state.dtype}, the run is ${dtype}`)
  restoreCheckpoint(path, state, model, optimizer)
  return state.step
}

export async function trainModel(o: TrainRunOptions): Promise<TrainSummary> {
  const { trainSpec } = o
  const task = createTask(trainSpec.task, trainSpec.seed)
  checkRun(o.modelSpec, trainSpec, task)
  // A run's peak memory is its own: the backend counts from what it holds now, not from an earlier
  // run of the same engine process (which could have been larger).
  o.backend.resetPeak()
  const run = new TrainingRun(o, precisionDTypes(o.precision ?? resolvePrecision(trainSpec.precision, o.backend.id)), task)
  try {
    run.prepare()
    return await run.train()
  } finally {
    run.dispose()
    // The run's tensors are freed; what the backend cached of them goes back too.
    o.backend.trimCache?.()
  }
}

/**
 * A step that failed (out of device memory, a refused call): which step,
 * why, and the checkpoint of the last finished step saved for a resume.
 */
export class TrainingStepError extends Error {
  constructor(
    readonly step: number,
    override readonly cause: unknown,
    readonly checkpoint: string | undefined,
    readonly checkpointStep: number,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause)
    const saved = checkpoint ? `; the weights of step ${checkpointStep} are in ${checkpoint}: resume from it` : ''
    super(`step ${step} failed: ${why}${saved}`)
    this.name = 'TrainingStepError'
  }
}

/** A step whose work is enqueued and whose loss and norm are not read yet. */
interface InFlight {
  step: number
  batch: LabelledBatch
  nll: Tensor
  grads: Map<string, Tensor>
  gradSqSum: Tensor
  /** The loss rows and the squared gradient norm, copying to the host since the step was enqueued. */
  nllRead: PendingRead
  gradSqSumRead: PendingRead
  lr: number
  /** The loss scale the step's pass used (1 but in f16). */
  lossScale: number
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
  /** An f16 run's dynamic loss scale (train/loss-scale.ts); undefined in other precisions. */
  private readonly scaler: LossScaler | undefined
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
  /** When the last step's read returned (performance.now()). */
  private lastFinish = 0
  private trainSeconds = 0
  /** The last THROUGHPUT_WINDOW steps' seconds: tokens/s over them (one step's alone is noise when steps overlap). */
  private recentSeconds: number[] = []
  private finalLoss = NaN
  private lastEval: EvalProgress | undefined
  /** Data parallel: the gradients' buckets, and the ranks' agreed stop request (data-parallel.ts). */
  private readonly buckets: GradientBuckets | undefined
  private agreedStop = false
  private readonly batches: BatchSource

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
    this.scaler = this.dtypes.compute === 'f16' ? new LossScaler() : undefined
    this.tokensPerStep = this.spec.batch_size * task.seqLen
    this.buckets = o.parallel ? new GradientBuckets(this.trainable, o.parallel) : undefined
    const script = o.batchWorker === false ? undefined : (o.batchWorker ?? bundledBatchWorker())
    this.batches =
      script && prefetchable(this.spec.task) ? prefetchedBatches(task, this.spec, this.spec.batch_size, script) : inlineBatches(task, this.spec.batch_size)
  }

  /**
   * Whether to stop after the current step. Data-parallel ranks must stop at
   * the same step, so they go by the request agreed in the last finished
   * step's exchange (finishStep), not by their own.
   */
  private stopWanted(): boolean {
    return this.o.parallel ? this.agreedStop : this.callbacks.shouldStop?.() === true
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
    } else if (this.o.initFrom) {
      restoreFrom(this.o.initFrom, this.o.modelSpec, this.dtypes.weights, this.model, undefined)
    }
    if (outDir) makeDirs(outDir)
    this.evalSets = this.task.evalSets(this.spec.batch_size, this.spec.eval.batches)
  }

  /** The last step of this run: max_steps when set (the schedule still spans `steps`). */
  private get lastStep(): number {
    return stopStep(this.spec)
  }

  /**
   * The loop. Where nothing happens between two steps (no eval, checkpoint,
   * stop or end), the next step is enqueued before this one's loss is read,
   * so a GPU never waits for the host between them; the step after an eval,
   * checkpoint or stop request waits, so those see exactly their step.
   */
  async train(): Promise<TrainSummary> {
    this.started = performance.now()
    this.lastFinish = this.started
    let ahead: InFlight | undefined
    try {
      for (let step = this.startStep; step < this.lastStep; step++) {
        const current = ahead ?? (await this.enqueueOrFail(step, undefined))
        ahead = undefined
        if (this.quietAfter(step + 1) && !this.stopWanted()) ahead = await this.enqueueOrFail(step + 1, current)
        await this.finishStep(current)
        // With the next step applied already, this one is not a place to stop: the next is.
        const end = ahead ? undefined : await this.betweenSteps(step + 1)
        if (end) return this.summary(end, step + 1)
      }
    } finally {
      if (ahead) this.release(ahead)
    }
    await this.save(this.lastStep)
    return this.summary('completed', this.lastStep)
  }

  /**
   * enqueueStep, or on failure a TrainingStepError: the step in flight before
   * it (if any) is finished first, and the last finished step's weights are
   * saved (nothing of the failed step was applied: its updates come last).
   */
  private async enqueueOrFail(step: number, inFlight: InFlight | undefined): Promise<InFlight> {
    try {
      return await this.enqueueStep(step)
    } catch (err) {
      if (inFlight) await this.finishStep(inFlight)
      const done = inFlight ? inFlight.step + 1 : step
      if (done > this.startStep) await this.save(done).catch(() => undefined)
      throw new TrainingStepError(step + 1, err, this.savedStep === done ? this.checkpoint : undefined, done)
    }
  }

  /** True when after step `done` (1-based) come no eval, checkpoint or end, and another step follows. */
  private quietAfter(done: number): boolean {
    if (done >= this.lastStep || done % this.spec.eval.every === 0) return false
    return !(this.spec.checkpoint_every > 0 && done % this.spec.checkpoint_every === 0)
  }

  dispose(): void {
    this.batches.dispose()
    this.optimizer.dispose()
    this.model.dispose()
  }

  // ---- one step: batch → forward and backward → clip and update → progress

  /**
   * Enqueues the whole step `step` (0-based): batch, forward and backward,
   * (data parallel: the sum of the ranks' gradients,) the device-side sum of
   * squared gradients, every update. Nothing is read (but by the relay test
   * double of data parallel);
   * the pass's activations are released at once (stream-ordered on a GPU),
   * keeping only what finishStep reads.
   */
  private async enqueueStep(step: number): Promise<InFlight> {
    this.callbacks.checkAlive?.()
    const whole = await this.batches.batch(step)
    const comm = this.o.parallel
    const batch = comm ? toDevice(this.backend, sliceBatch(whole, comm.rank, comm.world), labelCount(whole)) : toDevice(this.backend, whole)
    const lossScale = this.scaler?.scale ?? 1
    const ctx = new Ctx(this.backend, this.dtypes.compute, true, lossScale)
    try {
      const out = this.model.loss(ctx, batch)
      const buckets = this.buckets
      // Data parallel: each bucket of gradients is summed over the ranks as soon as the backward has finished it.
      ctx.backward([], buckets ? (position) => buckets.afterTapeStep(ctx, position) : undefined)
      if (buckets) {
        buckets.endBackward(ctx)
        await comm!.flush()
      }
      const grads = ctx.gradsByName(this.trainable)
      const gradSqSum = this.optimizer.gradSqSum(grads)
      const lr = learningRate(this.spec, step)
      this.optimizer.step(grads, lr, step + 1, { gradSqSum, maxNorm: this.spec.optimizer.grad_clip * lossScale, gradScale: 1 / lossScale })
      ctx.keep(out.nll, ...grads.values())
      // Started here, the copies wait for this step only, not for the next one enqueued after it.
      return { step, batch, nll: out.nll, grads, gradSqSum, nllRead: startRead(out.nll), gradSqSumRead: startRead(gradSqSum), lr, lossScale }
    } catch (err) {
      disposeBatch(batch)
      throw err
    } finally {
      ctx.dispose()
    }
  }

  /**
   * Reads an enqueued step's loss and gradient norm (the step's one wait) and
   * reports it as step + 1. A non-finite loss or norm ends the run; the device
   * skipped that update (and any step enqueued after it sees the same weights).
   */
  private async finishStep(s: InFlight): Promise<void> {
    try {
      const rows = await s.nllRead.read()
      let sum = 0
      for (let m = 0; m < s.batch.count; m++) sum += rows[m]!
      let loss = sum / s.batch.count
      const comm = this.o.parallel
      if (comm) {
        // The whole batch's loss, and whether any rank was asked to stop (they all stop after the same step).
        const [total, stops] = await comm.allReduceHost(Float64Array.of(sum, this.callbacks.shouldStop?.() === true ? 1 : 0))
        loss = total! / (s.batch.lossCount ?? s.batch.count)
        this.agreedStop ||= stops! > 0
      }
      if (!Number.isFinite(loss)) throw new TrainingDivergedError(s.step + 1, await locateNonFinite(this.model, this.backend, this.dtypes.compute, s.batch))
      const scaledNorm = AdamW.norm(await s.gradSqSumRead.read())
      // f16: gradients that overflowed f16 skipped the update on the device and halve the scale.
      const applied = this.scaler ? this.scaler.update(scaledNorm) : true
      const gradNorm = applied ? scaledNorm / s.lossScale : 0
      if (!Number.isFinite(gradNorm)) throw new TrainingDivergedError(s.step + 1, await locateNonFiniteGrad(s.grads))
      this.finalLoss = loss
      // Steps overlap on the device: a step's time is the wall time since the previous one finished.
      const now = performance.now()
      const seconds = (now - this.lastFinish) / 1000
      this.lastFinish = now
      this.trainSeconds += seconds
      this.reportStep(s.step + 1, loss, s.lr, gradNorm, seconds, this.scaler && { lossScale: this.scaler.scale, ...(applied ? {} : { skipped: true }) })
    } finally {
      this.release(s)
    }
  }

  private release(s: InFlight): void {
    for (const t of [s.nll, s.gradSqSum, ...s.grads.values()]) t.dispose()
    s.grads.clear()
    disposeBatch(s.batch)
  }

  private reportStep(done: number, loss: number, lr: number, gradNorm: number, seconds: number, f16?: Pick<StepProgress, 'lossScale' | 'skipped'>): void {
    const memory = this.backend.memory()
    // Steps overlap on the device, so two can finish back to back (the last one drains the queue):
    // a single step's tokens/s then reads in the millions. Over a window of steps the wall time is right.
    this.recentSeconds.push(seconds)
    if (this.recentSeconds.length > THROUGHPUT_WINDOW) this.recentSeconds.shift()
    const windowSeconds = this.recentSeconds.reduce((a, b) => a + b, 0)
    this.callbacks.onStep?.({
      step: done,
      steps: this.lastStep,
      loss,
      lr,
      gradNorm,
      tokensPerSecond: (this.tokensPerStep * this.recentSeconds.length) / Math.max(windowSeconds, 1e-9),
      elapsedSeconds: (performance.now() - this.started) / 1000,
      memoryBytes: memory.bytesInUse,
      peakMemoryBytes: memory.peakBytes,
      ...f16,
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
    return this.stopWanted()
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
