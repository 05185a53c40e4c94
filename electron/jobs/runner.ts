// The job runner: runs of a workspace, one at a time (a sweep runs run after
// run), each in its own engine process. It writes the run's record and
// metrics as progress arrives and forwards it as LabApi events. If the
// engine process dies, the run is marked failed with the reason, its
// metrics up to the last complete line stay, and the queue goes on.
//
// Nothing here may throw into the event loop: engine events arrive in an
// IPC callback, and an exception there (a full disk, a file replaced by a
// directory) would end the whole server. Every write of a run goes through
// one guard; the first failure fails that run (naming the file and the
// errno), stops its engine process, and the queue goes on.
import { statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { UserError } from '../api/errors'
import { ModelSpecSchema } from '../api/model-spec'
import type { MetricsLine, RunRecord } from '../api/runs'
import { TrainSpecSchema } from '../api/train-spec'
import { formatErrors, validateWith } from '../api/validate'
import type { TrainEvents, TrainParams } from '../engine/protocol'
import type { TrainSummary } from '../engine/train/trainer'
import { DataParallelEngines } from './data-parallel'
import type { LabEventBus } from '../services/events'
import { resolveInside } from '../workspace/paths'
import type { Workspace } from '../workspace/workspace'
import { EngineCallError, EngineExitedError, EngineProcess, type EngineLauncher } from './engine-process'
import { dropMetricsAfter } from './metrics-rewind'

/** Run records are rewritten at most this often while training (metrics lines go out at once). */
const RECORD_INTERVAL_MS = 1000

/** How long a cancelled run's engine gets to finish its step and save, before its process is killed. */
export const CANCEL_GRACE_MS = 10_000

export interface JobRunnerOptions {
  /** See CANCEL_GRACE_MS; tests shorten it. */
  cancelGraceMs?: number
  /**
   * TEST DOUBLE: a run with `devices` trains on as many CPU engines, summing
   * through this process (the relay transport) instead of on GPUs with NCCL.
   * For CI, which has neither.
   */
  dataParallelOnCpu?: boolean
}

/** What the runner drives: one engine process, or the engines of a data-parallel run. */
type JobEngine = Pick<EngineProcess, 'pid' | 'onEvent' | 'cancel' | 'stop'> & {
  call(method: 'train', params: TrainParams): Promise<TrainSummary>
}

/** The running job: its engine, and how a cancel of it is going. */
interface CurrentJob {
  id: string
  engine: JobEngine
  cancelled: boolean
  /** Set when the runner killed the engine to end a cancel: why, for the record. */
  killed?: string
  /** Kills the engine when a cancel is not honoured in time. */
  escalation?: NodeJS.Timeout
}

/** How a run ended, for its record and its last status line. */
interface Outcome {
  status: RunRecord['status']
  steps?: number
  checkpoint?: string
  failure?: string
  /** Kept from before (a resume that failed to start); else now. */
  endedMs?: number
}

/** What a resumed run's record said before the resume: a resume that fails before its first step leaves it so (with why). */
interface Before {
  status: RunRecord['status']
  endedMs?: number
}

/** A run that cannot be started or resumed as asked: the caller's to fix (answered bad_request). */
export class RunError extends UserError {}

/**
 * What the engine is given for a run, checked here rather than trusted from
 * run.json (a file anyone can edit): both specs against their schemas, and
 * for a resume the checkpoint as a regular file inside the run folder (no
 * '..', no absolute path, no link leading out). Throws a RunError naming the
 * file and what is wrong.
 */
export function checkRunInputs(
  runDir: string,
  run: RunRecord,
  resume: boolean,
): { modelSpec: RunRecord['modelSpec']; trainSpec: RunRecord['trainSpec']; resumeFrom?: string } {
  const file = join(runDir, 'run.json')
  const model = validateWith(ModelSpecSchema, run.modelSpec)
  if (!model.ok) throw new RunError(`${file}: its modelSpec is not valid:\n${formatErrors(model.errors.slice(0, 10))}`)
  const train = validateWith(TrainSpecSchema, run.trainSpec)
  if (!train.ok) throw new RunError(`${file}: its trainSpec is not valid:\n${formatErrors(train.errors.slice(0, 10))}`)
  if (!resume) return { modelSpec: model.value, trainSpec: train.value }
  if (typeof run.checkpoint !== 'string' || !run.checkpoint) throw new RunError(`run ${run.id} has no checkpoint to resume from; start it again instead`)
  let resumeFrom: string
  try {
    resumeFrom = resolveInside(runDir, run.checkpoint)
  } catch (err) {
    throw new RunError(`run ${run.id} cannot resume: ${file} names checkpoint ${(err as Error).message}`)
  }
  let isFile: boolean
  try {
    isFile = statSync(resumeFrom).isFile()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new RunError(`run ${run.id} cannot resume: its checkpoint ${resumeFrom} is gone; start the run again`)
    throw new RunError(`run ${run.id} cannot resume: its checkpoint ${resumeFrom} cannot be read (${code ?? (err as Error).message})`)
  }
  if (!isFile) throw new RunError(`run ${run.id} cannot resume: its checkpoint ${resumeFrom} is not a regular file`)
  return { modelSpec: model.value, trainSpec: train.value, resumeFrom }
}

/**
 * The checkpoint a fine-tune starts from (RunRecord.startFrom): inside the
 * named run's folder of this workspace, and a regular file.
 */
export function startCheckpoint(ws: Workspace, run: RunRecord): string | undefined {
  if (!run.startFrom) return undefined
  const { run: from, checkpoint } = run.startFrom
  let path: string
  try {
    path = resolveInside(ws.runDir(from), checkpoint)
  } catch (err) {
    throw new RunError(`run ${run.id} starts from run ${from}'s ${checkpoint}, which is not a checkpoint inside that run: ${(err as Error).message}`)
  }
  let isFile = false
  try {
    isFile = statSync(path).isFile()
  } catch {
    isFile = false
  }
  if (!isFile) throw new RunError(`run ${run.id} starts from ${path}, which is gone or not a file; start it from another checkpoint`)
  return path
}

/** A file that could not be written or read, and why (shown in WorkspaceInfo-like problem lists). */
export interface RunnerProblem {
  file: string
  problem: string
}

/** "cannot write <file>: EISDIR (illegal operation on a directory, open '<file>')" from an fs error. */
export function describeFsError(verb: string, err: unknown, fallbackFile: string): { file: string; message: string } {
  // Node's fs errors carry `path`; the workspace's own errors (WorkspaceError) carry `file`.
  const e = err as NodeJS.ErrnoException & { file?: unknown }
  const file = typeof e?.path === 'string' ? e.path : typeof e?.file === 'string' ? e.file : fallbackFile
  const message = err instanceof Error ? err.message : String(err)
  // A WorkspaceError already says which file it could not write, and why.
  if (typeof e?.file === 'string' && err instanceof Error) return { file, message }
  return { file, message: `cannot ${verb} ${file}: ${e?.code ? `${e.code} (${message})` : message}` }
}

export class JobRunner {
  /** `before`: a resumed run's record before the resume, restored if the resume fails before its first step. */
  private readonly queue: { id: string; resume: boolean; before?: Before }[] = []
  private current: CurrentJob | undefined
  private draining: Promise<void> | undefined
  private stopped = false
  /** Files the runner could not write outside a run (recovery, queue bookkeeping); newest last. */
  readonly problems: RunnerProblem[] = []

  constructor(
    private readonly workspace: Workspace,
    private readonly launcher: EngineLauncher,
    private readonly events: LabEventBus,
    private readonly options: JobRunnerOptions = {},
  ) {}

  /**
   * Runs left 'running' or 'queued' by an app that stopped (crash, kill) have
   * no process any more: they are marked failed, and can be resumed.
   */
  recoverInterrupted(): RunRecord[] {
    const recovered: RunRecord[] = []
    let runs: RunRecord[]
    try {
      runs = this.workspace.listRuns().runs
    } catch (err) {
      this.report(describeFsError('list the runs in', err, this.workspace.runsDir))
      return recovered
    }
    for (const run of runs) {
      if (run.status !== 'running' && run.status !== 'queued') continue
      const failure = `the app stopped while the run was ${run.status}; resume it from its last checkpoint${run.checkpoint ? '' : ' (it has none: start it again)'}`
      // A run whose record cannot be written stays as it is (and is reported); the others go on.
      try {
        recovered.push(this.workspace.updateRun(run.id, { status: 'failed', endedMs: Date.now(), failure }))
      } catch (err) {
        this.report(describeFsError('write', err, `${this.workspace.runDir(run.id)}/run.json`))
        continue
      }
      try {
        this.workspace.appendMetrics(run.id, { type: 'status', status: 'failed', atMs: Date.now(), failure })
      } catch (err) {
        this.report(describeFsError('write', err, `${this.workspace.runDir(run.id)}/metrics.jsonl`))
      }
    }
    return recovered
  }

  private kill(job: CurrentJob, why: string): void {
    if (job.killed !== undefined || this.current !== job) return
    job.killed = why
    job.engine.stop()
  }

  private report(p: { file: string; message: string }): void {
    this.problems.push({ file: p.file, problem: p.message })
    if (this.problems.length > 100) this.problems.shift() // a disk that stays full must not grow this without end
    console.error(`linea: ${p.message}`)
  }

  get runningId(): string | undefined {
    return this.current?.id
  }

  /** The engine process of the running job. */
  get runningPid(): number | undefined {
    return this.current?.engine.pid
  }

  queuedIds(): string[] {
    return this.queue.map((q) => q.id)
  }

  /** Queues a run (status queued); runs start in order. */
  enqueue(id: string, resume = false, before?: Before): void {
    if (this.current?.id === id || this.queue.some((q) => q.id === id)) return
    // The record first: a write that fails (answered to the caller) queues nothing.
    const run = this.workspace.updateRun(id, { status: 'queued', failure: undefined })
    this.queue.push({ id, resume, before })
    this.publish(run)
    this.kick()
  }

  /**
   * A queued run is dropped; a running one finishes its step and saves a
   * checkpoint. The cancel is a message the engine reads between steps: an
   * engine stuck inside a step (a huge step, a blocked read) never reads it,
   * so its process is killed after the grace period, or at once with
   * `force`. A killed run ends 'cancelled', resumable from its last
   * checkpoint, with `failure` saying it was killed.
   */
  cancel(id: string, options: { force?: boolean } = {}): RunRecord {
    const i = this.queue.findIndex((q) => q.id === id)
    if (i >= 0) {
      this.queue.splice(i, 1)
      // Dropped from the queue even when its files cannot be written (the error answers the caller).
      const run = this.workspace.updateRun(id, { status: 'cancelled', endedMs: Date.now() })
      this.publish(run)
      this.workspace.appendMetrics(id, { type: 'status', status: 'cancelled', atMs: Date.now() })
      return run
    }
    const job = this.current
    if (job?.id === id) {
      job.cancelled = true
      if (options.force) this.kill(job, 'cancelled with force: its engine process was killed at once')
      else {
        job.engine.cancel()
        const grace = this.options.cancelGraceMs ?? CANCEL_GRACE_MS
        job.escalation ??= setTimeout(() => this.kill(job, `the engine did not stop within ${grace / 1000} s of the cancel, so its process was killed`), grace)
      }
      return this.workspace.readRun(id)
    }
    return this.workspace.readRun(id)
  }

  /**
   * Continues a stopped run (cancelled, failed, early stopped) from its last
   * checkpoint. Checked up front, so a resume that cannot start is an error
   * answered to the caller and the record stays as it was: a completed run
   * has nothing to resume (it would only look as if it had failed), the
   * checkpoint must be a file in the run folder, the specs must be valid.
   */
  resume(id: string): RunRecord {
    const run = this.workspace.readRun(id)
    if (run.status === 'running' || run.status === 'queued') throw new RunError(`run ${id} is ${run.status}; cancel it first, or wait`)
    if (run.status === 'completed')
      throw new RunError(`run ${id} completed all ${run.steps} steps; there is nothing to resume (start a new run to train longer)`)
    checkRunInputs(this.workspace.runDir(id), run, true)
    this.enqueue(id, true, { status: run.status, endedMs: run.endedMs })
    return this.workspace.readRun(id)
  }

  /** Stops the current job (killing its process) and drops the queue. */
  stop(): void {
    this.stopped = true
    this.queue.length = 0
    this.current?.engine.stop()
  }

  /** Resolves when the queue is empty. */
  idle(): Promise<void> {
    return this.draining ?? Promise.resolve()
  }

  private kick(): void {
    if (this.draining || this.stopped) return
    this.draining = (async () => {
      while (this.queue.length && !this.stopped) {
        const next = this.queue.shift()!
        try {
          await this.runOne(next.id, next.resume, next.before)
        } catch (err) {
          // runOne handles its run's failures; this is a bug or an unreadable record: report, go on.
          this.report({ file: this.workspace.runDir(next.id), message: `run ${next.id} could not be run: ${err instanceof Error ? err.message : String(err)}` })
          if (this.current?.id === next.id) this.current = undefined
        }
      }
    })().finally(() => {
      this.draining = undefined
    })
  }

  /** One engine, or one per GPU for a run with `devices` (data parallel). */
  private engineFor(run: RunRecord): JobEngine {
    const devices: unknown = run.trainSpec?.devices
    if (typeof devices !== 'string') return new EngineProcess(this.launcher)
    if (!this.options.dataParallelOnCpu) return new DataParallelEngines(this.launcher, devices)
    const ranks = devices === 'all' ? 2 : devices.split(',').length
    return new DataParallelEngines(this.launcher, { cpuRanks: ranks }, 'relay')
  }

  private publish(run: RunRecord): void {
    this.events.emit('run.status', { run })
  }

  private async runOne(id: string, resume: boolean, before?: Before): Promise<void> {
    const ws = this.workspace
    let run: RunRecord
    try {
      run = ws.readRun(id)
    } catch (err) {
      // The record cannot be read (edited into something invalid since it was
      // queued): it cannot be marked failed either, so the metrics say why.
      const failure = `the run cannot start: ${err instanceof Error ? err.message : String(err)}`
      const l: MetricsLine = { type: 'status', status: 'failed', atMs: Date.now(), failure }
      try {
        ws.appendMetrics(id, l)
      } catch (writeErr) {
        this.report(describeFsError('write', writeErr, join(ws.runDir(id), 'metrics.jsonl')))
      }
      this.events.emit('run.metrics', { runId: id, line: l })
      this.report({ file: join(ws.runDir(id), 'run.json'), message: failure })
      return
    }
    let progressed = false
    const engine = this.engineFor(run)
    const job: CurrentJob = { id, engine, cancelled: false }
    this.current = job
    // The first write that fails ends the run: its message, and the engine is stopped.
    let writeFailure: string | undefined
    const write = <T>(file: string, what: () => T): T | undefined => {
      if (writeFailure !== undefined) return undefined
      try {
        return what()
      } catch (err) {
        writeFailure = `${describeFsError('write', err, join(ws.runDir(id), file)).message}; the run was stopped`
        engine.stop()
        return undefined
      }
    }
    const update = (patch: Partial<RunRecord>): RunRecord | undefined => {
      const next = write('run.json', () => ws.updateRun(id, patch))
      if (next) run = next
      return next
    }
    const line = (l: MetricsLine): void => {
      write('metrics.jsonl', () => ws.appendMetrics(id, l))
      this.events.emit('run.metrics', { runId: id, line: l })
    }
    let pending: Partial<RunRecord> = {}
    let lastWrite = 0
    const flush = (force = false) => {
      if (!force && Date.now() - lastWrite < RECORD_INTERVAL_MS) return
      if (Object.keys(pending).length) {
        const next = update(pending)
        if (next) this.publish(next)
      }
      pending = {}
      lastWrite = Date.now()
    }
    const failureOf = (err: unknown): string =>
      err instanceof EngineExitedError
        ? `the engine process ended: ${err.message}`
        : err instanceof EngineCallError
          ? `${err.engineName === 'Error' ? '' : `${err.engineName}: `}${err.message}`
          : err instanceof Error
            ? err.message
            : String(err)
    try {
      const started = update({ status: 'running', startedMs: run.startedMs ?? Date.now(), endedMs: undefined, failure: undefined })
      if (started) this.publish(started)
      line({ type: 'status', status: 'running', atMs: Date.now() })
      let best = run.bestAccuracy
      engine.onEvent((name, data) => {
        // An IPC callback: whatever happens here must not escape (the write guard catches fs errors).
        try {
          if (writeFailure !== undefined) return
          if (name === 'train.resumed') {
            // Lines past the checkpoint are redone by this run: dropped before its first line.
            const step = (data as TrainEvents['train.resumed']).step
            write('metrics.jsonl', () => dropMetricsAfter(join(ws.runDir(id), 'metrics.jsonl'), step))
            return
          }
          if (name === 'train.backend') pending.backend = (data as TrainEvents['train.backend']).reason
          if (name === 'train.step') {
            const p = data as TrainEvents['train.step']
            progressed = true
            line({ type: 'train', ...p })
            pending.steps = p.step
            pending.lastLoss = p.loss
          }
          if (name === 'train.eval') {
            const e = data as TrainEvents['train.eval']
            line({ type: 'eval', step: e.step, headline: e.headline, headlineName: e.headlineName, sets: e.sets })
            if (e.headlineName === 'accuracy' && (best === undefined || e.headline > best)) pending.bestAccuracy = best = e.headline
          }
          if (name === 'train.checkpoint') {
            const c = data as TrainEvents['train.checkpoint']
            line({ type: 'checkpoint', step: c.step, path: relative(ws.runDir(id), c.path) })
            pending.checkpoint = relative(ws.runDir(id), c.path)
            flush(true)
            return
          }
          flush()
        } catch (err) {
          writeFailure ??= `the run's progress could not be recorded: ${err instanceof Error ? err.message : String(err)}; the run was stopped`
          engine.stop()
        }
      })
      let outcome: Outcome
      if (writeFailure !== undefined) outcome = { status: 'failed', failure: writeFailure }
      else
        try {
          const inputs = checkRunInputs(ws.runDir(id), run, resume)
          const initFrom = resume ? undefined : startCheckpoint(ws, run)
          const summary = await engine.call('train', { ...inputs, initFrom, outDir: ws.checkpointsDir(id) })
          flush(true)
          const checkpoint = summary.checkpoint ? relative(ws.runDir(id), summary.checkpoint) : run.checkpoint
          outcome = writeFailure !== undefined ? { status: 'failed', failure: writeFailure } : { status: summary.status, steps: summary.steps, checkpoint }
        } catch (err) {
          if (writeFailure === undefined) flush(true)
          if (writeFailure !== undefined) outcome = { status: 'failed', failure: writeFailure }
          else if (job.killed !== undefined && err instanceof EngineExitedError) {
            // Killed to end a cancel: cancelled, resumable from the checkpoint last recorded.
            const resumable = run.checkpoint ? `; resume it from ${run.checkpoint}` : '; the run has no checkpoint: start it again'
            outcome = { status: 'cancelled', failure: `${job.killed}${resumable}` }
          } else if (resume && before && !progressed) {
            // The resume itself failed (its checkpoint, its specs): the run is what it was.
            outcome = { status: before.status, endedMs: before.endedMs, failure: `resume failed: ${failureOf(err)}` }
          } else outcome = { status: 'failed', failure: failureOf(err) }
        }
      this.finish(id, run, outcome)
    } finally {
      clearTimeout(job.escalation)
      engine.stop()
      this.current = undefined
    }
  }

  /**
   * Writes a run's end: the record and a status line. The files may still be
   * unwritable (the disk is full): then the record as it should be is
   * published anyway, and the problem is reported.
   */
  private finish(id: string, run: RunRecord, outcome: Outcome): void {
    const ws = this.workspace
    const atMs = Date.now()
    const patch: Partial<RunRecord> = { status: outcome.status, endedMs: outcome.endedMs ?? atMs, failure: outcome.failure }
    if (outcome.steps !== undefined) patch.steps = outcome.steps
    if (outcome.checkpoint !== undefined) patch.checkpoint = outcome.checkpoint
    let record: RunRecord
    try {
      record = ws.updateRun(id, patch)
    } catch (err) {
      this.report(describeFsError('write', err, join(ws.runDir(id), 'run.json')))
      record = { ...run, ...patch }
    }
    const l: MetricsLine = { type: 'status', status: outcome.status, atMs, ...(outcome.failure ? { failure: outcome.failure } : {}) }
    try {
      ws.appendMetrics(id, l)
    } catch (err) {
      this.report(describeFsError('write', err, join(ws.runDir(id), 'metrics.jsonl')))
    }
    this.events.emit('run.metrics', { runId: id, line: l })
    this.publish(record)
  }
}
