// The main-process side of an engine process: start it, call it, learn how
// it ended. A launcher hides how it is started (child_process.fork here;
// Electron's utilityProcess in the desktop app), so services never care.
import { fork } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { projectRoot } from '../platform/project-root'
import type { EngineMethod, EngineParams, EngineResult, EngineToHost, HostToEngine } from '../engine/protocol'

export interface EngineChannel {
  readonly pid: number | undefined
  send(message: HostToEngine): void
  onMessage(fn: (message: EngineToHost) => void): void
  /** Called once; `reason` says how it ended (exit code, signal, last stderr lines). */
  onExit(fn: (reason: string) => void): void
  kill(): void
}

export type EngineLauncher = () => EngineChannel

/** The engine entry: the TypeScript source under tsx in development and tests, the bundle when built. */
export function engineEntry(): { path: string; execArgv: string[] } {
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts')
  return fromSource
    ? { path: join(projectRoot(), 'electron', 'engine', 'process.ts'), execArgv: ['--import', 'tsx'] }
    : { path: join(projectRoot(), 'out', 'main', 'engine-process.js'), execArgv: [] }
}

/**
 * Variables an engine never inherits: they make Node load code before the
 * engine's own (NODE_OPTIONS="--require x", "--import x"). An engine gets
 * one only when its launcher is given it explicitly (`options.env`).
 */
const NOT_INHERITED = new Set(['NODE_OPTIONS'])

/**
 * The environment of an engine process: the parent's own string-valued
 * variables less NOT_INHERITED, then `explicit`. A null-prototype object
 * filled through Object.keys: child_process reads `env` with for...in, which
 * also walks Object.prototype, so `{ ...process.env }` would let a polluted
 * Object.prototype.NODE_OPTIONS (a bug anywhere in the main process) start
 * every engine with the attacker's code.
 */
export function engineEnv(inherited: NodeJS.ProcessEnv = process.env, explicit: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.create(null) as Record<string, string>
  for (const key of Object.keys(inherited)) {
    const value = inherited[key]
    // Windows treats names case-insensitively (Node_Options is NODE_OPTIONS).
    if (typeof value === 'string' && !NOT_INHERITED.has(key.toUpperCase())) env[key] = value
  }
  for (const key of Object.keys(explicit)) {
    const value = explicit[key]
    if (typeof value === 'string') env[key] = value
  }
  return env
}

/** Starts engine processes with child_process.fork (headless mode, CLI, tests). */
export function forkLauncher(options: { env?: NodeJS.ProcessEnv } = {}): EngineLauncher {
  return () => {
    const entry = engineEntry()
    const child = fork(entry.path, [], {
      cwd: projectRoot(),
      execArgv: entry.execArgv,
      env: engineEnv(process.env, options.env),
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    })
    let stderrTail = ''
    const noteError = (err: Error) => {
      stderrTail = (stderrTail + `\n${err.message}`).slice(-2000)
    }
    // A failed spawn or a write to a closed channel: the 'exit' that follows says how it ended.
    child.on('error', noteError)
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk)
      stderrTail = (stderrTail + chunk.toString()).slice(-2000)
    })
    return {
      get pid() {
        return child.pid
      },
      send: (m) => {
        // The process can die between the check and the write: the write then
        // fails with EPIPE. The callback swallows that (without it Node throws
        // it as an uncaught error); the exit handler rejects the pending calls.
        if (child.connected) child.send(m, (err) => err && noteError(err))
      },
      onMessage: (fn) => child.on('message', (m) => fn(m as EngineToHost)),
      onExit: (fn) =>
        child.once('exit', (code, signal) => {
          const how = signal ? `was killed by ${signal}` : `exited with code ${code}`
          const tail = stderrTail.trim().split('\n').slice(-5).join('\n')
          fn(`engine process ${how}${tail ? `; its last output:\n${tail}` : ''}`)
        }),
      kill: () => child.kill('SIGKILL'),
    }
  }
}

export class EngineExitedError extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'EngineExitedError'
  }
}

/** An error the engine raised while answering a call. */
export class EngineCallError extends Error {
  constructor(
    message: string,
    readonly engineName: string,
    readonly code?: string,
    /** The engine raised a UserError (the caller's input was at fault): the same mark as UserError's. */
    readonly userError = false,
  ) {
    super(message)
    this.name = 'EngineCallError'
  }
}

export class EngineProcess {
  private channel: EngineChannel | undefined
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private readonly exitListeners: ((reason: string) => void)[] = []
  private readonly eventListeners: ((name: string, data: unknown) => void)[] = []
  private collectiveListener: ((seq: number, values: Float64Array[]) => void) | undefined
  private exitReason: string | undefined
  private ready: Promise<number> | undefined

  constructor(private readonly launcher: EngineLauncher) {}

  get pid(): number | undefined {
    return this.channel?.pid
  }

  get exited(): string | undefined {
    return this.exitReason
  }

  /** Starts the process and resolves with its pid once it says it is ready. */
  start(timeoutMs = 30_000): Promise<number> {
    if (this.ready) return this.ready
    this.ready = new Promise<number>((resolve, reject) => {
      const channel = this.launcher()
      this.channel = channel
      const timer = setTimeout(() => {
        reject(new EngineExitedError(`engine process did not start within ${timeoutMs} ms`))
        channel.kill()
      }, timeoutMs)
      channel.onMessage((m) => {
        if (m.type === 'ready') {
          clearTimeout(timer)
          resolve(m.pid)
        } else if (m.type === 'result' || m.type === 'error') {
          const p = this.pending.get(m.id)
          if (!p) return
          this.pending.delete(m.id)
          if (m.type === 'result') p.resolve(m.result)
          else p.reject(new EngineCallError(m.error.message, m.error.name, m.error.code, m.error.user === true))
        } else if (m.type === 'event') {
          for (const fn of this.eventListeners) fn(m.name, m.data)
        } else if (m.type === 'collective') {
          this.collectiveListener?.(m.seq, m.values)
        }
      })
      channel.onExit((reason) => {
        clearTimeout(timer)
        this.exitReason = reason
        const err = new EngineExitedError(reason)
        reject(err)
        for (const p of this.pending.values()) p.reject(err)
        this.pending.clear()
        for (const fn of this.exitListeners) fn(reason)
      })
    })
    return this.ready
  }

  async call<M extends EngineMethod>(method: M, params: EngineParams<M>): Promise<EngineResult<M>> {
    await this.start()
    if (this.exitReason) throw new EngineExitedError(this.exitReason)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.channel!.send({ type: 'call', id, method, params })
    })
  }

  onExit(fn: (reason: string) => void): void {
    this.exitListeners.push(fn)
  }

  onEvent(fn: (name: string, data: unknown) => void): void {
    this.eventListeners.push(fn)
  }

  /**
   * TEST DOUBLE transport of data parallel (engine/train/relay-communicator.ts):
   * `fn` gets this engine's values of each exchange; `answerCollective` sends the sums back.
   */
  onCollective(fn: (seq: number, values: Float64Array[]) => void): void {
    this.collectiveListener = fn
  }

  answerCollective(seq: number, values: Float64Array[]): void {
    this.channel?.send({ type: 'collective', seq, values })
  }

  /** Asks a running `train` to finish its step, save a checkpoint and return. */
  cancel(): void {
    this.channel?.send({ type: 'cancel' })
  }

  stop(): void {
    this.channel?.kill()
  }
}
