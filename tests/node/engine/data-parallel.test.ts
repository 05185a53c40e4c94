// Data-parallel training on the CPU: the ranks are real engine processes;
// their sums go through the parent with the relay transport, which is a
// TEST DOUBLE for NCCL (engine/train/relay-communicator.ts). What is checked
// is Linea's own logic: each rank's slice of the batch, the loss normalized
// by the whole batch, the gradient buckets reduced during the backward, the
// ranks agreeing on when to stop, and a failing rank ending the run.
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../../electron/api/model-spec'
import type { TrainSpec } from '../../../electron/api/train-spec'
import { Ctx } from '../../../electron/engine/autograd/context'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { Model } from '../../../electron/engine/model/model'
import { createTask } from '../../../electron/engine/tasks'
import { GradientBuckets, labelCount, sliceBatch, sliceRange, type Communicator } from '../../../electron/engine/train/data-parallel'
import { toDevice } from '../../../electron/engine/train/device-batch'
import { trainModel, type StepProgress } from '../../../electron/engine/train/trainer'
import type { EngineProcess } from '../../../electron/jobs/engine-process'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { RankFailedError, trainDataParallel } from '../../../electron/jobs/data-parallel'
import type { Tensor } from '../../../electron/engine/tensor'
import { quickTrainSpec, smallModelSpec } from '../../fixtures/runs'
import { until } from '../../fixtures/until'

const cpu = nativeBackend('cpu')

function spec(overrides: Partial<TrainSpec> = {}): TrainSpec {
  return quickTrainSpec({
    steps: 12,
    batch_size: 6,
    schedule: { warmup_steps: 2, decay: 'cosine', min_lr_ratio: 0.1 },
    eval: { every: 6, batches: 1 },
    checkpoint_every: 0,
    ...overrides,
  })
}

/** Records what a rank would hand its transport, and where in the backward (world 1: sums are the values). */
class RecordingCommunicator implements Communicator {
  readonly rank = 0
  readonly world = 1
  readonly transport = 'recording (test double)'
  calls: { tensors: number; inBackward: boolean }[] = []
  inBackward = false
  allReduceSum(tensors: Tensor[]): void {
    this.calls.push({ tensors: tensors.length, inBackward: this.inBackward })
  }
  flush(): Promise<void> {
    return Promise.resolve()
  }
  allReduceHost(values: Float64Array): Promise<Float64Array> {
    return Promise.resolve(values)
  }
  dispose(): void {}
}

describe('data parallel: slicing', () => {
  it('splits a batch into contiguous slices that cover it once, and refuses a batch smaller than the ranks', () => {
    const ranges = [0, 1, 2].map((r) => sliceRange(7, r, 3))
    expect(ranges).toEqual([
      [0, 2],
      [2, 4],
      [4, 7],
    ])
    expect(() => sliceRange(2, 0, 3)).toThrow('a batch of 2 cannot be split over 3 devices')
    expect(() => sliceRange(8, 3, 3)).toThrow('rank 3 is not in 0..2')
  })

  it('the slices of a task batch are the whole batch, tags included', () => {
    const task = createTask(spec().task, 0)
    const whole = task.trainBatch(3, 6)
    const parts = [0, 1].map((r) => sliceBatch(whole, r, 2))
    expect(parts.map((p) => p.batchSize)).toEqual([3, 3])
    expect(Int32Array.from([...parts[0]!.inputs, ...parts[1]!.inputs])).toEqual(whole.inputs)
    expect(Int32Array.from([...parts[0]!.labels, ...parts[1]!.labels])).toEqual(whole.labels)
    for (const tag of Object.keys(whole.tags)) expect(Int32Array.from([...parts[0]!.tags[tag]!, ...parts[1]!.tags[tag]!])).toEqual(whole.tags[tag])
    expect(labelCount(parts[0]!) + labelCount(parts[1]!)).toBe(labelCount(whole))
  })
})

describe('data parallel: gradient buckets', () => {
  it('learns the backward order on the first step, then reduces buckets while the backward still runs', () => {
    const modelSpec: ModelSpec = smallModelSpec('gla')
    const model = new Model(modelSpec, cpu, 'f32', 0)
    const comm = new RecordingCommunicator()
    const params = model.params.trainable()
    // A small cap: several buckets, so some can go before the backward ends.
    const buckets = new GradientBuckets(params, comm, 4096)
    const task = createTask(spec().task, 0)
    try {
      for (let step = 0; step < 2; step++) {
        comm.calls = []
        const batch = toDevice(cpu, task.trainBatch(step, 4))
        const ctx = new Ctx(cpu, 'f32', true)
        try {
          model.loss(ctx, batch)
          comm.inBackward = true
          ctx.backward([], (position) => buckets.afterTapeStep(ctx, position))
          comm.inBackward = false
          buckets.endBackward(ctx)
          const reached = params.filter((p) => ctx.grad(p.tensor) !== undefined)
          // Every gradient is reduced once per step.
          expect(comm.calls.reduce((n, c) => n + c.tensors, 0)).toBe(reached.length)
          if (step === 0) expect(comm.calls.every((c) => !c.inBackward)).toBe(true)
          else expect(comm.calls.filter((c) => c.inBackward).length).toBeGreaterThan(comm.calls.length / 2)
        } finally {
          ctx.dispose()
          batch.ids.dispose()
          batch.rows.dispose()
          batch.labels.dispose()
        }
      }
      const names = buckets.buckets!
      expect(names.length).toBeGreaterThan(2)
      // The backward finishes the final norm's gradient first (the head is tied to the
      // embedding here) and the embedding's last, after every block.
      expect(names[0]).toEqual(['final_norm.weight'])
      expect(names[names.length - 1]).toContain('embed.weight')
    } finally {
      model.dispose()
    }
  })
})

describe('data parallel: two CPU ranks through the relay test double', () => {
  const engines: EngineProcess[] = []
  afterEach(() => {
    for (const e of engines.splice(0)) e.stop()
  })

  it('two ranks with batch B train as one process with batch B: same losses, same eval', async () => {
    const modelSpec = smallModelSpec('gla')
    const trainSpec = spec({ backend: 'cpu' })
    const single: StepProgress[] = []
    const one = await trainModel({ modelSpec, trainSpec, backend: cpu, events: { onStep: (p) => single.push(p) } })

    const outDir = mkdtempSync(join(tmpdir(), 'linea-dp-'))
    const perRank: StepProgress[][] = [[], []]
    const summary = await trainDataParallel({
      launcher: forkLauncher(),
      params: { modelSpec, trainSpec, outDir },
      devices: { cpuRanks: 2 },
      transport: 'relay',
      onEvent: (rank, name, data) => name === 'train.step' && perRank[rank]!.push(data as StepProgress),
      onStarted: (e) => engines.push(...e),
    })
    expect(perRank[0]!.map((p) => p.step)).toEqual(single.map((p) => p.step))
    // f32 sums in another order: equal to a few units in the last place of the loss.
    perRank[0]!.forEach((p, n) => expect(Math.abs(p.loss - single[n]!.loss)).toBeLessThan(1e-5 * Math.max(1, single[n]!.loss)))
    perRank[0]!.forEach((p, n) => expect(Math.abs(p.gradNorm - single[n]!.gradNorm)).toBeLessThan(1e-4 * Math.max(1, single[n]!.gradNorm)))
    // Every rank reports the same (whole-batch) loss.
    perRank[1]!.forEach((p, n) => expect(p.loss).toBe(perRank[0]![n]!.loss))
    expect(summary.lastEval!.headline).toBeCloseTo(one.lastEval!.headline, 6)
    // Rank 0 alone wrote the final checkpoint.
    expect(readdirSync(outDir).filter((f) => f.endsWith('.safetensors'))).toEqual([`step-${String(12).padStart(7, '0')}.safetensors`])
  })

  it('a rank that dies ends the run with an error naming it, and stops the others', async () => {
    const modelSpec = smallModelSpec('gla')
    let steps = 0
    const running: EngineProcess[] = []
    const run = trainDataParallel({
      launcher: forkLauncher(),
      params: { modelSpec, trainSpec: spec({ backend: 'cpu', steps: 2000 }), outDir: mkdtempSync(join(tmpdir(), 'linea-dp-')) },
      devices: { cpuRanks: 2 },
      transport: 'relay',
      onEvent: (rank, name) => rank === 0 && name === 'train.step' && steps++,
      onStarted: (e) => {
        running.push(...e)
        engines.push(...e)
      },
    })
    await until('rank 0 to report two steps', () => steps >= 2)
    running[1]!.stop()
    const err = await run.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RankFailedError)
    expect((err as RankFailedError).rank).toBe(1)
    await until('rank 0 to be stopped', () => running[0]!.exited !== undefined)
  })
})
