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

export interface HeadlessApp {
  server: RunningServer
  engine: EngineService
  workspaces: WorkspaceService
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
  const handlers = createLabHandlers({ engine, workspaces })
  const server = await startServer({
    handlers,
    events,
    staticDir: options.staticDir ?? join(projectRoot(), 'out', 'renderer'),
    port: options.port,
  })
  return {
    server,
    engine,
    workspaces,
    close: async () => {
      await server.close()
      engine.stop()
      workspaces.close()
    },
  }
}
