// Inspections as jobs: each runs in its own engine process and leaves its
// result in the run's inspect/ folder. Asking again for the same checkpoint
// and input answers from that file at once, with no engine. At most
// `maxConcurrent` (default 2) run at once; the rest wait with status
// 'queued' and start in order as slots free (JobSlots).
import { InspectRequestSchema, type InspectionSummary, type InspectRequest, type InspectResult } from '../api/inspect'
import type { InspectJob } from '../api/labapi'
import { formatErrors, validateWith } from '../api/validate'
import { EngineProcess, type EngineLauncher } from '../jobs/engine-process'
import {
  checkInspectionName,
  checkpointFile,
  hasInspection,
  InspectionError,
  inspectionName,
  listCheckpoints,
  listInspections,
  readInspection,
  writeInspection,
} from '../workspace/inspections'
import { checkId } from '../workspace/paths'
import type { LabEventBus } from './events'
import { JobSlots } from './job-slots'
import type { WorkspaceService } from './workspace-service'

/** Keys of this service's jobs in a JobSlots pool that may be shared with other services. */
const SLOT = 'inspect:'

export interface InspectServiceOptions {
  /** Most inspections running at once (each an engine process); default 2. */
  maxConcurrent?: number
  /** A pool shared with other services (profiles); overrides maxConcurrent. */
  slots?: JobSlots
}

export class InspectService {
  private readonly running = new Map<string, { engine: EngineProcess; stopped?: string; job: InspectJob }>()
  /** Queued jobs by key, as reported when they were queued. */
  private readonly queued = new Map<string, InspectJob>()
  private readonly slots: JobSlots

  constructor(
    private readonly workspaces: WorkspaceService,
    private readonly launcher: EngineLauncher,
    private readonly events: LabEventBus,
    options: InspectServiceOptions = {},
  ) {
    this.slots = options.slots ?? new JobSlots(options.maxConcurrent ?? 2)
  }

  /** The run's folder: the id checked (checkId) and the run known (a clear error for an unknown one). */
  private runDir(runId: string): string {
    const ws = this.workspaces.workspace
    ws.readRun(checkId('run id', runId))
    return ws.runDir(runId)
  }

  checkpoints(runId: string): { checkpoint: string; step: number }[] {
    return listCheckpoints(this.runDir(runId))
  }

  list(runId: string): InspectionSummary[] {
    return listInspections(this.runDir(runId))
  }

  get(runId: string, name: string): InspectResult {
    return readInspection(this.runDir(runId), name)
  }

  /** The run's inspections that are queued or running (they read its folder: it must stay while they do). */
  jobsOf(runId: string): InspectJob[] {
    return [...[...this.running.values()].map((r) => r.job), ...this.queued.values()].filter((j) => j.runId === runId)
  }

  private emit(job: InspectJob): void {
    this.events.emit('inspect.status', { job })
  }

  /**
   * Starts an inspection (status 'running'), queues it when every slot is
   * taken (status 'queued'), or answers from the cache when it exists
   * (unless `refresh`).
   */
  start(raw: InspectRequest, refresh = false): InspectJob {
    // Every id through checkId and every path through resolveInside (checkpointFile) before
    // anything is read: the request schema alone lets a run id like '../../x' through.
    const checked = validateWith(InspectRequestSchema, raw)
    if (!checked.ok) throw new InspectionError(`inspection request is not valid:\n${formatErrors(checked.errors)}`)
    const request = checked.value
    const runId = checkId('run id', request.runId)
    const ws = this.workspaces.workspace
    const run = ws.readRun(runId)
    const dir = ws.runDir(runId)
    const checkpoint = request.checkpoint ?? run.checkpoint
    if (!checkpoint) throw new InspectionError(`run '${run.name}' has no checkpoint yet (status ${run.status}); it saves one at the end of training`)
    let path: string
    try {
      path = checkpointFile(dir, checkpoint)
    } catch (err) {
      // The record's own field (the file is untrusted) is named as such, not as the caller's choice.
      if (request.checkpoint === undefined && err instanceof InspectionError)
        throw new InspectionError(`the checkpoint field of run '${runId}': ${err.message}`)
      throw err
    }
    const name = checkInspectionName(request.name ?? inspectionName(checkpoint, request))
    const key = `${runId}/${name}`
    const job: InspectJob = { runId, name, checkpoint, status: 'running' }
    if (this.running.has(key)) return job
    const waiting = this.queued.get(key)
    if (waiting) return waiting
    if (!refresh && hasInspection(dir, name)) {
      const done: InspectJob = { ...job, status: 'done', cached: true }
      this.emit(done)
      return done
    }
    const runJob = async (): Promise<void> => {
      this.queued.delete(key)
      const engine = new EngineProcess(this.launcher)
      const entry: { engine: EngineProcess; stopped?: string; job: InspectJob } = { engine, job }
      this.running.set(key, entry)
      engine.onEvent((event, data) => {
        if (event === 'inspect.progress') this.events.emit('inspect.progress', { runId, name, ...(data as { message: string; fraction: number }) })
      })
      this.emit(job)
      try {
        const result = await engine.call('inspect', { checkpointPath: path, checkpoint, runId, runName: run.name, name, request: { ...request, name } })
        writeInspection(dir, { ...result, runId, name })
        this.emit({ ...job, status: 'done' })
      } catch (err) {
        this.emit({ ...job, status: 'failed', failure: entry.stopped ?? (err as Error).message })
      } finally {
        engine.stop()
        this.running.delete(key)
      }
    }
    if (!this.slots.free) {
      const queued: InspectJob = { ...job, status: 'queued' }
      this.queued.set(key, queued)
      this.slots.submit(SLOT + key, runJob)
      this.emit(queued)
      return queued
    }
    this.slots.submit(SLOT + key, runJob)
    return job
  }

  /** Cancels an inspection: a queued one never starts, a running one's engine is stopped. Both end 'failed' (cancelled). */
  cancel(runId: string, name: string): InspectJob {
    const key = `${checkId('run id', runId)}/${checkInspectionName(name)}`
    const waiting = this.queued.get(key)
    if (waiting && this.slots.cancel(SLOT + key)) {
      this.queued.delete(key)
      const failed: InspectJob = { ...waiting, status: 'failed', failure: 'cancelled before it started' }
      this.emit(failed)
      return failed
    }
    const entry = this.running.get(key)
    if (entry) {
      entry.stopped = 'cancelled'
      entry.engine.stop()
      return entry.job
    }
    throw new InspectionError(`no inspection '${name}' of run '${runId}' is running or queued`)
  }

  /** Keys of queued inspections ("<runId>/<name>"), in the order they will start. */
  queuedKeys(): string[] {
    return this.slots.queuedKeys().flatMap((k) => (k.startsWith(SLOT) && this.queued.has(k.slice(SLOT.length)) ? [k.slice(SLOT.length)] : []))
  }

  /** Resolves when the inspection is neither running nor queued (tests, CLI). */
  async wait(runId: string, name: string): Promise<void> {
    const key = `${runId}/${name}`
    while (this.running.has(key) || this.queued.has(key)) await new Promise((r) => setTimeout(r, 50))
  }

  /** Drops the queue (those jobs end 'failed', never started) and stops the running engines. */
  stop(): void {
    for (const slotKey of this.slots.clear((k) => k.startsWith(SLOT) && this.queued.has(k.slice(SLOT.length)))) {
      const key = slotKey.slice(SLOT.length)
      const job = this.queued.get(key)!
      this.queued.delete(key)
      this.emit({ ...job, status: 'failed', failure: 'stopped before it started' })
    }
    for (const e of this.running.values()) {
      e.stopped = 'stopped: the app or its workspace closed'
      e.engine.stop()
    }
  }
}
