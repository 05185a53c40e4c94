// Training on the CPU backend: determinism, resume continuing the same loss
// curve, checkpoint round trips and broken files, NaN stop, specs the
// engine refuses, cancellation through the engine process.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../../electron/api/model-spec'
import { resizeModel } from '../../../electron/api/resize'
import type { TrainSpec } from '../../../electron/api/train-spec'
import { SpecValidationError } from '../../../electron/api/validate'
import { CheckpointError, readCheckpoint, restoreCheckpoint } from '../../../electron/engine/checkpoint/checkpoint'
import { readSafetensors, writeSafetensors } from '../../../electron/engine/checkpoint/safetensors'
import { loadAddon } from '../../../electron/engine/addon'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { Ctx } from '../../../electron/engine/autograd/context'
import { Model } from '../../../electron/engine/model/model'
import { createTask } from '../../../electron/engine/tasks'
import { disposeBatch, toDevice } from '../../../electron/engine/train/device-batch'
import { preset } from '../../../electron/api/presets'
import { trainModel, TrainingDivergedError, TrainingStepError, type StepProgress } from '../../../electron/engine/train/trainer'
import { EngineProcess, forkLauncher } from '../../../electron/jobs/engine-process'
import { quickTrainSpec, smallModelSpec } from '../../fixtures/runs'

const cpu = nativeBackend('cpu')
const tmp = () => mkdtempSync(join(tmpdir(), 'linea-train-'))

function smallModel(id = 'gla', overrides: Partial<ModelSpec> = {}): ModelSpec {
  return { ...smallModelSpec(id), ...overrides }
}

function smallTrain(overrides: Partial<TrainSpec> = {}): TrainSpec {
  return quickTrainSpec({ steps: 8, schedule: { warmup_steps: 2, decay: 'cosine', min_lr_ratio: 0.1 }, eval: { every: 4, batches: 1 }, ...overrides })
}

async function losses(model: ModelSpec, train: TrainSpec, extra: { outDir?: string; resumeFrom?: string; initFrom?: string } = {}) {
  const steps: StepProgress[] = []
  const summary = await trainModel({ modelSpec: model, trainSpec: train, backend: cpu, ...extra, events: { onStep: (p) => steps.push(p) } })
  return { summary, losses: steps.map((s) => s.loss), steps }
}

describe('training', () => {
  it('same seed, same machine: the same losses; another seed: others', async () => {
    const a = await losses(smallModel(), smallTrain())
    const b = await losses(smallModel(), smallTrain())
    const c = await losses(smallModel(), smallTrain({ seed: 1 }))
    expect(a.losses).toHaveLength(8)
    expect(a.losses.every(Number.isFinite)).toBe(true)
    expect(b.losses).toEqual(a.losses)
    expect(c.losses).not.toEqual(a.losses)
    expect(a.summary.lastEval!.sets[0]!.count).toBeGreaterThan(0)
  })

  it('gives the memory its backend cached back when the run ends', async () => {
    // The CUDA pool (and the CPU's block cache) keep freed blocks for the next step; a run that ended
    // holding them kept a data-parallel run's other process from the GPU (out of memory on cuda:0).
    const addon = loadAddon()
    const cachedDuring: number[] = []
    await trainModel({
      modelSpec: smallModel(),
      trainSpec: smallTrain({ steps: 3 }),
      backend: cpu,
      events: { onStep: () => cachedDuring.push(addon.memory('cpu').cachedBytes) },
    })
    expect(Math.max(...cachedDuring)).toBeGreaterThan(0)
    expect(addon.memory('cpu').cachedBytes).toBe(0)
  })

  it("reports its own peak memory, not a larger run's from earlier in the same engine process", async () => {
    // The backend's peak counted from process start: a small run after a large one reported the
    // large one's peak (the GPU benchmark's f16 rows read the f32 rows' peak to the byte).
    const peakOf = async (model: ModelSpec) => {
      const { steps } = await losses(model, smallTrain({ steps: 2 }))
      return Math.max(...steps.map((s) => s.peakMemoryBytes))
    }
    const large = await peakOf(resizeModel(preset('gla'), { d_model: 128, vocab_size: 64, heads: 2 }))
    const small = await peakOf(smallModel())
    expect(small).toBeGreaterThan(0)
    expect(small).toBeLessThan(large / 2)
    // And the same small run alone on a fresh peak reads the same.
    cpu.resetPeak()
    expect(await peakOf(smallModel())).toBe(small)
  })

  it("reports tokens/s over recent steps, not one step's: the last step drains the queue at once", async () => {
    // Steps overlap on the device, so the last one finishes right after the one before it; alone its
    // tokens/s read 230x the run's (4.3M against 18.9k on the build machine) and the CLI showed that.
    const reported: number[] = []
    const summary = await trainModel({
      modelSpec: smallModel(),
      trainSpec: smallTrain({ steps: 20 }),
      backend: cpu,
      events: { onStep: (p) => reported.push(p.tokensPerSecond) },
    })
    expect(reported).toHaveLength(20)
    expect(Math.max(...reported) / summary.tokensPerSecond).toBeLessThan(20)
  })

  it('enqueues the next step before reading this one where nothing happens between them', async () => {
    // Steps enqueued (AdamW groups) when each step is reported. 6 steps, an eval after 3 and 6:
    // step 1 is read with step 2 in flight, step 2 with 3; step 3 waits (its eval must see step 3
    // alone); then 4 with 5, 5 with 6, and 6 last. One step at a time would give 1, 2, 3, 4, 5, 6.
    let updates = 0
    const enqueuedAtReport: number[] = []
    cpu.observe((op) => {
      if (op === 'adamw_step') updates++
    })
    try {
      const model = smallModel()
      await trainModel({
        modelSpec: model,
        trainSpec: smallTrain({ steps: 6, eval: { every: 3, batches: 1 }, checkpoint_every: 0 }),
        backend: cpu,
        events: { onStep: () => enqueuedAtReport.push(updates) },
      })
    } finally {
      cpu.observe(undefined)
    }
    const perStep = updates / 6
    expect(Number.isInteger(perStep)).toBe(true)
    expect(enqueuedAtReport.map((n) => n / perStep)).toEqual([2, 3, 3, 5, 6, 6])
  })

  it("starts from another run's weights (a fine-tune): its first loss is theirs on the batch, its optimizer and step afresh", async () => {
    const dir = tmp()
    const source = await losses(smallModel(), smallTrain({ steps: 8 }), { outDir: dir })
    const checkpoint = source.summary.checkpoint!
    // Another task and schedule: only the weights come along.
    const tune = smallTrain({ steps: 3, seed: 5, optimizer: { ...smallTrain().optimizer, lr: 1e-4 } })
    const tuned = await losses(smallModel(), tune, { initFrom: checkpoint })
    const fresh = await losses(smallModel(), tune)
    expect(tuned.steps.map((s) => s.step)).toEqual([1, 2, 3])
    // The loss of step 1 is computed before its update: the source weights' loss on the fine-tune's first batch.
    const model = new Model(smallModel(), cpu, 'f32', 0)
    try {
      restoreCheckpoint(checkpoint, readCheckpoint(checkpoint), model)
      const task = createTask(tune.task, tune.seed)
      const batch = toDevice(cpu, task.trainBatch(0, tune.batch_size))
      const ctx = new Ctx(cpu, 'f32', false)
      try {
        const rows = await model.loss(ctx, batch).nll.read()
        const mean = Array.from(rows).reduce((a, b) => a + b, 0) / batch.count
        expect(tuned.losses[0]).toBeCloseTo(mean, 6)
      } finally {
        ctx.dispose()
        disposeBatch(batch)
      }
    } finally {
      model.dispose()
    }
    expect(Math.abs(tuned.losses[0]! - fresh.losses[0]!)).toBeGreaterThan(1e-3)
    // Another ModelSpec cannot take these weights.
    await expect(losses(smallModel('gated-deltanet'), tune, { initFrom: checkpoint })).rejects.toThrow(
      'was trained with another ModelSpec; starting from it needs the same one',
    )
  })

  it('a step that fails names its step and saves the last finished one, from which a resume continues the curve', async () => {
    const dir = tmp()
    const straight = await losses(smallModel(), smallTrain({ steps: 8 }))
    // A failure inside a step (as out of device memory would be), injected through the step's liveness check.
    let checks = 0
    const failed = await trainModel({
      modelSpec: smallModel(),
      trainSpec: smallTrain({ steps: 8 }),
      backend: cpu,
      outDir: dir,
      events: {
        checkAlive: () => {
          if (++checks === 4) throw new Error('injected: out of memory')
        },
      },
    }).catch((e) => e)
    expect(failed).toBeInstanceOf(TrainingStepError)
    const err = failed as TrainingStepError
    expect(err.message).toMatch(/^step \d+ failed: injected: out of memory; the weights of step \d+ are in .*: resume from it$/)
    expect(err.checkpointStep).toBe(err.step - 1)
    expect(readCheckpoint(err.checkpoint!).step).toBe(err.checkpointStep)
    const resumed = await losses(smallModel(), smallTrain({ steps: 8 }), { resumeFrom: err.checkpoint!, outDir: tmp() })
    expect(resumed.losses).toEqual(straight.losses.slice(err.checkpointStep))
  })

  it('resume from a checkpoint continues the same loss curve', async () => {
    const dir = tmp()
    const straight = await losses(smallModel(), smallTrain({ steps: 8 }))
    const first = await losses(smallModel(), smallTrain({ steps: 8, checkpoint_every: 4 }), { outDir: dir })
    const ckpt = join(dir, 'step-0000004.safetensors')
    expect(readCheckpoint(ckpt).step).toBe(4)
    const resumed = await losses(smallModel(), smallTrain({ steps: 8 }), { resumeFrom: ckpt, outDir: tmp() })
    expect(first.losses).toEqual(straight.losses)
    expect(resumed.losses).toEqual(straight.losses.slice(4))
  })

  it('a checkpoint carries both specs and every parameter, and a broken one is a clear error', async () => {
    const dir = tmp()
    const model = smallModel()
    const { summary } = await losses(model, smallTrain({ steps: 2 }), { outDir: dir })
    const state = readCheckpoint(summary.checkpoint!)
    expect(state.modelSpec).toEqual(model)
    expect(state.step).toBe(2)
    expect(Object.keys(state.tensors)).toContain('embed.weight')
    expect(Object.keys(state.tensors).some((n) => n.startsWith('optimizer.exp_avg.'))).toBe(true)
    const bytes = readFileSync(summary.checkpoint!)
    const truncated = join(dir, 'truncated.safetensors')
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100))
    expect(() => readCheckpoint(truncated)).toThrow(CheckpointError)
    expect(() => readCheckpoint(truncated)).toThrow(/truncated/)
    const foreign = join(dir, 'foreign.safetensors')
    writeFileSync(foreign, 'hello world, not a checkpoint')
    expect(() => readCheckpoint(foreign)).toThrow(/checkpoint .*foreign.safetensors/)
    // resume into another model spec is refused
    await expect(losses(smallModel('gla', { d_model: 16 }), smallTrain(), { resumeFrom: summary.checkpoint! })).rejects.toThrow(/another ModelSpec/)
  })

  it('stops at the first non-finite value, naming the step and the layer', async () => {
    // A checkpoint whose second layer's output projection went non-finite.
    const dir = tmp()
    const { summary } = await losses(smallModel(), smallTrain({ steps: 2 }), { outDir: dir })
    const file = readSafetensors(summary.checkpoint!)
    file.tensors['layers.1.mixer.o_proj']!.data.fill(NaN)
    const poisoned = join(dir, 'poisoned.safetensors')
    writeSafetensors(poisoned, file.tensors, file.metadata)
    const err = await losses(smallModel(), smallTrain({ steps: 4 }), { resumeFrom: poisoned }).catch((e) => e)
    expect(err).toBeInstanceOf(TrainingDivergedError)
    expect((err as Error).message).toBe('NaN/inf at step 3 in layer 1 (linear block output)')
  })

  it('max_steps stops after N steps on the schedule of the full run, with an eval and a checkpoint there', async () => {
    const dir = tmp()
    const schedule = { warmup_steps: 1, decay: 'cosine' as const, min_lr_ratio: 0 }
    const full = await losses(smallModel(), smallTrain({ steps: 8, schedule }))
    const short = await losses(smallModel(), smallTrain({ steps: 8, max_steps: 4, schedule }), { outDir: dir })
    expect(short.summary.status).toBe('completed')
    expect(short.summary.steps).toBe(4)
    expect(short.steps.map((s) => s.step)).toEqual([1, 2, 3, 4])
    expect(short.steps.every((s) => s.steps === 4)).toBe(true)
    // The same steps as the full run: same batches, same learning rates (cosine over 8 steps, not 4).
    expect(short.losses).toEqual(full.losses.slice(0, 4))
    expect(short.steps.map((s) => s.lr)).toEqual(full.steps.slice(0, 4).map((s) => s.lr))
    const lr = smallTrain().optimizer.lr
    // step 4 (0-based 3) is (3 − 1) / (8 − 1) of the way through the cosine
    expect(short.steps[3]!.lr).toBeCloseTo(lr * 0.5 * (1 + Math.cos((Math.PI * 2) / 7)), 12)
    expect(short.summary.lastEval?.step).toBe(4)
    expect(readCheckpoint(short.summary.checkpoint!).step).toBe(4)
  })

  it('refuses specs the engine cannot run, naming the field', async () => {
    const hybrid = resizeModel(preset('hybrid-gated-deltanet'), { d_model: 32, vocab_size: 64, heads: 2, n_layers: 2 })
    hybrid.layers[1] = { kind: 'softmax', heads: 2, window: 999, rotary: true }
    const err = await losses(hybrid, smallTrain()).catch((e) => e)
    expect(err).toBeInstanceOf(SpecValidationError)
    expect((err as Error).message).toContain('model.layers[1].window: 999 is longer than any sequence the task makes (at most 32)')
    const tooSmall = await losses(smallModel('gla', { vocab_size: 16 }), smallTrain()).catch((e) => e)
    expect((tooSmall as Error).message).toContain('model.vocab_size: 16 is smaller than the mqar task needs (64 tokens)')
  })
})

describe('training in an engine process', () => {
  it('streams progress, cancels after a step and leaves a consistent checkpoint', async () => {
    const engine = new EngineProcess(forkLauncher())
    const dir = tmp()
    const events: string[] = []
    engine.onEvent((name) => {
      events.push(name)
      if (name === 'train.step') engine.cancel()
    })
    try {
      const summary = await engine.call('train', { modelSpec: smallModel(), trainSpec: smallTrain({ steps: 1000 }), outDir: dir })
      expect(summary.status).toBe('cancelled')
      expect(summary.steps).toBeGreaterThanOrEqual(1)
      expect(summary.steps).toBeLessThan(1000)
      expect(events[0]).toBe('train.backend')
      expect(events).toContain('train.step')
      expect(readCheckpoint(summary.checkpoint!).step).toBe(summary.steps)
    } finally {
      engine.stop()
    }
  })
})
