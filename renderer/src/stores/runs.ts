// Runs store: the workspace's runs (listed, then kept current by run.status
// events), each run's metrics lines (read once, then appended from
// run.metrics events), the run the Train screen watches and the runs the
// Runs screen compares. The Train screen's form (stores/train-form.ts)
// starts runs through `adopt`; the workspace itself is stores/workspace.ts.
import { defineStore } from 'pinia'
import { computed, reactive, ref, shallowRef } from 'vue'
import { FINISHED_STATUSES, type MetricsLine, type RunRecord } from '../../../electron/api/runs'
import type { RunExport } from '../../../electron/api/labapi'
import { labApi } from '../api/client'
import { messageOf } from '../api/errors'
import { mergeMetrics } from '../runs/metrics'
import { distinctRunColors } from '../runs/colors'

/** Live lines reach the charts at most this often (a run can log hundreds of steps a second). */
const METRICS_REFRESH_MS = 100
const NO_LINES: readonly MetricsLine[] = Object.freeze([])

export const useRunsStore = defineStore('runs', () => {
  // ---- runs -------------------------------------------------------------
  /** Newest first. Replaced whole on every change. */
  const runs = shallowRef<RunRecord[]>([])
  /** Run files the listing could not read (the rest are listed). */
  const problems = shallowRef<{ file: string; problem: string }[]>([])
  const runningId = ref<string | null>(null)
  const queuedIds = ref<string[]>([])
  const error = ref('')
  const loaded = ref(false)
  /** The workspace the runs are from (a workspace.changed for the same path is a resync). */
  let workspacePath: string | undefined

  /** Per run, bumped when its lines change: metricsOf(id) depends on its own entry only. */
  const metricsVersions = reactive(new Map<string, number>())
  const changed = new Set<string>()
  // Lines live outside reactive state (thousands per run, appended often).
  const lines = new Map<string, MetricsLine[]>()
  const snapshots = new Map<string, { version: number; lines: readonly MetricsLine[] }>()
  const skipped = new Map<string, number>()
  /** Live lines that arrived while the run's file was being read. */
  const buffering = new Map<string, MetricsLine[]>()
  const reads = new Map<string, Promise<void>>()
  let bumpTimer: ReturnType<typeof setTimeout> | undefined
  /** Per run, how many status events have arrived (a listing older than an event must not undo it). */
  const statusEvents = new Map<string, number>()
  let unsubscribe: (() => void)[] = []
  /** Runs deleted since the workspace opened (a listing older than the delete must not bring one back). */
  const deleted = new Set<string>()

  // ---- what the screens look at -------------------------------------------
  const liveId = ref<string | null>(null)
  /** The Train screen switches to each run that starts. */
  const followRunning = ref(true)
  const selectedIds = ref<string[]>([])

  const byId = computed(() => new Map(runs.value.map((r) => [r.id, r])))
  const liveRun = computed(() => (liveId.value ? (byId.value.get(liveId.value) ?? null) : null))
  const selectedRuns = computed(() => selectedIds.value.flatMap((id) => byId.value.get(id) ?? []))
  /** The compared runs' colours: their own, made distinct within the selection (oldest run first, so a set keeps its colours). */
  const compareColors = computed(() =>
    distinctRunColors([...selectedRuns.value].sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : 1)).map((r) => r.id)),
  )

  function touch(id: string): void {
    metricsVersions.set(id, (metricsVersions.get(id) ?? 0) + 1)
  }

  /** Coalesces live lines: the charts of a run redraw at most every METRICS_REFRESH_MS. */
  function bump(id: string): void {
    changed.add(id)
    if (bumpTimer) return
    bumpTimer = setTimeout(() => {
      bumpTimer = undefined
      for (const c of changed) touch(c)
      changed.clear()
    }, METRICS_REFRESH_MS)
  }

  /**
   * A run's lines as of its latest version (reactive: a computed reading it
   * follows that run's new lines). A new array per version, so computeds
   * built on it see a change; the same array while nothing changed.
   */
  function metricsOf(id: string): readonly MetricsLine[] {
    const version = metricsVersions.get(id) ?? 0
    const have = lines.get(id)
    if (!have) return NO_LINES
    const snap = snapshots.get(id)
    if (snap?.version === version) return snap.lines
    const copy = have.slice()
    snapshots.set(id, { version, lines: copy })
    return copy
  }

  function skippedOf(id: string): number {
    void metricsVersions.get(id)
    return skipped.get(id) ?? 0
  }

  function upsert(run: RunRecord): void {
    const i = runs.value.findIndex((r) => r.id === run.id)
    const next = [...runs.value]
    if (i >= 0) next[i] = run
    else next.unshift(run)
    next.sort((a, b) => b.createdMs - a.createdMs)
    runs.value = next
  }

  function applyStatus(run: RunRecord): void {
    statusEvents.set(run.id, (statusEvents.get(run.id) ?? 0) + 1)
    // The runner sends a run's lines before the record that follows them (the
    // final step, eval, checkpoint and status line before the final record):
    // lines still waiting for the coalescing timer show now, with the record,
    // or a finished run would show its status beside the progress and log of
    // up to METRICS_REFRESH_MS before it.
    if (changed.delete(run.id)) touch(run.id)
    upsert(run)
    const queued = queuedIds.value.filter((id) => id !== run.id)
    if (run.status === 'queued') queued.push(run.id)
    queuedIds.value = queued
    if (run.status === 'running') {
      runningId.value = run.id
      if (followRunning.value) liveId.value = run.id
      void loadMetrics(run.id)
    } else if (runningId.value === run.id) runningId.value = null
  }

  /** A run deleted (here or in another window): it leaves the table, the comparison, the Train screen and the store. */
  function forget(id: string): void {
    deleted.add(id)
    statusEvents.set(id, (statusEvents.get(id) ?? 0) + 1)
    runs.value = runs.value.filter((r) => r.id !== id)
    selectedIds.value = selectedIds.value.filter((x) => x !== id)
    queuedIds.value = queuedIds.value.filter((x) => x !== id)
    if (runningId.value === id) runningId.value = null
    if (liveId.value === id) liveId.value = runningId.value ?? runs.value[0]?.id ?? null
    lines.delete(id)
    snapshots.delete(id)
    skipped.delete(id)
    touch(id)
  }

  function onMetrics(runId: string, line: MetricsLine): void {
    const have = lines.get(runId)
    if (have) {
      have.push(line)
      bump(runId)
      return
    }
    const buffer = buffering.get(runId)
    if (buffer) buffer.push(line)
    else void loadMetrics(runId, [line])
  }

  /** Reads a run's metrics once; live lines arriving meanwhile are merged in after. */
  function loadMetrics(id: string, firstLive: MetricsLine[] = []): Promise<void> {
    if (lines.has(id)) return Promise.resolve()
    const pending = reads.get(id)
    if (pending) {
      buffering.get(id)?.push(...firstLive)
      return pending
    }
    buffering.set(id, [...firstLive])
    const read = labApi()
      .runMetrics({ id })
      .then((r) => {
        lines.set(id, mergeMetrics(r.lines, buffering.get(id) ?? []))
        skipped.set(id, r.skipped.length)
      })
      .catch((err) => {
        error.value = `could not read the metrics of run ${id}: ${messageOf(err)}`
      })
      .finally(() => {
        buffering.delete(id)
        reads.delete(id)
        touch(id)
      })
    reads.set(id, read)
    return read
  }

  async function refresh(): Promise<void> {
    const before = new Map(statusEvents)
    try {
      // The workspace's path with the listing: whether a workspace.changed is this one again.
      const [list, info] = await Promise.all([labApi().listRuns({}), labApi().workspaceInfo({})])
      workspacePath = info.path
      problems.value = list.problems
      // Keep records that a status event updated while the listing was on its way.
      const current = byId.value
      // A run deleted while the listing was on its way stays gone.
      const merged = list.runs
        .filter((r) => !deleted.has(r.id))
        .map((r) => ((statusEvents.get(r.id) ?? 0) !== (before.get(r.id) ?? 0) ? (current.get(r.id) ?? r) : r))
      for (const r of runs.value) if (!merged.some((m) => m.id === r.id) && statusEvents.has(r.id)) merged.push(r)
      runs.value = merged.sort((a, b) => b.createdMs - a.createdMs)
      runningId.value = list.runningId
      queuedIds.value = list.queuedIds
      if (list.runningId) void loadMetrics(list.runningId)
      if (!liveId.value || !byId.value.has(liveId.value)) liveId.value = list.runningId ?? runs.value[0]?.id ?? null
      selectedIds.value = selectedIds.value.filter((id) => byId.value.has(id))
      for (const id of selectedIds.value) void loadMetrics(id)
      loaded.value = true
    } catch (err) {
      error.value = messageOf(err)
    }
  }

  function reset(): void {
    runs.value = []
    lines.clear()
    snapshots.clear()
    skipped.clear()
    buffering.clear()
    reads.clear()
    statusEvents.clear()
    deleted.clear()
    liveId.value = null
    selectedIds.value = []
    for (const id of metricsVersions.keys()) touch(id)
  }

  /** Drops every run's lines and reads again those on screen (the live run, the selected ones). */
  function rereadMetrics(): void {
    lines.clear()
    snapshots.clear()
    skipped.clear()
    buffering.clear()
    reads.clear()
    for (const id of metricsVersions.keys()) touch(id)
    for (const id of new Set([liveId.value, ...selectedIds.value])) if (id) void loadMetrics(id)
  }

  /** Subscribes to run events (once) and lists the runs. */
  async function init(): Promise<void> {
    if (!unsubscribe.length) {
      const api = labApi()
      unsubscribe = [
        api.on('run.status', ({ run }) => applyStatus(run)),
        api.on('run.metrics', ({ runId, line }) => onMetrics(runId, line)),
        api.on('run.deleted', ({ runId }) => forget(runId)),
        api.on('workspace.changed', (info) => {
          // The same folder again is a resync (the connection dropped and events may be lost):
          // re-read, keeping what the person is looking at. Another folder starts afresh.
          const same = workspacePath === info.path
          workspacePath = info.path
          if (same) rereadMetrics()
          else reset()
          void refresh()
        }),
      ]
    }
    await refresh()
  }

  /** Unsubscribes from events (tests; a page that goes away). */
  function dispose(): void {
    for (const off of unsubscribe) off()
    unsubscribe = []
    clearTimeout(bumpTimer)
    bumpTimer = undefined
    changed.clear()
  }

  function setLive(id: string | null): void {
    liveId.value = id
    if (id) void loadMetrics(id)
  }

  function toggleSelected(id: string): void {
    selectedIds.value = selectedIds.value.includes(id) ? selectedIds.value.filter((x) => x !== id) : [...selectedIds.value, id]
    if (selectedIds.value.includes(id)) void loadMetrics(id)
  }

  /** Whether the Runs screen took the page's first selection from its URL (once per page load). */
  const selectionRestored = ref(false)
  /**
   * The selection a URL names (a reload, a link): ids this workspace lacks are
   * dropped once the runs are listed, and metrics are read only for runs it has.
   */
  function restoreSelected(ids: string[]): void {
    selectionRestored.value = true
    if (!ids.length) return
    selectedIds.value = loaded.value ? ids.filter((id) => byId.value.has(id)) : [...ids]
    if (loaded.value) for (const id of selectedIds.value) void loadMetrics(id)
  }

  function setSelected(ids: string[]): void {
    selectedIds.value = [...ids]
    for (const id of ids) void loadMetrics(id)
  }

  /**
   * Makes a call that returns run records (a start, a template's runs, a
   * cancel) and upserts them, except those a status event updated while the
   * call was on its way (the event's record is as new or newer). The call's
   * error is the caller's.
   */
  async function adopt(call: () => Promise<RunRecord[]>): Promise<RunRecord[]> {
    const snapshot = new Map(statusEvents)
    const records = await call()
    for (const r of records) if ((statusEvents.get(r.id) ?? 0) === (snapshot.get(r.id) ?? 0)) upsert(r)
    return records
  }

  async function act(what: () => Promise<RunRecord>): Promise<RunRecord | null> {
    error.value = ''
    try {
      const run = (await adopt(async () => [await what()]))[0]!
      return byId.value.get(run.id) ?? run
    } catch (err) {
      error.value = messageOf(err)
      return null
    }
  }

  const cancel = (id: string) => act(() => labApi().cancelRun({ id }))
  const resume = (id: string) =>
    act(async () => {
      const run = await labApi().resumeRun({ id })
      liveId.value = id
      return run
    })

  /**
   * A fine-tune of a run with a checkpoint (an imported model, or a trained
   * one): a new run of its ModelSpec and TrainSpec that starts from its
   * latest weights; it becomes the live run.
   */
  const fineTune = (source: RunRecord) =>
    act(async () => {
      const run = await labApi().startRun({
        name: `${source.name} (fine-tune)`.slice(0, 200),
        modelSpec: source.modelSpec,
        trainSpec: source.trainSpec,
        startFrom: { runId: source.id },
      })
      liveId.value = run.id
      return run
    })

  /** Archives a run (the table hides it unless archived runs are shown) or brings it back. */
  const archive = (id: string, archived: boolean) => act(() => labApi().archiveRun({ id, archived }))
  /** Adds and removes tags (checked by the LabApi; its refusal names the tag and the rule). */
  const tag = (id: string, change: { add?: string[]; remove?: string[] }) => act(() => labApi().tagRun({ id, ...change }))

  /** Deletes a run's folder (the screen asks first); a running or queued run is refused by the LabApi, which says so. */
  async function remove(id: string): Promise<boolean> {
    error.value = ''
    try {
      await labApi().deleteRun({ id })
      forget(id)
      return true
    } catch (err) {
      error.value = messageOf(err)
      return false
    }
  }

  /** Writes the run's latest checkpoint as a PyTorch folder in the workspace; null (and `error`) when refused. */
  async function exportRun(id: string): Promise<RunExport | null> {
    error.value = ''
    try {
      return await labApi().exportRun({ id })
    } catch (err) {
      error.value = messageOf(err)
      return null
    }
  }

  async function exportCsv(id: string): Promise<{ filename: string; csv: string } | null> {
    error.value = ''
    try {
      return await labApi().exportRunCsv({ id })
    } catch (err) {
      error.value = messageOf(err)
      return null
    }
  }

  const isFinished = (r: RunRecord) => FINISHED_STATUSES.includes(r.status)

  return {
    runs,
    problems,
    runningId,
    queuedIds,
    error,
    loaded,
    liveId,
    liveRun,
    followRunning,
    selectedIds,
    selectedRuns,
    compareColors,
    byId,
    metricsOf,
    skippedOf,
    loadMetrics,
    refresh,
    init,
    dispose,
    setLive,
    toggleSelected,
    setSelected,
    selectionRestored,
    restoreSelected,
    adopt,
    cancel,
    resume,
    fineTune,
    archive,
    tag,
    remove,
    exportCsv,
    exportRun,
    isFinished,
  }
})
