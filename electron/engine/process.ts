// Entry point of an engine process: loads the backend, answers calls from
// the main process, streams events. Runs under child_process.fork (headless
// mode) or Electron's utilityProcess; a crash here ends only this process.
import { readFileSync } from 'node:fs'
import { isUserError } from '../api/errors'
import { selectBackend, selectWebGpuBackend } from './backend-select'
import { fullyLabelledBatch, traceTrainingStep } from './trace-ops'
import { selectRun } from './run-backend'
import { demoForward } from './demo'
import { estimateModel } from './estimate'
import { profileModel } from './profile/profiler'
import { engineInfo } from './info'
import { selectInspectBackend } from './inspect/inspect-backend'
import { inspectCheckpoint } from './inspect/inspect-checkpoint'
import { writeInitialCheckpoint } from './checkpoint/initial-checkpoint'
import { nativeBackend } from './native-backend'
import type { EngineErrorBody, EngineMethods, EngineToHost, HostToEngine, TrainEvents, TrainParams } from './protocol'
import { trainModel } from './train/trainer'
import type { Communicator } from './train/data-parallel'
import { RelayCommunicator } from './train/relay-communicator'
import { ncclCommunicator } from './train/nccl-communicator'
import type { Backend } from './backend'

type Handlers = {
  [M in keyof EngineMethods]: (params: Parameters<EngineMethods[M]>[0]) => Promise<ReturnType<EngineMethods[M]>> | ReturnType<EngineMethods[M]>
}

let cancelRequested = false

// ---- the parent ----------------------------------------------------------
// The engine lives as long as its parent. A closed IPC channel ('disconnect')
// says so only when the event loop gets to read it, and a training step is
// one long synchronous stretch: an engine would finish its step, save a
// checkpoint into a workspace another process may own by now, and only then
// exit. So the parent is also checked directly, between steps, before every
// checkpoint write and before every message: on Linux by this process's
// current parent pid (/proc/self/stat; an orphan is re-parented at once, and
// Node's process.ppid is the value at startup), elsewhere by signalling the
// parent pid. Both launchers are covered: fork (and its IPC channel) and
// Electron's utilityProcess (parentPort, no 'disconnect').
const parentPid = process.ppid

/** The parent pid as the kernel has it now, or undefined where /proc is not there. */
function currentParentPid(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'
    const ppid = Number(
      stat
        .slice(stat.lastIndexOf(')') + 1)
        .trim()
        .split(/\s+/)[1],
    )
    return Number.isInteger(ppid) ? ppid : undefined
  } catch {
    return undefined
  }
}

function parentGone(): boolean {
  if (!parentPort && process.connected === false) return true
  const now = currentParentPid()
  if (now !== undefined) return now !== parentPid
  try {
    process.kill(parentPid, 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/** Exits at once (writing nothing more) when the parent is gone. */
function exitIfOrphaned(): void {
  if (parentGone()) process.exit(0)
}

function emit<E extends keyof TrainEvents>(name: E, data: TrainEvents[E]): void {
  send({ type: 'event', name, data })
}

// ---- data parallel ---------------------------------------------------------
// TEST DOUBLE transport (relay-communicator.ts): exchanges with the parent by seq.
const relayWaiting = new Map<number, (values: Float64Array[]) => void>()

function relayExchange(seq: number, values: Float64Array[]): Promise<Float64Array[]> {
  return new Promise((resolve) => {
    relayWaiting.set(seq, resolve)
    send({ type: 'collective', seq, values })
  })
}

/** This rank's transport, or undefined for a run on one device. */
function communicatorFor(params: TrainParams, backend: Backend): Communicator | undefined {
  const p = params.parallel
  if (!p) return undefined
  if (p.transport === 'relay') return new RelayCommunicator(p.rank, p.world, backend, relayExchange)
  return ncclCommunicator(p, backend, (id) => emit('train.ncclId', { id }))
}

async function train(params: TrainParams) {
  cancelRequested = false
  const { trainSpec } = params
  const choice = await selectRun(params.modelSpec, trainSpec)
  emit('train.backend', { reason: choice.reason })
  const parallel = communicatorFor(params, choice.backend)
  try {
    return await trainModel({
      modelSpec: params.modelSpec,
      trainSpec,
      backend: choice.backend,
      precision: choice.precision,
      // Rank 0 alone writes checkpoints.
      outDir: parallel && parallel.rank !== 0 ? undefined : params.outDir,
      resumeFrom: params.resumeFrom,
      initFrom: params.initFrom,
      parallel,
      events: {
        onStep: (p) => emit('train.step', p),
        onEval: (e) => emit('train.eval', e),
        onCheckpoint: (path, step) => emit('train.checkpoint', { path, step }),
        onResume: (step) => emit('train.resumed', { step }),
        shouldStop: () => cancelRequested,
        checkAlive: exitIfOrphaned,
      },
    })
  } finally {
    parallel?.dispose()
  }
}

const handlers: Handlers = {
  info: () => engineInfo(),
  demoForward: (params) => demoForward(nativeBackend(params.backend ?? 'cpu'), params),
  estimate: ({ spec, contextLength }) => estimateModel(spec, contextLength),
  profile: async ({ spec, settings, backend, device }) => {
    const calls = await traceTrainingStep(spec, settings.dtype, fullyLabelledBatch(settings.batchSize, settings.seqLen))
    const choice = backend === 'webgpu' ? await selectWebGpuBackend(calls) : selectBackend(backend ?? 'auto', device ?? 0, calls)
    return profileModel(spec, choice.backend, settings, (message, fraction) => emit('profile.progress', { message, fraction }))
  },
  inspect: async (params) => {
    const progress = (message: string, fraction: number) => emit('inspect.progress', { message, fraction })
    // A run trained on WebGPU is inspected there when its adapter takes every call; else CUDA, else the CPU.
    const choice = await selectInspectBackend(params.checkpointPath, (backend) => inspectCheckpoint(params, backend))
    return { ...(await inspectCheckpoint(params, choice.backend, progress)), backend: choice.reason }
  },
  // A run on the CPU starts from f32 weights ('auto' and 'f32' precision): the same values an export writes.
  initWeights: ({ modelSpec, trainSpec, path }) => writeInitialCheckpoint(modelSpec, trainSpec, nativeBackend('cpu'), 'f32', path),
  train,
}

interface ParentPort {
  on(event: 'message', fn: (e: { data: unknown }) => void): void
  postMessage(message: unknown): void
}

// utilityProcess gives a parentPort; child_process.fork gives process.send.
const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort
function send(message: EngineToHost): void {
  exitIfOrphaned()
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
  if (message?.type === 'collective') {
    const resolve = relayWaiting.get(message.seq)
    relayWaiting.delete(message.seq)
    resolve?.(message.values)
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
// The engine lives as long as its parent: a closed IPC channel ends it, and
// while the event loop is free (between calls) the parent is checked too.
process.on('disconnect', () => process.exit(0))
setInterval(exitIfOrphaned, 1000).unref()
send({ type: 'ready', pid: process.pid })
