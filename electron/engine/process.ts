// Entry point of an engine process: loads the backend, answers calls from
// the main process, streams events. Runs under child_process.fork (headless
// mode) or Electron's utilityProcess; a crash here ends only this process.
import { isUserError } from '../api/errors'
import { selectBackend } from './backend-select'
import { demoForward } from './demo'
import { estimateModel } from './estimate'
import { profileModel } from './profile/profiler'
import { engineInfo } from './info'
import { inspectCheckpoint } from './inspect/inspect-checkpoint'
import { nativeBackend } from './native-backend'
import type { EngineErrorBody, EngineMethods, EngineToHost, HostToEngine, TrainEvents, TrainParams } from './protocol'
import { trainModel } from './train/trainer'

type Handlers = { [M in keyof EngineMethods]: (params: Parameters<EngineMethods[M]>[0]) => Promise<ReturnType<EngineMethods[M]>> | ReturnType<EngineMethods[M]> }

let cancelRequested = false

function emit<E extends keyof TrainEvents>(name: E, data: TrainEvents[E]): void {
  send({ type: 'event', name, data })
}

async function train(params: TrainParams) {
  cancelRequested = false
  const { trainSpec } = params
  const dtype = trainSpec.precision === 'f64' ? 'f64' : 'f32'
  const choice = selectBackend(trainSpec.backend, trainSpec.device, dtype)
  emit('train.backend', { reason: choice.reason })
  return trainModel({
    modelSpec: params.modelSpec,
    trainSpec,
    backend: choice.backend,
    outDir: params.outDir,
    resumeFrom: params.resumeFrom,
    events: {
      onStep: (p) => emit('train.step', p),
      onEval: (e) => emit('train.eval', e),
      onCheckpoint: (path, step) => emit('train.checkpoint', { path, step }),
      onResume: (step) => emit('train.resumed', { step }),
      shouldStop: () => cancelRequested,
    },
  })
}

const handlers: Handlers = {
  info: () => engineInfo(),
  demoForward: (params) => demoForward(nativeBackend(params.backend ?? 'cpu'), params),
  estimate: ({ spec, contextLength }) => estimateModel(spec, contextLength),
  profile: ({ spec, settings, backend }) => {
    const choice = selectBackend(backend ?? 'auto', 0, settings.dtype)
    return profileModel(spec, choice.backend, settings, (message, fraction) => emit('profile.progress', { message, fraction }))
  },
  inspect: (params) => inspectCheckpoint(params, nativeBackend('cpu'), (message, fraction) => emit('inspect.progress', { message, fraction })),
  train,
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
  if (err instanceof Error) return { name: err.name, message: err.message, code: (err as { code?: string }).code, user: isUserError(err) }
  return { name: 'Error', message: String(err) }
}

async function handle(message: HostToEngine): Promise<void> {
  if (message?.type === 'cancel') {
    cancelRequested = true
    return
  }
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
