// Training batches made ahead on a worker thread (tasks/batch-prefetch.ts): the same batches as
// the training thread makes, in any order of steps asked for, and inline when the worker fails.
import { describe, expect, it } from 'vitest'
import type { Task } from '../../../electron/api/train-spec'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { createTask } from '../../../electron/engine/tasks'
import { type BatchWorkerScript, prefetchedBatches } from '../../../electron/engine/tasks/batch-prefetch'
import type { Batch } from '../../../electron/engine/tasks/types'
import { trainModel } from '../../../electron/engine/train/trainer'
import { quickTrainSpec, smallModelSpec } from '../../fixtures/runs'

// The worker from its TypeScript source (tests/fixtures/batch-worker-from-source.mjs).
const SCRIPT: BatchWorkerScript = { url: new URL('../../fixtures/batch-worker-from-source.mjs', import.meta.url) }
const MQAR: Task = { kind: 'mqar', seq_len: 64, num_kv_pairs: 8, power_a: 0.01, vocab_size: 64 }

function same(a: Batch, b: Batch): void {
  expect(a.batchSize).toBe(b.batchSize)
  expect(a.seqLen).toBe(b.seqLen)
  expect(Array.from(a.inputs)).toEqual(Array.from(b.inputs))
  expect(Array.from(a.labels)).toEqual(Array.from(b.labels))
  expect(Object.keys(a.tags).sort()).toEqual(Object.keys(b.tags).sort())
  for (const name of Object.keys(a.tags)) expect(Array.from(a.tags[name]!)).toEqual(Array.from(b.tags[name]!))
}

describe('batches made ahead on a worker thread', () => {
  it("are the training thread's batches, step by step, also after skipped steps", async () => {
    const task = createTask(MQAR, 7)
    const reference = createTask(MQAR, 7)
    const source = prefetchedBatches(task, { task: MQAR, seed: 7 }, 8, SCRIPT)
    try {
      for (const step of [0, 1, 2, 3, 9, 10, 4]) same(await source.batch(step), reference.trainBatch(step, 8))
      expect(source.mode).toBe('worker')
    } finally {
      source.dispose()
    }
  })

  it('fall back to the training thread when the worker cannot run, with the same batches', async () => {
    const task = createTask(MQAR, 3)
    const reference = createTask(MQAR, 3)
    const missing: BatchWorkerScript = { url: new URL('./no-such-worker.mjs', import.meta.url) }
    const source = prefetchedBatches(task, { task: MQAR, seed: 3 }, 4, missing)
    try {
      for (const step of [0, 1, 2]) same(await source.batch(step), reference.trainBatch(step, 4))
      expect(source.mode).toBe('inline')
    } finally {
      source.dispose()
    }
  })

  it('stop waiting for a worker that never answers, and make the batch inline', async () => {
    const task = createTask(MQAR, 5)
    const reference = createTask(MQAR, 5)
    const silent: BatchWorkerScript = { url: new URL('../../fixtures/batch-worker-silent.mjs', import.meta.url) }
    const source = prefetchedBatches(task, { task: MQAR, seed: 5 }, 4, silent, { patienceMs: 300 })
    try {
      same(await source.batch(0), reference.trainBatch(0, 4))
      expect(source.mode).toBe('inline')
      same(await source.batch(1), reference.trainBatch(1, 4))
    } finally {
      source.dispose()
    }
  })

  it('give a training run the same curve as batches made inline', async () => {
    const backend = nativeBackend('cpu')
    const trainSpec = quickTrainSpec({ steps: 6 })
    const losses = async (batchWorker: BatchWorkerScript | false) => {
      const out: number[] = []
      await trainModel({ modelSpec: smallModelSpec(), trainSpec, backend, batchWorker, events: { onStep: (p) => out.push(p.loss) } })
      return out
    }
    const inline = await losses(false)
    const worker = await losses(SCRIPT)
    expect(inline).toHaveLength(6)
    expect(worker).toEqual(inline)
    // The run does take the worker's batches: a worker answering with the next step's batch
    // gives another curve.
    const wrong = await losses({ url: new URL('../../fixtures/batch-worker-wrong-step.mjs', import.meta.url) })
    expect(wrong).toHaveLength(6)
    expect(wrong).not.toEqual(inline)
  })
})
