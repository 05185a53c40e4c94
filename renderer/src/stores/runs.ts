// Runs store: the workspace's runs (listed, then kept current by run.status
// events), each run's metrics lines (read once, then appended from
// run.metrics events), the run the Train screen watches, the runs the Runs
// screen compares, and the Train screen's form (model + TrainSpec, or a
// template with its inputs and overrides).
import { defineStore } from 'pinia'
import { computed, reactive, ref, shallowRef } from 'vue'
import type { SavedSpecInfo, WorkspaceInfo } from '../../../electron/api/labapi'
import type { ModelSpec } from '../../../electron/api/model-spec'
import { DEFAULT_PREFERENCES, type Preferences } from '../../../electron/api/preferences'
import { FINISHED_STATUSES, type MetricsLine, type RunRecord } from '../../../electron/api/runs'
import type { Template } from '../../../electron/api/template'
import type { TaskKind, TrainSpec } from '../../../electron/api/train-spec'
import { labApi } from '../api/client'
import { messageOf } from '../api/errors'
import { mergeMetrics } from '../runs/metrics'
import { defaultTrainSpec, followPreferences, setPath, trainSpecErrors, withTaskKind } from '../runs/train-form'

/** Live lines reach the charts at most this often (a run can log hundreds of steps a second). */
const METRICS_REFRESH_MS = 100
const NO_LINES: readonly MetricsLine[] = Object.freeze([])

export interface ModelChoice {
  source: 'saved' | 'preset'
  /** A saved spec's name, or a preset's id. */
  name: string
}


/** Runs in a template: the size of its sweep grid. */
export function templateRunCount(t: Pick<Template, 'sweep'>): number {
  return t.sweep.reduce((n, axis) => n * axis.values.length, 1)
}

export const useRunsStore = defineStore('runs', () => {
  // ---- runs -------------------------------------------------------------
  /** Newest first. Replaced whole on every change. */
  const runs = shallowRef<RunRecord[]>([])
  const problems = shallowRef<{ file: string; problem: string }[]>([])
  const runningId = ref<string | null>(null)
  const queuedIds = ref<string[]>([])
  const workspace = shallowRef<WorkspaceInfo | null>(null)
  const error = ref('')
  const notice = ref('')
  const loaded = ref(false)

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

  // ---- what the screens look at -------------------------------------------
  const liveId = ref<string | null>(null)
  /** The Train screen switches to each run that starts. */
  const followRunning = ref(true)
  const selectedIds = ref<string[]>([])

  const byId = computed(() => new Map(runs.value.map((r) => [r.id, r])))
  const liveRun = computed(() => (liveId.value ? (byId.value.get(liveId.value) ?? null) : null))
  const selectedRuns = computed(() => selectedIds.value.flatMap((id) => byId.value.get(id) ?? []))

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
      const [list, info] = await Promise.all([labApi().listRuns({}), labApi().workspaceInfo({})])
      workspace.value = info
      problems.value = list.problems
      // Keep records that a status event updated while the listing was on its way.
      const current = byId.value
      const merged = list.runs.map((r) => ((statusEvents.get(r.id) ?? 0) !== (before.get(r.id) ?? 0) ? (current.get(r.id) ?? r) : r))
      for (const r of runs.value) if (!merged.some((m) => m.id === r.id) && statusEvents.has(r.id)) merged.push(r)
      runs.value = merged.sort((a, b) => b.createdMs - a.createdMs)
      runningId.value = list.runningId
      queuedIds.value = list.queuedIds
      if (list.runningId) void loadMetrics(list.runningId)
      if (!liveId.value || !byId.value.has(liveId.value)) liveId.value = list.runningId ?? runs.value[0]?.id ?? null
      selectedIds.value = selectedIds.value.filter((id) => byId.value.has(id))
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

  /** Subscribes to run events (once) and lists the runs, templates and specs. */
  async function init(): Promise<void> {
    if (!unsubscribe.length) {
      const api = labApi()
      unsubscribe = [
        api.on('run.status', ({ run }) => applyStatus(run)),
        api.on('run.metrics', ({ runId, line }) => onMetrics(runId, line)),
        api.on('preferences.changed', ({ preferences: p }) => applyPreferences(p)),
        api.on('workspace.changed', (info) => {
          // The same folder again is a resync (the connection dropped and events may be lost):
          // re-read, keeping what the person is looking at. Another folder starts afresh.
          const same = workspace.value?.path === info.path
          workspace.value = info
          if (same) rereadMetrics()
          else reset()
          void refresh()
        }),
      ]
    }
    await Promise.all([refresh(), loadChoices()])
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

  function setSelected(ids: string[]): void {
    selectedIds.value = [...ids]
    for (const id of ids) void loadMetrics(id)
  }

  /**
   * Upserts records a call returned, except those a status event updated
   * while the call was on its way (the event's record is as new or newer).
   */
  function adoptAfter(snapshot: Map<string, number>, records: RunRecord[]): void {
    for (const r of records) if ((statusEvents.get(r.id) ?? 0) === (snapshot.get(r.id) ?? 0)) upsert(r)
  }

  async function act(what: () => Promise<RunRecord>): Promise<RunRecord | null> {
    error.value = ''
    const snapshot = new Map(statusEvents)
    try {
      const run = await what()
      adoptAfter(snapshot, [run])
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

  async function exportCsv(id: string): Promise<{ filename: string; csv: string } | null> {
    error.value = ''
    try {
      return await labApi().exportRunCsv({ id })
    } catch (err) {
      error.value = messageOf(err)
      return null
    }
  }

  // ---- workspaces ------------------------------------------------------------
  const recent = ref<string[]>([])

  async function loadRecent(): Promise<void> {
    try {
      recent.value = await labApi().recentWorkspaces({})
    } catch (err) {
      error.value = messageOf(err)
    }
  }

  /** Opens another workspace folder (created if new); the runs follow through workspace.changed. */
  async function openWorkspace(path: string): Promise<boolean> {
    error.value = ''
    try {
      workspace.value = await labApi().openWorkspace({ path })
      reset()
      await refresh()
      notice.value = `opened ${workspace.value.path}`
      return true
    } catch (err) {
      error.value = messageOf(err)
      return false
    }
  }

  // ---- the Train screen's form ---------------------------------------------
  const templates = shallowRef<Template[]>([])
  const savedSpecs = shallowRef<SavedSpecInfo[]>([])
  const presets = shallowRef<ModelSpec[]>([])
  const modelChoice = ref<ModelChoice | null>(null)
  const model = shallowRef<ModelSpec | null>(null)
  const runName = ref('')
  /** The default backend and device for new runs (getPreferences; the menu or setPreferences change them). */
  const preferences = shallowRef<Preferences>({ ...DEFAULT_PREFERENCES })
  const draft = shallowRef<TrainSpec>(defaultTrainSpec())
  const starting = ref(false)

  const draftErrors = computed(() => trainSpecErrors(draft.value, model.value))
  const draftErrorAt = computed(() => new Map(draftErrors.value.map((e) => [e.path, e.message])))
  const canStart = computed(() => model.value !== null && draftErrors.value.length === 0 && runName.value.trim().length > 0 && !starting.value)

  async function loadChoices(): Promise<void> {
    try {
      const [t, s, p, prefs] = await Promise.all([labApi().listTemplates({}), labApi().listModelSpecs({}), labApi().listPresets({}), labApi().getPreferences({})])
      applyPreferences(prefs.preferences)
      templates.value = t
      savedSpecs.value = s
      presets.value = p
      if (!modelChoice.value) {
        const first: ModelChoice | null = s[0] ? { source: 'saved', name: s[0].name } : p.some((x) => x.preset === 'gla') ? { source: 'preset', name: 'gla' } : null
        if (first) await chooseModel(first)
      }
    } catch (err) {
      error.value = messageOf(err)
    }
  }

  async function chooseModel(choice: ModelChoice): Promise<boolean> {
    error.value = ''
    try {
      const spec =
        choice.source === 'saved'
          ? await labApi().loadModelSpec({ name: choice.name })
          : (presets.value.find((p) => p.preset === choice.name) ??
            (() => {
              throw new Error(`no preset '${choice.name}'; valid: ${presets.value.map((p) => p.preset).join(', ')}`)
            })())
      const previousDefault = model.value?.name
      modelChoice.value = choice
      model.value = spec
      if (!runName.value || runName.value === previousDefault) runName.value = spec.name
      return true
    } catch (err) {
      error.value = messageOf(err)
      return false
    }
  }

  function setDraftField(path: string, value: unknown): void {
    draft.value = setPath(draft.value, path, value)
  }

  function setTaskKind(kind: TaskKind): void {
    draft.value = withTaskKind(draft.value, kind)
  }

  function resetDraft(): void {
    draft.value = defaultTrainSpec(preferences.value)
  }

  function applyPreferences(next: Preferences): void {
    draft.value = followPreferences(draft.value, preferences.value, next)
    preferences.value = next
  }

  /** Starts the form's run; nothing is sent while the form is invalid. */
  async function startFromForm(): Promise<RunRecord | null> {
    error.value = ''
    if (!model.value) {
      error.value = 'pick a model first (a saved spec or a preset)'
      return null
    }
    if (draftErrors.value.length) {
      error.value = 'fix the marked fields before starting'
      return null
    }
    starting.value = true
    const snapshot = new Map(statusEvents)
    try {
      const run = await labApi().startRun({
        name: runName.value.trim(),
        modelSpec: model.value,
        trainSpec: draft.value,
        specName: modelChoice.value?.source === 'saved' ? modelChoice.value.name : undefined,
      })
      adoptAfter(snapshot, [run])
      liveId.value = run.id
      void loadMetrics(run.id)
      notice.value = `started ${run.name}`
      return run
    } catch (err) {
      error.value = messageOf(err)
      return null
    } finally {
      starting.value = false
    }
  }

  /** Starts a template's runs (queued run after run); overrides apply to every run. */
  async function startTemplate(id: string, inputs: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}): Promise<RunRecord[]> {
    error.value = ''
    starting.value = true
    const snapshot = new Map(statusEvents)
    try {
      const started = await labApi().startTemplate({ id, inputs, overrides })
      adoptAfter(snapshot, started)
      // Watch the first of them, unless a run from before is still training.
      if (started[0] && (!runningId.value || started.some((r) => r.id === runningId.value))) setLive(runningId.value ?? started[0].id)
      notice.value = `queued ${started.length} run${started.length === 1 ? '' : 's'} of ${id}`
      return started
    } catch (err) {
      error.value = messageOf(err)
      return []
    } finally {
      starting.value = false
    }
  }

  const isFinished = (r: RunRecord) => FINISHED_STATUSES.includes(r.status)

  return {
    runs,
    problems,
    runningId,
    queuedIds,
    workspace,
    error,
    notice,
    loaded,
    liveId,
    liveRun,
    followRunning,
    selectedIds,
    selectedRuns,
    byId,
    templates,
    savedSpecs,
    presets,
    modelChoice,
    model,
    runName,
    draft,
    preferences,
    starting,
    draftErrors,
    draftErrorAt,
    canStart,
    metricsOf,
    skippedOf,
    loadMetrics,
    refresh,
    init,
    dispose,
    setLive,
    toggleSelected,
    setSelected,
    cancel,
    resume,
    exportCsv,
    loadChoices,
    chooseModel,
    setDraftField,
    setTaskKind,
    resetDraft,
    startFromForm,
    startTemplate,
    isFinished,
    recent,
    loadRecent,
    openWorkspace,
  }
})
