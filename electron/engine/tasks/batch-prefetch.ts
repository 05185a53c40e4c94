// Training batches made ahead of the step that needs them, on a worker thread. The training
// thread enqueues a step's work on the device and then makes the next batch: on a GPU, where a
// small model's step is bound by the host (MQAR at T = 512, batch 128: about 2 ms of generation
// in 8–11 ms of step, bench/gpu/README.md, nineteenth session), the worker takes that off it.
// The worker runs the same task code on its own copy of the task (batch-worker.ts); where no
// worker can run (a source checkout without the bundled script, a worker that fails), batches
// are made inline as before, and TaskGenerator's contract makes both give the same batches.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Task } from '../../api/train-spec'
import type { BatchWorkerData, BatchWorkerReply } from './batch-worker'
import type { Batch, TaskGenerator } from './types'

export interface BatchSource {
  /** Step `step`'s training batch (steps are asked for in increasing order). */
  batch(step: number): Promise<Batch>
  /** 'worker' while a worker makes the batches; 'inline' once batches are made on this thread. */
  readonly mode: 'worker' | 'inline'
  dispose(): void
}

/** Where the worker script is, and how to start it (execArgv: e.g. a TypeScript loader in tests). */
export interface BatchWorkerScript {
  url: URL
  execArgv?: string[]
}

/** How long a step waits for its batch from the worker before the run makes it inline and drops the worker. */
export const WORKER_PATIENCE_MS = 60_000

/** Batches made on this thread, when asked for. */
export function inlineBatches(task: TaskGenerator, batchSize: number): BatchSource {
  return { mode: 'inline', batch: (step) => Promise.resolve(task.trainBatch(step, batchSize)), dispose: () => undefined }
}

/**
 * The bundled worker script beside this module (out/main/batch-worker.js in the app, the
 * .mjs of the GPU box's bundles), or undefined where there is none (tests and scripts run from
 * the TypeScript sources) or LINEA_BATCH_WORKER=0 asks for inline batches (comparisons).
 */
export function bundledBatchWorker(): BatchWorkerScript | undefined {
  if (process.env.LINEA_BATCH_WORKER === '0') return undefined
  for (const name of ['batch-worker.js', 'batch-worker.mjs']) {
    const url = new URL(`./${name}`, import.meta.url)
    if (url.protocol === 'file:' && existsSync(fileURLToPath(url))) return { url }
  }
  return undefined
}

/** Tasks read from files stay on the training thread: a worker would hold a second copy of the file. */
export function prefetchable(task: Task): boolean {
  return task.kind !== 'bytes'
}

/**
 * Batches from `script`, `depth` steps ahead of the step asked for. A failure of the worker (it
 * cannot start, a batch fails there, or a step waits `patienceMs` for its batch) turns the source
 * to inline batches from `task`, which then also gives any batch the worker owed: the run goes
 * on with the same batches.
 */
export function prefetchedBatches(
  task: TaskGenerator,
  spec: { task: Task; seed: number },
  batchSize: number,
  script: BatchWorkerScript,
  { depth = 2, patienceMs = WORKER_PATIENCE_MS }: { depth?: number; patienceMs?: number } = {},
): BatchSource {
  const data: BatchWorkerData = { task: spec.task, seed: spec.seed, batchSize }
  let worker: Worker | undefined
  // Steps asked of the worker, kept until batch() takes them; settled when the worker answers.
  const requests = new Map<number, { promise: Promise<Batch>; resolve: (b: Batch) => void; reject: (e: Error) => void }>()
  let unanswered = 0
  let failed = false
  const fail = (why: Error) => {
    if (failed) return
    failed = true
    for (const r of requests.values()) r.reject(why)
    requests.clear()
    void worker?.terminate()
    worker = undefined
  }
  try {
    worker = new Worker(script.url, { workerData: data, ...(script.execArgv && { execArgv: script.execArgv }) })
    worker.unref()
    worker.on('message', (reply: BatchWorkerReply) => {
      // Only an unanswered request keeps the process alive: an idle worker must not.
      if (--unanswered === 0) worker?.unref()
      const r = requests.get(reply.step)
      if (!r) return // a step skipped meanwhile
      if ('error' in reply) r.reject(new Error(reply.error))
      else r.resolve(reply.batch)
    })
    worker.on('error', (err) => fail(err))
    worker.on('exit', (code) => fail(new Error(`the batch worker exited (code ${code})`)))
  } catch (err) {
    fail(err as Error)
  }
  const request = (step: number) => {
    if (failed || !worker || requests.has(step)) return
    let resolve!: (b: Batch) => void
    let reject!: (e: Error) => void
    const promise = new Promise<Batch>((res, rej) => {
      resolve = res
      reject = rej
    })
    promise.catch(() => undefined) // a request dropped unasked-for must not count as unhandled
    requests.set(step, { promise, resolve, reject })
    if (unanswered++ === 0) worker.ref()
    worker.postMessage(step)
  }
  return {
    get mode() {
      return failed ? 'inline' : 'worker'
    },
    async batch(step: number): Promise<Batch> {
      for (const s of [...requests.keys()]) if (s < step) requests.delete(s) // skipped steps: not wanted
      for (let s = step; s <= step + depth; s++) request(s)
      const r = requests.get(step)
      if (!r) return task.trainBatch(step, batchSize)
      // A worker that neither answers nor fails (it should not happen) must not stall the run.
      const timer = setTimeout(() => fail(new Error(`no batch from the worker within ${patienceMs} ms`)), patienceMs)
      timer.unref()
      try {
        return await r.promise // kept in requests while awaited, so a failure of the worker rejects it
      } catch (err) {
        fail(err as Error)
        return task.trainBatch(step, batchSize)
      } finally {
        clearTimeout(timer)
        requests.delete(step)
      }
    },
    dispose() {
      failed = true
      requests.clear()
      void worker?.terminate()
      worker = undefined
    },
  }
}
