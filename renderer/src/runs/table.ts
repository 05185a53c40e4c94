// The runs table: one row per run with the values the columns show and
// sort by, a text filter, and a stable sort (missing values last).
import { backendLabel } from '../../../electron/api/backend-label'
import { MAX_RUN_TAGS, RUN_TAG, RUN_TAG_RULE, type RunRecord, type RunStatus } from '../../../electron/api/runs'
import type { Task } from '../../../electron/api/train-spec'

export const RUN_COLUMNS = ['status', 'name', 'model', 'params', 'task', 'steps', 'bestAccuracy', 'lastLoss', 'time', 'backend', 'created'] as const
export type RunColumn = (typeof RUN_COLUMNS)[number]
export type SortDir = 'asc' | 'desc'
export interface RunSort {
  column: RunColumn
  dir: SortDir
}

/** "mqar T=128, 8 pairs", "permutation s5 T=32" */
export function taskLabel(task: Task): string {
  switch (task.kind) {
    case 'mqar':
      return `mqar T=${task.seq_len}, ${task.num_kv_pairs} pairs`
    case 'permutation':
      return `permutation ${task.group} T=${task.seq_len}`
    case 'modular_addition':
      return `modular_addition mod ${task.modulus} T=${task.seq_len}`
    case 'selective_copy':
      return `selective_copy T=${task.seq_len}, ${task.num_tokens} tokens`
    default:
      return `${task.kind} T=${task.seq_len}`
  }
}

/** Wall time a run has trained (so far, for a running one). */
export function runSeconds(run: Pick<RunRecord, 'startedMs' | 'endedMs' | 'status'>, nowMs: number): number | undefined {
  if (run.startedMs === undefined) return undefined
  const end = run.endedMs ?? (run.status === 'running' ? nowMs : undefined)
  return end === undefined ? undefined : Math.max(0, (end - run.startedMs) / 1000)
}

/** Order of statuses when sorting by status: what needs attention first. */
const STATUS_ORDER: Record<RunStatus, number> = { running: 0, queued: 1, failed: 2, cancelled: 3, early_stopped: 4, completed: 5 }

export function sortValue(run: RunRecord, column: RunColumn, nowMs: number): string | number | undefined {
  switch (column) {
    case 'status':
      return STATUS_ORDER[run.status]
    case 'name':
      return run.name.toLowerCase()
    case 'model':
      return modelLabel(run).toLowerCase()
    case 'params':
      return run.params
    case 'task':
      return taskLabel(run.trainSpec.task).toLowerCase()
    case 'steps':
      return run.steps
    case 'bestAccuracy':
      return run.bestAccuracy
    case 'lastLoss':
      return run.lastLoss
    case 'time':
      return runSeconds(run, nowMs)
    case 'backend':
      return run.backend?.toLowerCase()
    case 'created':
      return run.createdMs
  }
}

/** Sorted copy; missing values go last in both directions, ties keep creation order (newest first). */
export function sortRuns(runs: readonly RunRecord[], sort: RunSort, nowMs = Date.now()): RunRecord[] {
  const sign = sort.dir === 'asc' ? 1 : -1
  return [...runs].sort((a, b) => {
    const va = sortValue(a, sort.column, nowMs)
    const vb = sortValue(b, sort.column, nowMs)
    if (va === undefined || vb === undefined) {
      if (va !== vb) return va === undefined ? 1 : -1
    } else if (va !== vb) return (va < vb ? -1 : 1) * sign
    return b.createdMs - a.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  })
}

/** Clicking a column: the same column flips direction; a new one starts ascending (numbers: descending). */
export function nextSort(current: RunSort, column: RunColumn): RunSort {
  if (current.column === column) return { column, dir: current.dir === 'asc' ? 'desc' : 'asc' }
  const numeric: RunColumn[] = ['steps', 'bestAccuracy', 'time', 'created']
  return { column, dir: numeric.includes(column) ? 'desc' : 'asc' }
}

/** The text a filter looks in. */
/** The model of a run: the saved spec it came from, else the spec's own name. */
export function modelLabel(run: RunRecord): string {
  return run.specName ?? run.modelSpec.name
}

/** The backend column: the device the engine picked ("cpu", "cuda:0"), the rest ("(asked for)") as its tooltip. */
/** "cuda:0 bf16" from the run's backend line (electron/api/backend-label.ts). */
export function backendShort(run: RunRecord): string {
  return backendLabel(run.backend)
}

function haystack(run: RunRecord): string {
  return [
    run.id,
    run.name,
    modelLabel(run),
    run.status,
    taskLabel(run.trainSpec.task),
    run.backend ?? '',
    run.modelSpec.preset ?? '',
    run.specName ?? '',
    run.template?.id ?? '',
    ...(run.tags ?? []),
  ]
    .join(' ')
    .toLowerCase()
}

/** Every whitespace-separated term must appear (case-insensitive) in the run's name, status, task, backend, preset, template or tags. */
export function filterRuns(runs: readonly RunRecord[], text: string): RunRecord[] {
  const terms = text.toLowerCase().split(/\s+/).filter(Boolean)
  if (!terms.length) return [...runs]
  return runs.filter((r) => {
    const h = haystack(r)
    return terms.every((t) => h.includes(t))
  })
}

/** Which runs the table shows besides the text filter: archived ones only on request, and only those with a tag when one is picked. */
export interface RunView {
  showArchived: boolean
  /** '' for every tag. */
  tag: string
}

export function viewRuns(runs: readonly RunRecord[], text: string, view: RunView): RunRecord[] {
  return filterRuns(runs, text).filter((r) => (view.showArchived || !r.archived) && (!view.tag || (r.tags ?? []).includes(view.tag)))
}

/** Every tag of these runs, once, sorted (case-insensitive). */
export function allTags(runs: readonly RunRecord[]): string[] {
  return [...new Set(runs.flatMap((r) => r.tags ?? []))].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()) || (a < b ? -1 : 1))
}

/**
 * A tag as typed, trimmed, checked with the LabApi's own rule: the tag, or
 * why not (naming the value), so the page says it before the call would.
 */
export function checkTag(typed: string, has: readonly string[] = []): { tag: string } | { error: string } {
  const tag = typed.trim()
  if (!RUN_TAG.test(tag)) return { error: `${JSON.stringify(tag.length > 40 ? `${tag.slice(0, 40)}…` : tag)} ${RUN_TAG_RULE}` }
  if (!has.includes(tag) && has.length >= MAX_RUN_TAGS) return { error: `a run has at most ${MAX_RUN_TAGS} tags; remove one first` }
  return { tag }
}

/**
 * A tag typed into a row's tag editor: checked as checkTag does, and refused
 * when the run has it already (the LabApi would ignore it silently; the
 * editor says so instead).
 */
export function checkAddedTag(typed: string, has: readonly string[]): { tag: string } | { error: string } {
  const checked = checkTag(typed, has)
  if ('tag' in checked && has.includes(checked.tag)) return { error: `the run is already tagged ${JSON.stringify(checked.tag)}` }
  return checked
}
