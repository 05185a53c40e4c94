// The open workspace and its job runner. Opening another workspace releases
// the first (its lock) once no run is in progress.
// Opening never fails just because the workspace cannot be written (a full
// disk, a run folder gone bad): recovering interrupted runs and remembering
// the workspace are best effort, and what failed is listed in `info()`'s
// problems, so the server starts and says what is wrong.
import type { WorkspaceInfo } from '../api/labapi'
import type { RunRecord } from '../api/runs'
import type { EngineLauncher } from '../jobs/engine-process'
import { JobRunner, RunError } from '../jobs/runner'
import { rememberWorkspace } from './recent-workspaces'
import { Workspace, WorkspaceError, type WorkspaceProblem } from '../workspace/workspace'
import type { LabEventBus } from './events'

export class WorkspaceService {
  private ws: Workspace
  private jobRunner: JobRunner
  /** What could not be done when the workspace opened (recovery of interrupted runs). */
  private openProblems: WorkspaceProblem[] = []

  constructor(
    path: string,
    private readonly launcher: EngineLauncher,
    private readonly events: LabEventBus,
  ) {
    this.ws = Workspace.open(path)
    this.jobRunner = new JobRunner(this.ws, launcher, events)
    this.openProblems = this.settle()
  }

  /** Best-effort work after opening: marks interrupted runs failed and remembers the workspace; returns what failed. */
  private settle(): WorkspaceProblem[] {
    const problems: WorkspaceProblem[] = []
    try {
      this.jobRunner.recoverInterrupted()
    } catch (err) {
      problems.push({
        file: (err as WorkspaceError).file ?? this.ws.runsDir,
        problem: `runs left running by a stopped app could not all be marked failed: ${err instanceof Error ? err.message : String(err)}`,
      })
    }
    rememberWorkspace(this.ws.root) // swallows its own failures (a read-only home)
    return problems
  }

  get workspace(): Workspace {
    return this.ws
  }

  get runner(): JobRunner {
    return this.jobRunner
  }

  /**
   * 'running' or 'queued' when the runner has the run, or its record says so
   * (a record another Linea is writing); else undefined. With the run's name
   * when its record reads, for messages.
   */
  private inProgress(id: string): { status?: 'running' | 'queued'; name?: string } {
    let run: RunRecord | undefined
    try {
      run = this.ws.readRun(id)
    } catch {
      run = undefined // a broken run: the runner's state decides
    }
    const status =
      this.jobRunner.runningId === id
        ? 'running'
        : this.jobRunner.queuedIds().includes(id)
          ? 'queued'
          : run?.status === 'running' || run?.status === 'queued'
            ? run.status
            : undefined
    return { status, name: run?.name }
  }

  /** Archives a run (hidden from the table's default view) or brings it back; a running or queued run stays shown. */
  archiveRun(id: string, archived: boolean): RunRecord {
    const { status, name } = this.inProgress(id)
    if (archived && status) throw new RunError(`run ${id} ('${name ?? id}') is ${status}; cancel it or let it finish before archiving it`)
    const run = this.ws.setRunArchived(id, archived)
    this.events.emit('run.status', { run })
    return run
  }

  tagRun(id: string, add: readonly string[], remove: readonly string[]): RunRecord {
    const run = this.ws.tagRun(id, add, remove)
    this.events.emit('run.status', { run })
    return run
  }

  /** Deletes a run's folder; a running or queued run is refused, naming it and its status. */
  deleteRun(id: string): { id: string } {
    const { status, name } = this.inProgress(id)
    if (status) throw new RunError(`run ${id} ('${name ?? id}') is ${status}; cancel it first, then delete it`)
    this.ws.deleteRun(id)
    this.events.emit('run.deleted', { runId: id })
    return { id }
  }

  info(): WorkspaceInfo {
    return {
      path: this.ws.root,
      name: this.ws.manifest.name,
      problems: [...this.ws.problems, ...this.openProblems, ...this.jobRunner.problems, ...this.ws.listRuns().problems],
    }
  }

  open(path: string): WorkspaceInfo {
    if (this.jobRunner.runningId)
      throw new WorkspaceError(`run ${this.jobRunner.runningId} is training in ${this.ws.root}; cancel it or wait before opening another workspace`)
    const next = Workspace.open(path) // fails (locked, bad manifest) before the current one is let go
    this.jobRunner.stop()
    this.ws.close()
    this.ws = next
    this.jobRunner = new JobRunner(next, this.launcher, this.events)
    this.openProblems = this.settle()
    const info = this.info()
    this.events.emit('workspace.changed', info)
    return info
  }

  close(): void {
    this.jobRunner.stop()
    this.ws.close()
  }
}
