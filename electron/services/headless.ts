// Wires the services for headless mode: engine processes by fork, the
// LabApi handlers, and the HTTP/WebSocket server in front of them.
import { join } from 'node:path'
import { projectRoot } from '../engine/project-root'
import { forkLauncher } from '../jobs/engine-process'
import { startServer, type RunningServer } from '../server/server'
import { defaultWorkspacePath } from '../workspace/workspace'
import { EngineService } from './engine-service'
import { LabEventBus } from './events'
import { createLabHandlers } from './lab-service'
import { WorkspaceService } from './workspace-service'
import { ProfileService } from './profile-service'
import { InspectService } from './inspect-service'
import { renderPdf } from '../reports/pdf'

export interface HeadlessApp {
  server: RunningServer
  engine: EngineService
  workspaces: WorkspaceService
  profiles: ProfileService
  close(): Promise<void>
}

export interface HeadlessOptions {
  port?: number
  staticDir?: string
  /** The workspace folder; default: LINEA_WORKSPACE, else ~/Linea/workspace. */
  workspace?: string
}

export async function startHeadless(options: HeadlessOptions = {}): Promise<HeadlessApp> {
  const events = new LabEventBus()
  const engine = new EngineService(forkLauncher(), events)
  const workspaces = new WorkspaceService(options.workspace ?? defaultWorkspacePath(), forkLauncher(), events)
  const profiles = new ProfileService(workspaces, forkLauncher(), events, renderPdf)
  const inspections = new InspectService(workspaces, forkLauncher(), events)
  const handlers = createLabHandlers({ engine, workspaces, profiles, inspections })
  const server = await startServer({
    handlers,
    events,
    staticDir: options.staticDir ?? join(projectRoot(), 'out', 'renderer'),
    port: options.port,
    files: (path) => {
      // /reports/<profile-id>/report.html|pdf
      const m = /^\/reports\/([A-Za-z0-9_-]+)\/report\.(html|pdf)$/.exec(path)
      return m ? profiles.reportFile(m[1]!, m[2] as 'html' | 'pdf') : undefined
    },
  })
  return {
    server,
    engine,
    workspaces,
    profiles,
    close: async () => {
      await server.close()
      engine.stop()
      profiles.stop()
      workspaces.close()
    },
  }
}
