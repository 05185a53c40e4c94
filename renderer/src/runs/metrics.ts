// A run's metrics lines turned into what the screens show: curves (loss,
// eval headline, throughput, memory), the log pane, and the merge of a file
// read with the live lines that arrived while it was being read.
import type { MetricsLine } from '../../../electron/api/runs'
import { formatBytes } from '../../../electron/api/format'

export type TrainLine = Extract<MetricsLine, { type: 'train' }>
export type EvalLine = Extract<MetricsLine, { type: 'eval' }>

/** [step, value] */
export type Point = [number, number]

export const trainLines = (lines: readonly MetricsLine[]): TrainLine[] => lines.filter((l): l is TrainLine => l.type === 'train')
export const evalLines = (lines: readonly MetricsLine[]): EvalLine[] => lines.filter((l): l is EvalLine => l.type === 'eval')

export function lossPoints(lines: readonly MetricsLine[]): Point[] {
  return trainLines(lines).map((l) => [l.step, l.loss])
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

/** Per eval set (e.g. the training length and longer ones): accuracy, or bits per byte. */
export function evalSetPoints(lines: readonly MetricsLine[]): { name: string; points: Point[] }[] {
  const sets = new Map<string, Point[]>()
  for (const l of evalLines(lines))
    for (const s of l.sets) {
      const label = `${s.name} (T=${s.seqLen})`
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
          .map((s) => (l.headlineName === 'bits_per_byte' ? `${s.name} ${s.bitsPerByte.toFixed(3)} bpb` : `${s.name} (T=${s.seqLen}) ${(100 * s.accuracy).toFixed(1)}%`))
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

export function describeMemory(l: TrainLine | undefined): string {
  return l ? `${formatBytes(l.memoryBytes)} (peak ${formatBytes(l.peakMemoryBytes)})` : '—'
}
