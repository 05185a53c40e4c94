// Inspections as jobs: each runs in its own engine process and leaves its
// result in the run's inspect/ folder. Asking again for the same checkpoint
// and input answers from that file at once, with no engine.
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
import type { WorkspaceService } from './workspace-service'

export class InspectService {
  private readonly running = new Map<string, EngineProcess>()

  constructor(
    private readonly workspaces: WorkspaceService,
    private readonly launcher: EngineLauncher,
    private readonly events: LabEventBus,
  ) {}

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

  /** Starts an inspection, or answers from the cache when it exists (unless `refresh`). */
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
      if (request.checkpoint === undefined && err instanceof InspectionError) throw new InspectionError(`the checkpoint field of run '${runId}': ${err.message}`)
      throw err
    }
    const name = checkInspectionName(request.name ?? inspectionName(checkpoint, request))
    const key = `${runId}/${name}`
    const job: InspectJob = { runId, name, checkpoint, status: 'running' }
    if (this.running.has(key)) return job
    if (!refresh && hasInspection(dir, name)) {
      const done: InspectJob = { ...job, status: 'done', cached: true }
      this.events.emit('inspect.status', { job: done })
      return done
    }
    const engine = new EngineProcess(this.launcher)
    this.running.set(key, engine)
    engine.onEvent((event, data) => {
      if (event === 'inspect.progress') this.events.emit('inspect.progress', { runId, name, ...(data as { message: string; fraction: number }) })
    })
    this.events.emit('inspect.status', { job })
    void engine
      .call('inspect', { checkpointPath: path, checkpoint, runId, runName: run.name, name, request: { ...request, name } })
      .then((result) => {
        writeInspection(dir, { ...result, runId, name })
        this.events.emit('inspect.status', { job: { ...job, status: 'done' } })
      })
      .catch((err: Error) => this.events.emit('inspect.status', { job: { ...job, status: 'failed', failure: err.message } }))
      .finally(() => {
        engine.stop()
        this.running.delete(key)
      })
    return job
  }

  /** Resolves when the inspection is no longer running (tests, CLI). */
  async wait(runId: string, name: string): Promise<void> {
    while (this.running.has(`${runId}/${name}`)) await new Promise((r) => setTimeout(r, 50))
  }

  stop(): void {
    for (const e of this.running.values()) e.stop()
  }
}
