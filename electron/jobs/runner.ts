// The job runner: runs of a workspace, one at a time (a sweep runs run after
// run), each in its own engine process. It writes the run's record and
// metrics as progress arrives and forwards it as LabApi events. If the
// engine process dies, the run is marked failed with the reason, its
// metrics up to the last complete line stay, and the queue goes on.
import { relative } from 'node:path'
import type { MetricsLine, RunRecord } from '../api/runs'
import type { TrainEvents } from '../engine/protocol'
import type { LabEventBus } from '../services/events'
import type { Workspace } from '../workspace/workspace'
import { EngineCallError, EngineExitedError, EngineProcess, type EngineLauncher } from './engine-process'

/** Run records are rewritten at most this often while training (metrics lines go out at once). */
const RECORD_INTERVAL_MS = 1000

export class JobRunner {
  private readonly queue: { id: string; resume: boolean }[] = []
  private current: { id: string; engine: EngineProcess; cancelled: boolean } | undefined
  private draining: Promise<void> | undefined
  private stopped = false

  constructor(
    private readonly workspace: Workspace,
    private readonly launcher: EngineLauncher,
    private readonly events: LabEventBus,
  ) {}

  /**
   * Runs left 'running' or 'queued' by an app that stopped (crash, kill) have
   * no process any more: they are marked failed, and can be resumed.
   */
  recoverInterrupted(): RunRecord[] {
    const recovered: RunRecord[] = []
    for (const run of this.workspace.listRuns().runs) {
      if (run.status !== 'running' && run.status !== 'queued') continue
      const failure = `the app stopped while the run was ${run.status}; resume it from its last checkpoint${run.checkpoint ? '' : ' (it has none: start it again)'}`
      recovered.push(this.workspace.updateRun(run.id, { status: 'failed', endedMs: Date.now(), failure }))
      this.workspace.appendMetrics(run.id, { type: 'status', status: 'failed', atMs: Date.now(), failure })
    }
    return recovered
  }

  get runningId(): string | undefined {
    return this.current?.id
  }

  /** The engine process of the running job. */
  get runningPid(): number | undefined {
    return this.current?.engine.pid
  }

  queuedIds(): string[] {
    return this.queue.map((q) => q.id)
  }

  /** Queues a run (status queued); runs start in order. */
  enqueue(id: string, resume = false): void {
    if (this.current?.id === id || this.queue.some((q) => q.id === id)) return
    this.queue.push({ id, resume })
    this.publish(this.workspace.updateRun(id, { status: 'queued', failure: undefined }))
    this.kick()
  }

  /** A queued run is dropped; a running one finishes its step and saves a checkpoint. */
  cancel(id: string): RunRecord {
    const i = this.queue.findIndex((q) => q.id === id)
    if (i >= 0) {
      this.queue.splice(i, 1)
      const run = this.workspace.updateRun(id, { status: 'cancelled', endedMs: Date.now() })
      this.workspace.appendMetrics(id, { type: 'status', status: 'cancelled', atMs: Date.now() })
      this.publish(run)
      return run
    }
    if (this.current?.id === id) {
      this.current.cancelled = true
      this.current.engine.cancel()
      return this.workspace.readRun(id)
    }
    return this.workspace.readRun(id)
  }

  /** Continues a stopped run from its last checkpoint. */
  resume(id: string): RunRecord {
    const run = this.workspace.readRun(id)
    if (!run.checkpoint) throw new Error(`run ${id} has no checkpoint to resume from; start it again instead`)
    if (run.status === 'running' || run.status === 'queued') throw new Error(`run ${id} is ${run.status}`)
    this.enqueue(id, true)
    return this.workspace.readRun(id)
  }

  /** Stops the current job (killing its process) and drops the queue. */
  stop(): void {
    this.stopped = true
    this.queue.length = 0
    this.current?.engine.stop()
  }

  /** Resolves when the queue is empty. */
  idle(): Promise<void> {
    return this.draining ?? Promise.resolve()
  }

  private kick(): void {
    if (this.draining || this.stopped) return
    this.draining = (async () => {
      while (this.queue.length && !this.stopped) {
        const next = this.queue.shift()!
        await this.runOne(next.id, next.resume)
      }
    })().finally(() => {
      this.draining = undefined
    })
  }

  private publish(run: RunRecord): void {
    this.events.emit('run.status', { run })
  }

  private line(id: string, line: MetricsLine): void {
    this.workspace.appendMetrics(id, line)
    this.events.emit('run.metrics', { runId: id, line })
  }

  private async runOne(id: string, resume: boolean): Promise<void> {
    const ws = this.workspace
    let run = ws.readRun(id)
    const engine = new EngineProcess(this.launcher)
    this.current = { id, engine, cancelled: false }
    run = ws.updateRun(id, { status: 'running', startedMs: run.startedMs ?? Date.now(), endedMs: undefined, failure: undefined })
    this.line(id, { type: 'status', status: 'running', atMs: Date.now() })
    this.publish(run)
    let pending: Partial<RunRecord> = {}
    let lastWrite = 0
    const flush = (force = false) => {
      if (!force && Date.now() - lastWrite < RECORD_INTERVAL_MS) return
      if (Object.keys(pending).length) this.publish(ws.updateRun(id, pending))
      pending = {}
      lastWrite = Date.now()
    }
    let best = run.bestAccuracy
    engine.onEvent((name, data) => {
      if (name === 'train.backend') pending.backend = (data as TrainEvents['train.backend']).reason
      if (name === 'train.step') {
        const p = data as TrainEvents['train.step']
        this.line(id, { type: 'train', ...p })
        pending.steps = p.step
        pending.lastLoss = p.loss
      }
      if (name === 'train.eval') {
        const e = data as TrainEvents['train.eval']
        this.line(id, { type: 'eval', step: e.step, headline: e.headline, headlineName: e.headlineName, sets: e.sets })
        if (e.headlineName === 'accuracy' && (best === undefined || e.headline > best)) pending.bestAccuracy = best = e.headline
      }
      if (name === 'train.checkpoint') {
        const c = data as TrainEvents['train.checkpoint']
        this.line(id, { type: 'checkpoint', step: c.step, path: relative(ws.runDir(id), c.path) })
        pending.checkpoint = relative(ws.runDir(id), c.path)
        flush(true)
        return
      }
      flush()
    })
    try {
      const resumeFrom = resume && run.checkpoint ? `${ws.runDir(id)}/${run.checkpoint}` : undefined
      const summary = await engine.call('train', { modelSpec: run.modelSpec, trainSpec: run.trainSpec, outDir: ws.checkpointsDir(id), resumeFrom })
      flush(true)
      const checkpoint = summary.checkpoint ? relative(ws.runDir(id), summary.checkpoint) : ws.readRun(id).checkpoint
      run = ws.updateRun(id, { status: summary.status, endedMs: Date.now(), steps: summary.steps, checkpoint })
      this.line(id, { type: 'status', status: summary.status, atMs: Date.now() })
    } catch (err) {
      flush(true)
      const reason =
        err instanceof EngineExitedError
          ? `the engine process ended: ${err.message}`
          : err instanceof EngineCallError
            ? `${err.engineName === 'Error' ? '' : `${err.engineName}: `}${err.message}`
            : String(err)
      run = ws.updateRun(id, { status: 'failed', endedMs: Date.now(), failure: reason })
      this.line(id, { type: 'status', status: 'failed', atMs: Date.now(), failure: reason })
    } finally {
      engine.stop()
      this.current = undefined
    }
    this.publish(run)
  }
}
