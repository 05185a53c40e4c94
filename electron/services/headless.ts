// Wires the services for headless mode: engine processes by fork, the
// LabApi handlers, and the HTTP/WebSocket server in front of them.
import { join, relative } from 'node:path'
import { projectRoot } from '../platform/project-root'
import { forkLauncher } from '../jobs/engine-process'
import { startServer, type RunningServer } from '../server/server'
import { resolveInside } from '../workspace/paths'
import { defaultWorkspacePath } from '../workspace/workspace'
import type { EngineService } from './engine-service'
import { createLabServices } from './lab-services'
import type { WorkspaceService } from './workspace-service'
import type { ProfileService } from './profile-service'
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
  const services = createLabServices({ launcher: forkLauncher(), workspace: options.workspace ?? defaultWorkspacePath(), renderPdf })
  const { events, engine, workspaces, profiles, handlers } = services
  const server = await startServer({
    handlers,
    events,
    staticDir: options.staticDir ?? join(projectRoot(), 'out', 'renderer'),
    port: options.port,
    files: (path) => {
      // /reports/<profile-id>/report.html|pdf
      const m = /^\/reports\/([A-Za-z0-9_-]+)\/report\.(html|pdf)$/.exec(path)
      if (!m) return undefined
      // reportFile joins names without resolving links: a report, or a profile folder, that is a
      // symbolic link out of the workspace's profiles folder is refused here (PathError, served as 404).
      const root = join(workspaces.workspace.root, 'profiles')
      return resolveInside(root, relative(root, profiles.reportFile(m[1]!, m[2] as 'html' | 'pdf')))
    },
  })
  return {
    server,
    engine,
    workspaces,
    profiles,
    close: async () => {
      await server.close()
      services.stop()
    },
  }
}
