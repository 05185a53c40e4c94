// The hyperparameters of runs side by side: each run's ModelSpec and
// TrainSpec flattened to "path → value" (model.layers[0].heads,
// train.optimizer.lr), then one row per path across the runs.
import type { RunRecord } from '../../../electron/api/runs'

export type FlatValue = string | number | boolean | null

/** Leaves of a JSON document by path; arrays of plain values stay one leaf ("[64, 128]"). */
export function flattenSpec(value: unknown, prefix = '', out: Map<string, FlatValue> = new Map()): Map<string, FlatValue> {
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) {
      out.set(prefix, `[${value.map((v) => (typeof v === 'string' ? v : String(v))).join(', ')}]`)
      return out
    }
    value.forEach((v, i) => flattenSpec(v, `${prefix}[${i}]`, out))
    return out
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) flattenSpec(v, prefix ? `${prefix}.${key}` : key, out)
    return out
  }
  if (value === undefined) return out
  out.set(prefix, value as FlatValue)
  return out
}

/** Paths that say nothing about a run's settings: format tags and the model's display name. */
const SKIPPED = new Set(['model.format', 'model.name', 'train.format'])

export function runHyperparams(run: Pick<RunRecord, 'modelSpec' | 'trainSpec'>): Map<string, FlatValue> {
  const flat = flattenSpec({ model: run.modelSpec, train: run.trainSpec })
  for (const path of SKIPPED) flat.delete(path)
  return flat
}

export interface HyperparamRow {
  path: string
  /** One per run, in the runs' order; undefined where a run has no such field. */
  values: (FlatValue | undefined)[]
  differs: boolean
}

const same = (a: FlatValue | undefined, b: FlatValue | undefined) => a === b || (Number.isNaN(a) && Number.isNaN(b))

/**
 * Rows in the order paths first appear (model before train, as the specs
 * list them); with onlyDifferences, only rows where some run differs.
 */
export function hyperparamRows(runs: readonly Pick<RunRecord, 'modelSpec' | 'trainSpec'>[], onlyDifferences = false): HyperparamRow[] {
  const flats = runs.map(runHyperparams)
  const paths: string[] = []
  const seen = new Set<string>()
  for (const f of flats)
    for (const p of f.keys())
      if (!seen.has(p)) {
        seen.add(p)
        paths.push(p)
      }
  const rows = paths.map((path) => {
    const values = flats.map((f) => f.get(path))
    return { path, values, differs: values.some((v) => !same(v, values[0])) }
  })
  return onlyDifferences ? rows.filter((r) => r.differs) : rows
}

export function formatFlatValue(v: FlatValue | undefined): string {
  if (v === undefined) return '—'
  if (v === null) return 'null'
  return String(v)
}
