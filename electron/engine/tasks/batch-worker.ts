// The worker thread of batch-prefetch.ts: builds the run's task from its spec and seed, then
// answers each step number with that step's training batch, its arrays moved, not copied.
// TaskGenerator's contract (the same seed, step and batch size give the same batch) makes its
// batches the ones the training thread would have made.
import { parentPort, workerData } from 'node:worker_threads'
import type { Task } from '../../api/train-spec'
import { createTask } from './index'
import type { Batch } from './types'

/** What the worker starts with. */
export interface BatchWorkerData {
  task: Task
  seed: number
  batchSize: number
}

/** A reply: the step's batch, or why there is none. */
export type BatchWorkerReply = { step: number; batch: Batch } | { step: number; error: string }

/** The distinct buffers of a batch's arrays, to transfer with it. */
export function batchBuffers(b: Batch): ArrayBuffer[] {
  const arrays = [b.inputs, b.labels, ...Object.values(b.tags)]
  return [...new Set(arrays.map((a) => a.buffer as ArrayBuffer))]
}

function serve(port: NonNullable<typeof parentPort>, data: BatchWorkerData): void {
  const task = createTask(data.task, data.seed)
  port.on('message', (step: number) => {
    let reply: BatchWorkerReply
    try {
      const batch = task.trainBatch(step, data.batchSize)
      reply = { step, batch }
      port.postMessage(reply, batchBuffers(batch))
    } catch (err) {
      reply = { step, error: err instanceof Error ? err.message : String(err) }
      port.postMessage(reply)
    }
  })
}

if (parentPort && workerData && typeof workerData === 'object' && 'task' in workerData) serve(parentPort, workerData as BatchWorkerData)
