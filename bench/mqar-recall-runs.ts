// Joining the recall benchmark's runs from several files (bench/mqar-recall.bench.ts
// --merge): a GPU call's limit can cut a run off (status 'cut_off'), and a later
// call trains it again from the start, so a run may appear twice.

import { pathsOverlap } from '../electron/workspace/templates'

/** The fields of a run row that decide which of two rows of one run to keep. */
export interface RunIdentity {
  preset: string
  seed: number
  status: string
  steps: number
}

/**
 * One row per (preset, seed): a finished row (any status but 'cut_off') over a
 * cut-off one, and of two cut-off rows the one that trained more steps. Two
 * finished rows of one run are an error: the files measured it twice. Order:
 * each kept row where its run first appeared.
 */
export function joinRuns<R extends RunIdentity>(rows: R[]): R[] {
  const kept = new Map<string, R>()
  for (const r of rows) {
    const key = `${r.preset} seed ${r.seed}`
    const had = kept.get(key)
    if (!had) {
      kept.set(key, r)
      continue
    }
    const [hadDone, rDone] = [had.status !== 'cut_off', r.status !== 'cut_off']
    if (hadDone && rDone) throw new Error(`${key} finished in more than one file (statuses ${had.status} and ${r.status})`)
    if (rDone || (!hadDone && r.steps > had.steps)) kept.set(key, r)
  }
  return [...kept.values()]
}

/** The fields of a run row that rank runs of one cell trained at different learning rates. */
export interface CellRun {
  /** The run's name in the template ("gla 128 256 lr1e-3"). */
  preset: string
  /** The name without the learning rate's label ("gla 128 256"); absent in older files: the name. */
  cell?: string
  /** The run's learning rate; absent in older files. */
  lr?: number
  seed: number
  first_step_at_0_99: number | null
  best_accuracy: number
}

/** A cell's runs at each learning rate, and the better one. */
export interface CellBest<R extends CellRun> {
  cell: string
  seed: number
  best: R
  /** Every run of the cell and seed, the best first. */
  runs: R[]
}

/** Reaching 0.99 beats not reaching it; then fewer steps to it; else the higher best accuracy. */
function better(a: CellRun, b: CellRun): number {
  const [ra, rb] = [a.first_step_at_0_99, b.first_step_at_0_99]
  if (ra !== null && rb !== null) return ra - rb
  if (ra !== null) return -1
  if (rb !== null) return 1
  return b.best_accuracy - a.best_accuracy
}

/**
 * Zoology reports each cell of its grid (model, width, length) at the best of a
 * learning-rate sweep: per cell and seed, the runs at each rate, the better first.
 * Each seed is ranked on its own, so a second seed checks the rate the first chose
 * rather than adding draws to pick from. Order: each cell where it first appeared.
 */
export function bestOverLearningRates<R extends CellRun>(rows: R[]): CellBest<R>[] {
  const cells = new Map<string, R[]>()
  for (const r of rows) {
    const key = JSON.stringify([r.cell ?? r.preset, r.seed])
    cells.set(key, [...(cells.get(key) ?? []), r])
  }
  return [...cells.entries()].map(([key, runs]) => {
    const [cell, seed] = JSON.parse(key) as [string, number]
    const sorted = [...runs].sort(better)
    return { cell, seed, best: sorted[0]!, runs: sorted }
  })
}

/** The fields of a template a diagnosis rewrites: its sweep axes' per-value settings (`with`). */
export interface SweepWith {
  sweep: { path: string; with?: Record<string, unknown>[] }[]
}

/**
 * The template for a diagnosis's --set paths: each axis's `with` loses the
 * entries at or under (or above) a --set path, so the --set applies to every
 * run instead of being refused as an override of a per-run value. A path the
 * template sweeps itself (an axis's own path) is left for expandTemplate to
 * refuse: changing it would rename nothing and replace every run's value.
 */
export function withoutPerRunSettings<T extends SweepWith>(template: T, paths: string[]): T {
  return {
    ...template,
    sweep: template.sweep.map((axis) =>
      axis.with === undefined
        ? axis
        : { ...axis, with: axis.with.map((w) => Object.fromEntries(Object.entries(w).filter(([k]) => !paths.some((p) => pathsOverlap(k, p))))) },
    ),
  }
}

/**
 * The template's runs (by name) that a file has no finished row of: never run, or only cut off
 * by a call's limit. In the template's order.
 */
export function stillToRun(expected: string[], rows: RunIdentity[]): string[] {
  const finished = new Set(rows.filter((r) => r.status !== 'cut_off').map((r) => r.preset))
  return expected.filter((name) => !finished.has(name))
}
