// Engine processes as Electron utility processes: a native crash in a job
// ends that process only. Same EngineChannel as the fork launcher.
import { utilityProcess } from 'electron'
import type { EngineChannel, EngineLauncher } from '../jobs/engine-process'
import type { EngineToHost } from '../engine/protocol'

export function utilityLauncher(entry: string): EngineLauncher {
  return (): EngineChannel => {
    const child = utilityProcess.fork(entry, [], { serviceName: 'Linea engine', stdio: 'inherit' })
    return {
      get pid() {
        return child.pid
      },
      send: (m) => child.postMessage(m),
      onMessage: (fn) => child.on('message', (m) => fn(m as EngineToHost)),
      onExit: (fn) => child.once('exit', (code) => fn(`engine process exited with code ${code}`)),
      kill: () => void child.kill(),
    }
  }
}
