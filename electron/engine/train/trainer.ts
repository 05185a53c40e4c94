// The training loop: batches from the task, forward and backward through the
// tape, gradient clipping, AdamW with the schedule, evaluation, early stop,
// NaN/inf detection that names the step and the layer, checkpoints, resume
// and cancellation (finishing the step and saving a consistent checkpoint).
import { mkdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ModelSpec } from '../../api/model-spec'
import type { EvalProgress, StepProgress } from '../../api/runs'
import type { TrainSpec } from '../../api/train-spec'
import { Ctx } from '../autograd/context'
import type { Backend } from '../backend'
import { CheckpointError, readCheckpoint, restoreCheckpoint, saveCheckpoint } from '../checkpoint/checkpoint'
import { Model } from '../model/model'
import { createTask } from '../tasks'
import type { FloatDType, Tensor } from '../tensor'
import { disposeBatch, toDevice, type LabelledBatch } from './device-batch'
import { evaluate } from './evaluate'
import { AdamW } from './optimizer'
import { checkRun } from './run-checks'
import { learningRate } from './schedule'

export interface TrainEvents {
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
  /** Where checkpoints go (created); none saved without it. */
  outDir?: string
  /** A checkpoint to continue from: same specs, same data stream, same curve. */
  resumeFrom?: string
  events?: TrainEvents
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
async function locateNonFinite(model: Model, backend: Backend, dtype: FloatDType, batch: LabelledBatch): Promise<string> {
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

export async function trainModel(o: TrainRunOptions): Promise<TrainSummary> {
  const { modelSpec, trainSpec, backend, events = {} } = o
  if (trainSpec.precision === 'bf16') throw new Error(`precision 'bf16' needs a GPU backend; ${backend.id} computes in f32 or f64`)
  const dtype: FloatDType = trainSpec.precision
  const task = createTask(trainSpec.task, trainSpec.seed)
  checkRun(modelSpec, trainSpec, task)

  const model = new Model(modelSpec, backend, dtype, trainSpec.seed)
  const trainable = model.params.trainable()
  const opt = trainSpec.optimizer
  const optimizer = new AdamW(backend, trainable, { beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay: opt.weight_decay })
  let startStep = 0
  if (o.resumeFrom) {
    // A FIFO or a device would block the read (and the process) for good.
    let st
    try {
      st = statSync(o.resumeFrom)
    } catch (err) {
      throw new CheckpointError(o.resumeFrom, `cannot be read: ${(err as Error).message}`)
    }
    if (!st.isFile()) throw new CheckpointError(o.resumeFrom, 'is not a regular file')
    const state = readCheckpoint(o.resumeFrom)
    if (JSON.stringify(state.modelSpec) !== JSON.stringify(modelSpec))
      throw new Error(`checkpoint ${o.resumeFrom} was trained with another ModelSpec; resume needs the same one`)
    if (state.dtype !== dtype) throw new Error(`checkpoint ${o.resumeFrom} is ${state.dtype}, the run is ${dtype}`)
    restoreCheckpoint(o.resumeFrom, state, model, optimizer)
    startStep = state.step
  }
  // The step whose checkpoint is on disk already: not saved again (a cancel on
  // a checkpoint step, a resume of a finished run), so each step has one file
  // and one checkpoint event.
  let savedStep = -1
  let checkpoint: string | undefined
  if (o.resumeFrom && o.outDir && resolve(o.resumeFrom) === resolve(checkpointPath(o.outDir, startStep))) {
    savedStep = startStep
    checkpoint = o.resumeFrom
  }
  if (o.resumeFrom) events.onResume?.(startStep)
  if (o.outDir) mkdirSync(o.outDir, { recursive: true })
  const evalSets = task.evalSets(trainSpec.batch_size, trainSpec.eval.batches)
  const tokensPerStep = trainSpec.batch_size * task.seqLen
  const started = performance.now()
  let trainSeconds = 0
  let finalLoss = NaN
  let lastEval: EvalProgress | undefined
  let status: TrainStatus = 'completed'

  const save = async (step: number) => {
    if (!o.outDir || step === savedStep) return
    events.checkAlive?.()
    const path = checkpointPath(o.outDir, step)
    await saveCheckpoint(path, model, optimizer, trainSpec, step)
    savedStep = step
    checkpoint = path
    events.onCheckpoint?.(path, step)
  }
  const runEval = async (step: number) => {
    const sets = await evaluate(model, backend, dtype, task, evalSets)
    const first = sets[0]!
    lastEval = {
      step,
      sets,
      headline: task.headline === 'accuracy' ? first.accuracy : first.bitsPerByte,
      headlineName: task.headline,
    }
    events.onEval?.(lastEval)
    return lastEval
  }

  try {
    for (let step = startStep; step < trainSpec.steps; step++) {
      events.checkAlive?.()
      const t0 = performance.now()
      const batch = toDevice(backend, task.trainBatch(step, trainSpec.batch_size))
      const ctx = new Ctx(backend, dtype, true)
      try {
        const out = model.loss(ctx, batch)
        const nll = await out.nll.read()
        let sum = 0
        for (let m = 0; m < batch.count; m++) sum += nll[m]!
        const loss = sum / batch.count
        if (!Number.isFinite(loss)) throw new TrainingDivergedError(step + 1, await locateNonFinite(model, backend, dtype, batch))
        ctx.backward([])
        const grads = new Map<string, Tensor>()
        for (const p of trainable) {
          const g = ctx.grad(p.tensor)
          if (g) grads.set(p.name, g)
        }
        const gradNorm = await optimizer.gradNorm(grads)
        if (!Number.isFinite(gradNorm)) {
          let where = 'the gradients'
          for (const [name, g] of grads)
            if (!(await isFinite(g))) {
              where = `the gradient of ${name}`
              break
            }
          throw new TrainingDivergedError(step + 1, where)
        }
        const clip = opt.grad_clip > 0 && gradNorm > opt.grad_clip ? opt.grad_clip / gradNorm : 1
        const lr = learningRate(trainSpec, step)
        optimizer.step(grads, lr, step + 1, clip)
        finalLoss = loss
        const seconds = (performance.now() - t0) / 1000
        trainSeconds += seconds
        const memory = backend.memory()
        events.onStep?.({
          step: step + 1,
          steps: trainSpec.steps,
          loss,
          lr,
          gradNorm,
          tokensPerSecond: tokensPerStep / seconds,
          elapsedSeconds: (performance.now() - started) / 1000,
          memoryBytes: memory.bytesInUse,
          peakMemoryBytes: memory.peakBytes,
        })
      } finally {
        ctx.dispose()
        disposeBatch(batch)
      }
      const done = step + 1
      const last = done === trainSpec.steps
      if (done % trainSpec.eval.every === 0 || last) {
        const e = await runEval(done)
        if (trainSpec.early_stop_accuracy !== null && task.headline === 'accuracy' && e.headline >= trainSpec.early_stop_accuracy) {
          status = 'early_stopped'
          await save(done)
          return summary(done)
        }
      }
      if (trainSpec.checkpoint_every > 0 && done % trainSpec.checkpoint_every === 0 && !last) await save(done)
      // Let messages (cancel) arrive between steps.
      await new Promise((r) => setImmediate(r))
      if (events.shouldStop?.()) {
        status = 'cancelled'
        await save(done)
        return summary(done)
      }
    }
    await save(trainSpec.steps)
    return summary(trainSpec.steps)
  } finally {
    optimizer.dispose()
    model.dispose()
  }

  function summary(steps: number): TrainSummary {
    return {
      status,
      steps,
      finalLoss,
      lastEval,
      checkpoint,
      parameters: model.params.count(),
      seconds: (performance.now() - started) / 1000,
      tokensPerSecond: ((steps - startStep) * tokensPerStep) / Math.max(trainSeconds, 1e-9),
    }
  }
}
