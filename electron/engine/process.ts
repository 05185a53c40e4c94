// Entry point of an engine process: loads the backend, answers calls from
// the main process, streams events. Runs under child_process.fork (headless
// mode) or Electron's utilityProcess; a crash here ends only this process.
import { demoForward } from './demo'
import { engineInfo } from './info'
import { nativeBackend } from './native-backend'
import type { EngineErrorBody, EngineMethods, EngineToHost, HostToEngine } from './protocol'

type Handlers = { [M in keyof EngineMethods]: (params: Parameters<EngineMethods[M]>[0]) => Promise<ReturnType<EngineMethods[M]>> | ReturnType<EngineMethods[M]> }

const handlers: Handlers = {
  info: () => engineInfo(),
  demoForward: (params) => demoForward(nativeBackend(params.backend ?? 'cpu'), params),
}

interface ParentPort {
  on(event: 'message', fn: (e: { data: unknown }) => void): void
  postMessage(message: unknown): void
}

// utilityProcess gives a parentPort; child_process.fork gives process.send.
const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort
function send(message: EngineToHost): void {
  if (parentPort) parentPort.postMessage(message)
  else process.send?.(message)
}

function errorBody(err: unknown): EngineErrorBody {
  if (err instanceof Error) return { name: err.name, message: err.message, code: (err as { code?: string }).code }
  return { name: 'Error', message: String(err) }
}

async function handle(message: HostToEngine): Promise<void> {
  if (message?.type !== 'call') return
  const handler = handlers[message.method] as ((p: unknown) => unknown) | undefined
  if (!handler) {
    send({ type: 'error', id: message.id, error: { name: 'Error', message: `unknown engine method '${message.method}'` } })
    return
  }
  try {
    send({ type: 'result', id: message.id, result: await handler(message.params) })
  } catch (err) {
    send({ type: 'error', id: message.id, error: errorBody(err) })
  }
}

if (parentPort) parentPort.on('message', (e) => void handle(e.data as HostToEngine))
else process.on('message', (m) => void handle(m as HostToEngine))
// The engine lives as long as its parent: a closed IPC channel ends it.
process.on('disconnect', () => process.exit(0))
send({ type: 'ready', pid: process.pid })
