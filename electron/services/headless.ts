// Wires the services for headless mode: engine processes by fork, the
// LabApi handlers, and the HTTP/WebSocket server in front of them.
import { join } from 'node:path'
import { projectRoot } from '../engine/project-root'
import { forkLauncher } from '../jobs/engine-process'
import { startServer, type RunningServer } from '../server/server'
import { EngineService } from './engine-service'
import { LabEventBus } from './events'
import { createLabHandlers } from './lab-service'

export interface HeadlessApp {
  server: RunningServer
  engine: EngineService
  close(): Promise<void>
}

export async function startHeadless(options: { port?: number; staticDir?: string } = {}): Promise<HeadlessApp> {
  const events = new LabEventBus()
  const engine = new EngineService(forkLauncher(), events)
  const handlers = createLabHandlers({ engine })
  const server = await startServer({
    handlers,
    events,
    staticDir: options.staticDir ?? join(projectRoot(), 'out', 'renderer'),
    port: options.port,
  })
  return {
    server,
    engine,
    close: async () => {
      await server.close()
      engine.stop()
    },
  }
}
