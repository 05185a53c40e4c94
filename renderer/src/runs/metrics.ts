// A run's metrics lines turned into what the screens show: curves (loss,
// eval headline, throughput, memory), the log pane, and the merge of a file
// read with the live lines that arrived while it was being read.
import type { EvalSetResult, MetricsLine, RunRecord } from '../../../electron/api/runs'
import { formatBytes } from '../../../electron/api/format'
import { MQAR_KEY_IN_NOISE_LABELS, stopStep } from '../../../electron/api/train-spec'

export type TrainLine = Extract<MetricsLine, { type: 'train' }>
export type EvalLine = Extract<MetricsLine, { type: 'eval' }>

/** [step, value] */
export type Point = [number, number]

export const trainLines = (lines: readonly MetricsLine[]): TrainLine[] => lines.filter((l): l is TrainLine => l.type === 'train')
export const evalLines = (lines: readonly MetricsLine[]): EvalLine[] => lines.filter((l): l is EvalLine => l.type === 'eval')

export function lossPoints(lines: readonly MetricsLine[]): Point[] {
  return trainLines(lines).map((l) => [l.step, l.loss])
}

/** What the curves' x axis counts: training steps, tokens seen, or wall time since the run started. */
export const X_AXES = ['step', 'tokens', 'time'] as const
export type XAxis = (typeof X_AXES)[number]
export const X_AXIS_NAMES: Record<XAxis, string> = { step: 'step', tokens: 'tokens seen', time: 'time (s)' }

/** The loss per step with x as `x`: tokens = step × batch × sequence length; time from the step's elapsed seconds. */
export function lossPointsBy(lines: readonly MetricsLine[], x: XAxis, run: Pick<RunRecord, 'trainSpec'>): Point[] {
  const task = run.trainSpec.task as { seq_len?: number }
  const tokensPerStep = run.trainSpec.batch_size * (task.seq_len ?? 0)
  return trainLines(lines).map((l) => [x === 'step' ? l.step : x === 'tokens' ? l.step * tokensPerStep : l.elapsedSeconds, l.loss])
}

/** Eval headline per eval (accuracy, or bits per byte for byte-level runs). */
export function headlinePoints(lines: readonly MetricsLine[]): Point[] {
  return evalLines(lines).map((l) => [l.step, l.headline])
}

/** The headline's name: what the eval chart's axis says. */
export function headlineName(lines: readonly MetricsLine[]): EvalLine['headlineName'] | null {
  for (const l of lines) if (l.type === 'eval') return l.headlineName
  return null
}

/** An eval set's name with its length, unless the name is the length already ("T=64", not "T=64 (T=64)"). */
export function evalSetLabel(s: Pick<EvalSetResult, 'name' | 'seqLen'>): string {
  return s.name === `T=${s.seqLen}` ? s.name : `${s.name} (T=${s.seqLen})`
}

/** Per eval set (e.g. the training length and longer ones): accuracy, or bits per byte. */
export function evalSetPoints(lines: readonly MetricsLine[]): { name: string; points: Point[] }[] {
  const sets = new Map<string, Point[]>()
  for (const l of evalLines(lines))
    for (const s of l.sets) {
      const label = evalSetLabel(s)
      const pts = sets.get(label) ?? []
      pts.push([l.step, l.headlineName === 'bits_per_byte' ? s.bitsPerByte : s.accuracy])
      sets.set(label, pts)
    }
  return [...sets].map(([name, points]) => ({ name, points }))
}

/**
 * Joins a metrics file read with the live lines buffered while it was read.
 * The file is append-only and each event goes out right after its line is
 * written, so the buffered lines already in the file are the read's tail:
 * find the longest buffer prefix equal to the read's end and append the rest.
 */
export function mergeMetrics(read: readonly MetricsLine[], buffered: readonly MetricsLine[]): MetricsLine[] {
  const key = (l: MetricsLine) => JSON.stringify(l)
  const readKeys = read.map(key)
  const bufKeys = buffered.map(key)
  for (let overlap = Math.min(read.length, buffered.length); overlap > 0; overlap--) {
    let match = true
    for (let i = 0; i < overlap && match; i++) match = readKeys[read.length - overlap + i] === bufKeys[i]
    if (match) return [...read, ...buffered.slice(overlap)]
  }
  return [...read, ...buffered]
}

export interface LogEntry {
  kind: 'status' | 'eval' | 'checkpoint' | 'failure'
  step?: number
  atMs?: number
  text: string
}

/** The log pane: status changes, evals, checkpoints, failures (train steps are the charts' business). */
export function logEntries(lines: readonly MetricsLine[]): LogEntry[] {
  const out: LogEntry[] = []
  let lastStep: number | undefined
  for (const l of lines) {
    switch (l.type) {
      case 'train':
        lastStep = l.step
        break
      case 'status':
        out.push({ kind: 'status', atMs: l.atMs, step: lastStep, text: `status: ${l.status.replace('_', ' ')}` })
        if (l.failure) out.push({ kind: 'failure', atMs: l.atMs, step: lastStep, text: `failed: ${l.failure}` })
        break
      case 'eval': {
        const sets = l.sets
          .map((s) =>
            l.headlineName === 'bits_per_byte' ? `${s.name} ${s.bitsPerByte.toFixed(3)} bpb` : `${evalSetLabel(s)} ${(100 * s.accuracy).toFixed(1)}%`,
          )
          .join(', ')
        const head = l.headlineName === 'bits_per_byte' ? `${l.headline.toFixed(3)} bits/byte` : `accuracy ${(100 * l.headline).toFixed(1)}%`
        out.push({ kind: 'eval', step: l.step, text: `eval at step ${l.step}: ${head}${l.sets.length > 1 ? ` (${sets})` : ''}` })
        break
      }
      case 'checkpoint':
        out.push({ kind: 'checkpoint', step: l.step, text: `checkpoint at step ${l.step}: ${l.path}` })
        break
    }
  }
  return out
}

/** Latest training line: step, loss, throughput, memory now. */
export function lastTrain(lines: readonly MetricsLine[]): TrainLine | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!
    if (l.type === 'train') return l
  }
  return undefined
}

/**
 * The step a run's progress shows: its last train line's (while it runs the
 * record is rewritten at most once a second, the lines come at once), else
 * the record's (lines not read yet).
 */
export function progressStep(lines: readonly MetricsLine[], run: { steps: number } | null | undefined): number {
  return lastTrain(lines)?.step ?? run?.steps ?? 0
}

export interface RunProgress {
  step: number
  /** The step the run stops at: max_steps when set, else steps (stopStep). */
  total: number
  /** 0..1 */
  fraction: number
}

/** A run's progress bar: a run stopped early at max_steps ends at max_steps / max_steps, 100 %. */
export function runProgress(lines: readonly MetricsLine[], run: Pick<RunRecord, 'steps' | 'trainSpec'> | null | undefined): RunProgress {
  const step = progressStep(lines, run)
  const total = run ? stopStep(run.trainSpec) : 0
  return { step, total, fraction: total ? Math.min(1, step / total) : 0 }
}

/**
 * MQAR eval accuracy split by the `key_in_noise` tag, one curve per label of
 * MQAR_KEY_IN_NOISE_LABELS (in that order) that some eval measured, from the
 * first eval set (the training length, the headline's set). A bucket with no
 * query in an eval leaves no point there. Empty when no record has the split
 * (other tasks, runs from before it was recorded).
 */
export function keyInNoisePoints(lines: readonly MetricsLine[]): { label: string; points: Point[] }[] {
  const curves = MQAR_KEY_IN_NOISE_LABELS.map((label) => ({ label: label as string, points: [] as Point[] }))
  for (const l of evalLines(lines))
    for (const c of curves) {
      const accuracy = bucketAccuracy(l.sets[0], 'key_in_noise', c.label)
      if (accuracy !== undefined) c.points.push([l.step, accuracy])
    }
  return curves.filter((c) => c.points.length > 0)
}

/**
 * correct / count of one tag bucket of an eval set, if it counted any query.
 * byTag rides along unchecked in a metrics file (workspace/run-schema.ts
 * checks the headline fields only), so it is read as untrusted here.
 */
function bucketAccuracy(set: EvalSetResult | undefined, tag: string, label: string): number | undefined {
  const own = (o: unknown, key: string): unknown =>
    o !== null && typeof o === 'object' && Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined
  const b = own(own(own(set, 'byTag'), tag), label)
  const correct = own(b, 'correct')
  const count = own(b, 'count')
  return typeof correct === 'number' && typeof count === 'number' && count > 0 && Number.isFinite(correct / count) ? correct / count : undefined
}

export function describeMemory(l: TrainLine | undefined): string {
  return l ? `${formatBytes(l.memoryBytes)} (peak ${formatBytes(l.peakMemoryBytes)})` : '—'
}

/**
 * A data-parallel step's devices, one line each: "cuda:1: 3.2 GiB (peak 4.1
 * GiB), 51,200 tokens/s". The ranks step together, so each trains the step's
 * tokens/s over the number of devices. Empty for a run on one device.
 */
export function describeDevices(l: TrainLine | undefined): string[] {
  const devices = Array.isArray(l?.devices) ? l.devices : []
  if (!l || devices.length === 0) return []
  const perDevice = Math.round(l.tokensPerSecond / devices.length).toLocaleString('en-US')
  return devices.map((d) => `${d.device}: ${formatBytes(d.memoryBytes)} (peak ${formatBytes(d.peakMemoryBytes)}), ${perDevice} tokens/s`)
}
