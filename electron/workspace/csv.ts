// A run's metrics as CSV: one row per training step, with the evaluation
// headline on the steps that were evaluated.
import type { MetricsLine } from '../api/runs'

const COLUMNS = ['step', 'loss', 'lr', 'grad_norm', 'tokens_per_second', 'elapsed_seconds', 'memory_bytes', 'eval_headline'] as const

export function metricsCsv(lines: MetricsLine[]): string {
  const evals = new Map<number, number>()
  for (const l of lines) if (l.type === 'eval') evals.set(l.step, l.headline)
  const rows = [COLUMNS.join(',')]
  for (const l of lines) {
    if (l.type !== 'train') continue
    rows.push([l.step, l.loss, l.lr, l.gradNorm, l.tokensPerSecond, l.elapsedSeconds, l.memoryBytes, evals.get(l.step) ?? ''].join(','))
  }
  return rows.join('\n') + '\n'
}
