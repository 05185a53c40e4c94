// `linea train <model.json> <train.json> --out <dir> [--max-steps N] [--backend B] [--precision P]`: trains
// in an engine process, draws a progress bar, appends metrics.jsonl, prints a
// summary. --max-steps stops after N steps on the schedule of the spec's
// `steps`. Ctrl-C cancels: the engine finishes its step and saves a checkpoint.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ModelSpecSchema, type ModelSpec } from '../api/model-spec'
import { BACKENDS, PRECISIONS, TrainSpecSchema, type TrainSpec } from '../api/train-spec'
import type { EvalProgress, StepProgress } from '../api/runs'
import { formatErrors, validateWith } from '../api/validate'
import { formatBytes } from '../api/format'
import { EngineProcess, forkLauncher } from '../jobs/engine-process'
import type { TrainEvents } from '../engine/protocol'
import { makeDirs } from '../platform/make-dirs'

export class CliInputError extends Error {}

function readJson(path: string, what: string): unknown {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new CliInputError(`cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new CliInputError(`the ${what} ${path} is not valid JSON: ${(err as Error).message}`)
  }
}

export function loadSpecs(modelPath: string, trainPath: string): { model: ModelSpec; train: TrainSpec } {
  const model = validateWith(ModelSpecSchema, readJson(modelPath, 'model spec'))
  if (!model.ok) throw new CliInputError(`${modelPath} is not a valid ModelSpec:\n${formatErrors(model.errors)}`)
  const train = validateWith(TrainSpecSchema, readJson(trainPath, 'train spec'))
  if (!train.ok) throw new CliInputError(`${trainPath} is not a valid TrainSpec:\n${formatErrors(train.errors)}`)
  return { model: model.value, train: train.value }
}

function bar(done: number, total: number, width = 28): string {
  const filled = Math.round((done / Math.max(total, 1)) * width)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?'
  if (s < 60) return `${s.toFixed(0)}s`
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
}

/** --max-steps N: a whole number from 1 to the spec's steps. */
export function withMaxSteps(train: TrainSpec, text: string | undefined): TrainSpec {
  if (text === undefined) return train
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > train.steps)
    throw new CliInputError(
      `--max-steps ${text}: expected a whole number from 1 to the spec's steps (${train.steps}); it stops the run early on the same schedule`,
    )
  return { ...train, max_steps: n }
}

/**
 * --backend (auto, cpu, cuda, cuda:N, webgpu) and --precision (auto, f32, f64,
 * bf16) over the train spec's own, checked as the spec is.
 */
export function withBackend(train: TrainSpec, backend: string | undefined, precision: string | undefined): TrainSpec {
  if (backend === undefined && precision === undefined) return train
  const next: Record<string, unknown> = { ...train }
  if (backend !== undefined) {
    const m = /^cuda:(\d+)$/.exec(backend)
    if (m) Object.assign(next, { backend: 'cuda', device: Number(m[1]) })
    else if ((BACKENDS as readonly string[]).includes(backend)) next.backend = backend
    else throw new CliInputError(`--backend ${backend}: expected one of ${BACKENDS.join(', ')} or cuda:N`)
  }
  if (precision !== undefined) {
    if (!(PRECISIONS as readonly string[]).includes(precision)) throw new CliInputError(`--precision ${precision}: expected one of ${PRECISIONS.join(', ')}`)
    next.precision = precision
  }
  const checked = validateWith(TrainSpecSchema, next)
  if (!checked.ok) throw new CliInputError(`--backend / --precision make the train spec invalid:\n${formatErrors(checked.errors)}`)
  return checked.value
}

/**
 * The progress line: the latest step and the latest evaluation. The trainer
 * reports a step before the evaluation after it, so an evaluation redraws
 * the line (a terminal) or, after the last step, prints it once more (a log).
 */
export class ProgressLine {
  private step?: StepProgress
  private evalText = ''
  private lastPrinted = 0
  private finalPrinted = false

  constructor(
    private readonly out: Pick<NodeJS.WriteStream, 'write'>,
    private readonly tty: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  render(p: StepProgress): string {
    const eta = ((p.steps - p.step) * p.elapsedSeconds) / Math.max(p.step, 1)
    return `${bar(p.step, p.steps)} ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${Math.round(p.tokensPerSecond)} tok/s mem ${formatBytes(p.memoryBytes)} eta ${formatSeconds(eta)}${this.evalText}`
  }

  onStep(p: StepProgress): void {
    this.step = p
    if (this.tty) this.out.write(`\r${this.render(p)}\x1b[K`)
    else if (this.now() - this.lastPrinted > 2000 || p.step === p.steps) {
      this.out.write(this.render(p) + '\n')
      this.lastPrinted = this.now()
      this.finalPrinted = p.step === p.steps
    }
  }

  onEval(e: Pick<EvalProgress, 'step' | 'headline' | 'headlineName'>): void {
    this.evalText = ` | eval ${e.headlineName === 'accuracy' ? 'acc' : 'bpb'} ${e.headline.toFixed(4)} @${e.step}`
    const p = this.step
    if (!p || p.step !== e.step) return
    if (this.tty) this.out.write(`\r${this.render(p)}\x1b[K`)
    else if (this.finalPrinted) this.out.write(this.render(p) + '\n')
  }
}

export interface TrainCliOptions {
  modelPath: string
  trainPath: string
  outDir: string
  resume?: string
  /** --init-from: a checkpoint whose weights the run starts from (a fine-tune). */
  initFrom?: string
  /** Stop after this many steps, on the schedule of the spec's steps. */
  maxSteps?: string
  /** Over the train spec's backend and precision. */
  backend?: string
  precision?: string
  out?: NodeJS.WriteStream
}

export async function runTrainCommand(o: TrainCliOptions): Promise<number> {
  const out = o.out ?? process.stderr
  const specs = loadSpecs(o.modelPath, o.trainPath)
  const model = specs.model
  const train = withBackend(withMaxSteps(specs.train, o.maxSteps), o.backend, o.precision)
  const outDir = resolve(o.outDir)
  if (o.resume && !existsSync(o.resume)) throw new CliInputError(`--resume ${o.resume}: no such checkpoint file`)
  if (o.initFrom && !existsSync(o.initFrom)) throw new CliInputError(`--init-from ${o.initFrom}: no such checkpoint file`)
  if (o.initFrom && o.resume) throw new CliInputError('--init-from starts a new run from weights; --resume continues one: give one of them')
  makeDirs(join(outDir, 'checkpoints'))
  writeFileSync(join(outDir, 'model.json'), JSON.stringify(model, null, 2) + '\n')
  writeFileSync(join(outDir, 'train.json'), JSON.stringify(train, null, 2) + '\n')
  const metricsPath = join(outDir, 'metrics.jsonl')
  const log = (record: unknown) => appendFileSync(metricsPath, JSON.stringify(record) + '\n')

  const engine = new EngineProcess(forkLauncher())
  const tty = out.isTTY === true
  const progress = new ProgressLine(out, tty)
  engine.onEvent((name, data) => {
    if (name === 'train.backend') out.write(`backend: ${(data as TrainEvents['train.backend']).reason}\n`)
    if (name === 'train.step') {
      const p = data as TrainEvents['train.step']
      log({ type: 'train', ...p })
      progress.onStep(p)
    }
    if (name === 'train.eval') {
      const e = data as TrainEvents['train.eval']
      log({ type: 'eval', step: e.step, headline: e.headline, headlineName: e.headlineName, sets: e.sets })
      progress.onEval(e)
    }
    if (name === 'train.checkpoint') log({ type: 'checkpoint', ...(data as TrainEvents['train.checkpoint']) })
  })
  let cancelled = false
  const onSignal = () => {
    if (cancelled) return
    cancelled = true
    out.write('\ncancelling: finishing the step and saving a checkpoint...\n')
    engine.cancel()
  }
  process.on('SIGINT', onSignal)
  try {
    const summary = await engine.call('train', {
      modelSpec: model,
      trainSpec: train,
      outDir: join(outDir, 'checkpoints'),
      resumeFrom: o.resume,
      initFrom: o.initFrom,
    })
    if (tty) out.write('\n')
    log({ type: 'summary', ...summary, lastEval: undefined })
    const e = summary.lastEval
    process.stdout.write(
      [
        `status: ${summary.status} after ${summary.steps} steps (${formatSeconds(summary.seconds)}, ${Math.round(summary.tokensPerSecond)} training tokens/s)`,
        `parameters: ${summary.parameters.toLocaleString('en-US')}`,
        `final loss: ${summary.finalLoss.toFixed(4)}`,
        e
          ? `eval ${e.headlineName}: ${e.sets.map((s) => `${s.name} ${(e.headlineName === 'accuracy' ? s.accuracy : s.bitsPerByte).toFixed(4)}`).join(', ')}`
          : 'no evaluation ran',
        `checkpoint: ${summary.checkpoint ?? 'none'}`,
        `metrics: ${metricsPath}`,
      ].join('\n') + '\n',
    )
    return 0
  } finally {
    process.off('SIGINT', onSignal)
    engine.stop()
  }
}
