// Engine processes as Electron utility processes (the job runner's
// EngineLauncher): a native crash in a job ends that process only, and the
// run fails with how it ended. Same EngineChannel as the fork launcher.
import { utilityProcess } from 'electron'
import { engineEnv, type EngineChannel, type EngineLauncher } from '../jobs/engine-process'
import type { EngineToHost } from '../engine/protocol'
import { appendTail, describeEngineExit } from './engine-exit'

export function utilityLauncher(entry: string, env: NodeJS.ProcessEnv = engineEnv()): EngineLauncher {
  return (): EngineChannel => {
    const child = utilityProcess.fork(entry, [], { serviceName: 'Linea engine', stdio: ['ignore', 'inherit', 'pipe'], env })
    let stderrTail = ''
    let fatal: string | undefined
    let exited = false
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk)
      stderrTail = appendTail(stderrTail, chunk.toString())
    })
    child.on('error', (type, location) => {
      fatal = `${type} at ${location}`
    })
    child.once('exit', () => {
      exited = true
    })
    return {
      get pid() {
        return child.pid
      },
      send: (m) => {
        if (!exited) child.postMessage(m)
      },
      onMessage: (fn) => child.on('message', (m: unknown) => fn(m as EngineToHost)),
      onExit: (fn) => child.once('exit', (code) => fn(describeEngineExit(code, stderrTail, fatal))),
      kill: () => void child.kill(),
    }
  }
}
