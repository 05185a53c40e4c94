// The open workspace and its job runner. Opening another workspace releases
// the first (its lock) once no run is in progress.
import type { WorkspaceInfo } from '../api/labapi'
import type { EngineLauncher } from '../jobs/engine-process'
import { JobRunner } from '../jobs/runner'
import { rememberWorkspace } from '../workspace/recent'
import { Workspace } from '../workspace/workspace'
import type { LabEventBus } from './events'

export class WorkspaceService {
  private ws: Workspace
  private jobRunner: JobRunner

  constructor(
    path: string,
    private readonly launcher: EngineLauncher,
    private readonly events: LabEventBus,
  ) {
    this.ws = Workspace.open(path)
    this.jobRunner = new JobRunner(this.ws, launcher, events)
    this.jobRunner.recoverInterrupted()
    rememberWorkspace(this.ws.root)
  }

  get workspace(): Workspace {
    return this.ws
  }

  get runner(): JobRunner {
    return this.jobRunner
  }

  info(): WorkspaceInfo {
    return { path: this.ws.root, name: this.ws.manifest.name, problems: [...this.ws.problems, ...this.ws.listRuns().problems] }
  }

  open(path: string): WorkspaceInfo {
    if (this.jobRunner.runningId) throw new Error(`run ${this.jobRunner.runningId} is training in ${this.ws.root}; cancel it or wait before opening another workspace`)
    const next = Workspace.open(path) // fails (locked, bad manifest) before the current one is let go
    this.jobRunner.stop()
    this.ws.close()
    this.ws = next
    this.jobRunner = new JobRunner(next, this.launcher, this.events)
    this.jobRunner.recoverInterrupted()
    rememberWorkspace(next.root)
    const info = this.info()
    this.events.emit('workspace.changed', info)
    return info
  }

  close(): void {
    this.jobRunner.stop()
    this.ws.close()
  }
}
