// Inspect store: which run and checkpoint, the input (an example of the
// run's task or typed text) and the capture's bounds; inspections started
// through the LabApi and followed by their inspect.status / inspect.progress
// events; the cached inspections of the run (opened from the run folder, no
// engine); a second checkpoint's result for side-by-side attention; and
// other runs' length curves overlaid on the state-tracking view.
import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import { InspectRequestSchema, type InspectionSummary, type InspectResult } from '../../../electron/api/inspect'
import type { InspectJob } from '../../../electron/api/labapi'
import type { RunRecord } from '../../../electron/api/runs'
import { formatErrors, validateWith, type SpecError } from '../../../electron/api/validate'
import { labApi } from '../api/client'
import { messageOf } from '../api/errors'
import { captureDifferences, DEFAULT_FORM, formFor, parseIndexList, requestFor, type InspectForm, type InspectRequestParams } from '../inspect/request-form'

const keyOf = (runId: string, name: string) => `${runId}/${name}`
/** What an inspection came to: its result, or why there is none; and what the store did unasked. */
type Outcome = { result?: InspectResult; error?: string; notice?: string }
/** Done or failed: a queued or running job is still under way. */
const isOver = (j: InspectJob) => j.status === 'done' || j.status === 'failed'

export const useInspectStore = defineStore('inspect', () => {
  /** Runs that have a checkpoint to inspect, newest first. */
  const runs = shallowRef<RunRecord[]>([])
  const runId = ref('')
  const checkpoints = shallowRef<{ checkpoint: string; step: number }[]>([])
  /** '' inspects the run's latest checkpoint. */
  const checkpoint = ref('')
  const form = ref<InspectForm>({ ...DEFAULT_FORM })
  const inspections = shallowRef<InspectionSummary[]>([])
  const result = shallowRef<InspectResult | null>(null)
  /** The same input through a second run or checkpoint (attention side by side). */
  const compareRunId = ref('')
  const compareCheckpoints = shallowRef<{ checkpoint: string; step: number }[]>([])
  const compareCheckpoint = ref('')
  const compareResult = shallowRef<InspectResult | null>(null)
  /** Other runs' results whose length curves are overlaid, by run id. */
  const overlays = shallowRef<Record<string, InspectResult>>({})
  /** Jobs under way or finished this session, by run/name. */
  const jobs = ref<Record<string, InspectJob>>({})
  const progress = ref<Record<string, { message: string; fraction: number }>>({})
  const error = ref('')
  /** What the store did that the person did not ask for in so many words (a cached result captured again). */
  const notice = ref('')
  /** Results already read, by run/name: reopening one needs no call at all. */
  const loaded = new Map<string, InspectResult>()
  /**
   * The person's latest request for what the screen shows (inspect, open a
   * cached inspection, choose a run; another workspace counts too): a reply
   * to an earlier one shows nothing, so a slow reply cannot replace a newer
   * result or error. Only opening an inspection sets the form; an inspection
   * leaves it as typed.
   */
  let latest = 0
  /** The same for the second checkpoint's result. */
  let latestCompare = 0
  let unsubscribe: (() => void)[] = []
  /** The workspace the runs are from (a workspace.changed for the same path is a resync). */
  let workspacePath: string | undefined

  const run = computed(() => runs.value.find((r) => r.id === runId.value) ?? null)
  const request = computed(() => requestFor(form.value, runId.value, checkpoint.value))
  /** The form checked with the engine's own schema (its bounds included), as you type. */
  const requestErrors = computed<SpecError[]>(() => {
    if (!runId.value) return []
    const typed = [parseIndexList(form.value.heads, 'heads').error, parseIndexList(form.value.stateSteps, 'stateSteps').error].filter(
      (e): e is SpecError => !!e,
    )
    const checked = validateWith(InspectRequestSchema, request.value)
    return [...typed, ...(checked.ok ? [] : checked.errors)]
  })
  /** Jobs under way: running, or queued behind other profiles and inspections. */
  const running = computed(() => Object.values(jobs.value).filter((j) => !isOver(j)))

  function watch(): void {
    if (unsubscribe.length) return
    unsubscribe = [
      labApi().on('inspect.status', ({ job }) => {
        jobs.value = { ...jobs.value, [keyOf(job.runId, job.name)]: job }
        if (isOver(job) && job.runId === runId.value) void refreshInspections()
      }),
      labApi().on('inspect.progress', (p) => {
        progress.value = { ...progress.value, [keyOf(p.runId, p.name)]: { message: p.message, fraction: p.fraction } }
      }),
      // Another workspace: its runs, nothing of the last one's. The same one again
      // is a resync after a dropped connection: list again, keep what is open.
      labApi().on('workspace.changed', (info) => {
        const same = info.path === workspacePath
        workspacePath = info.path
        if (same) void Promise.all([refreshRuns(), refreshInspections()]).catch((err) => (error.value = messageOf(err)))
        else {
          forgetWorkspace()
          void init()
        }
      }),
    ]
  }

  function forgetWorkspace(): void {
    latest++
    latestCompare++
    runId.value = ''
    checkpoints.value = []
    checkpoint.value = ''
    inspections.value = []
    result.value = null
    compareRunId.value = ''
    compareCheckpoints.value = []
    compareCheckpoint.value = ''
    compareResult.value = null
    overlays.value = {}
    loaded.clear()
  }

  function dispose(): void {
    for (const off of unsubscribe) off()
    unsubscribe = []
  }

  async function refreshRuns(): Promise<void> {
    const list = await labApi().listRuns({})
    runs.value = list.runs.filter((r) => r.checkpoint)
  }

  async function refreshInspections(): Promise<void> {
    if (runId.value) inspections.value = await labApi().listInspections({ runId: runId.value })
  }

  /** Lists the workspace's runs and selects `preferred` (or the newest with a checkpoint). */
  async function init(preferred?: string): Promise<void> {
    watch()
    error.value = ''
    try {
      const [info] = await Promise.all([labApi().workspaceInfo({}), refreshRuns()])
      workspacePath = info.path
      const pick = runs.value.find((r) => r.id === preferred) ?? runs.value.find((r) => r.id === runId.value) ?? runs.value[0]
      if (pick) await selectRun(pick.id)
      if (preferred && !runs.value.some((r) => r.id === preferred))
        error.value = `run '${preferred}' has no checkpoint to inspect (or is not in this workspace)`
    } catch (err) {
      error.value = messageOf(err)
    }
  }

  /** Selects a run: its checkpoints and cached inspections; the newest cached one opens at once. */
  async function selectRun(id: string): Promise<void> {
    const mine = ++latest
    runId.value = id
    checkpoint.value = ''
    result.value = null
    const [cps, list] = await Promise.all([labApi().listCheckpoints({ runId: id }), labApi().listInspections({ runId: id })])
    if (mine !== latest) return // another run or inspection was asked for meanwhile
    checkpoints.value = cps
    inspections.value = list
    if (!compareRunId.value) await selectCompareRun(id)
    if (list[0] && mine === latest) await open(list[0])
  }

  async function selectCompareRun(id: string): Promise<void> {
    compareRunId.value = id
    compareCheckpoints.value = await labApi().listCheckpoints({ runId: id })
    // By default compare with another checkpoint of the same run: the earliest.
    compareCheckpoint.value = id === runId.value && compareCheckpoints.value.length > 1 ? compareCheckpoints.value[0]!.checkpoint : ''
  }

  async function load(runIdOf: string, name: string): Promise<InspectResult> {
    const key = keyOf(runIdOf, name)
    const hit = loaded.get(key)
    if (hit) return hit
    const r = await labApi().getInspection({ runId: runIdOf, name })
    loaded.set(key, r)
    return r
  }

  /**
   * Opens a cached inspection (from memory, or read from the run folder: no
   * engine) with the form set to how it was captured, so asking again answers
   * from the cache; what was typed while it was read stays.
   */
  async function open(summary: Pick<InspectionSummary, 'runId' | 'name'>): Promise<void> {
    const mine = ++latest
    error.value = ''
    const asked = JSON.stringify([form.value, checkpoint.value])
    try {
      const r = await load(summary.runId, summary.name)
      if (mine !== latest) return
      result.value = r
      if (r.runId !== runId.value || JSON.stringify([form.value, checkpoint.value]) !== asked) return
      form.value = formFor(r.request)
      checkpoint.value = checkpoints.value.some((c) => c.checkpoint === r.checkpoint) ? r.checkpoint : ''
    } catch (err) {
      if (mine === latest) error.value = messageOf(err)
    }
  }

  /** Resolves with the job once it is done or failed (events that came before the reply count too). */
  async function startAndWait(req: InspectRequestParams, refresh: boolean): Promise<InspectJob> {
    const seen: InspectJob[] = []
    let settle: ((job: InspectJob) => void) | undefined
    let job: InspectJob | undefined
    const finished = (j: InspectJob) => isOver(j) && job !== undefined && j.runId === job.runId && j.name === job.name
    const off = labApi().on('inspect.status', ({ job: j }) => {
      if (!job) seen.push(j)
      else if (finished(j)) settle?.(j)
    })
    try {
      job = await labApi().startInspect({ ...req, refresh })
      jobs.value = { ...jobs.value, [keyOf(job.runId, job.name)]: job }
      if (isOver(job)) return job
      const early = seen.find(finished)
      if (early) return early
      return await new Promise<InspectJob>((resolve) => (settle = resolve))
    } finally {
      off()
    }
  }

  /** Runs an inspection (or answers from the run folder unless `refresh`); shows nothing: the caller decides. */
  async function runInspection(req: InspectRequestParams, refresh: boolean): Promise<Outcome> {
    try {
      const job = await startAndWait(req, refresh)
      if (job.status === 'failed') return { error: job.failure ?? `the inspection of ${job.checkpoint} failed` }
      const key = keyOf(job.runId, job.name)
      if (refresh || !job.cached) loaded.delete(key)
      const r = await load(job.runId, job.name)
      // The cache is keyed by checkpoint and input: other settings are compared here.
      const differs = job.cached ? captureDifferences(req, r.request) : []
      if (!differs.length) return { result: r }
      const notice = `${job.name} was cached with other settings (${differs.join(', ')}): captured again`
      return { ...(await runInspection(req, true)), notice }
    } catch (err) {
      return { error: messageOf(err) }
    }
  }

  /** Inspects the chosen run and checkpoint with the form's input; the form stays as typed. */
  async function inspect(refresh = false): Promise<void> {
    const mine = ++latest
    error.value = ''
    notice.value = ''
    if (requestErrors.value.length) {
      error.value = `the inspection request is not valid:\n${formatErrors(requestErrors.value)}`
      return
    }
    const out = await runInspection(request.value, refresh)
    if (mine === latest) {
      if (out.result) result.value = out.result
      error.value = out.error ?? ''
      notice.value = out.notice ?? ''
    }
    await refreshInspections()
  }

  /** The input of the open result through the second run or checkpoint. */
  async function inspectCompare(): Promise<void> {
    const mine = ++latestCompare
    error.value = ''
    const base = result.value?.request ?? request.value
    const req: InspectRequestParams = { ...base, runId: compareRunId.value, checkpoint: compareCheckpoint.value || undefined, name: undefined }
    const out = await runInspection(req, false)
    if (mine !== latestCompare) return
    if (out.result) compareResult.value = out.result
    if (out.error) error.value = out.error
  }

  /** Overlays another run's accuracy-against-length curve: its newest cached inspection with one, else a new one. */
  async function addOverlay(id: string): Promise<void> {
    error.value = ''
    try {
      const list = await labApi().listInspections({ runId: id })
      let found: InspectResult | undefined
      for (const s of list) {
        const r = await load(id, s.name)
        if (r.lengths) {
          found = r
          break
        }
      }
      if (!found) {
        const out = await runInspection({ ...requestFor(DEFAULT_FORM, id, ''), maxAttentionT: form.value.maxAttentionT }, false)
        if (out.error) error.value = out.error
        if (out.notice) notice.value = out.notice
        found = out.result
      }
      if (!found) return
      if (!found.lengths) {
        error.value = `run '${found.runName}' has no accuracy-against-length curve (its task is ${found.task.kind}; the curve is measured for state-tracking tasks)`
        return
      }
      overlays.value = { ...overlays.value, [id]: found }
    } catch (err) {
      error.value = messageOf(err)
    }
  }

  /** Stops a running inspection, or drops a queued one. */
  async function cancel(job: Pick<InspectJob, 'runId' | 'name'>): Promise<void> {
    try {
      await labApi().cancelInspect({ runId: job.runId, name: job.name })
    } catch (err) {
      error.value = messageOf(err)
    }
  }

  function removeOverlay(id: string): void {
    const next = { ...overlays.value }
    delete next[id]
    overlays.value = next
  }

  return {
    runs,
    runId,
    run,
    checkpoints,
    checkpoint,
    form,
    request,
    requestErrors,
    inspections,
    result,
    compareRunId,
    compareCheckpoints,
    compareCheckpoint,
    compareResult,
    overlays,
    jobs,
    running,
    progress,
    error,
    notice,
    cancel,
    init,
    dispose,
    refreshRuns,
    selectRun,
    selectCompareRun,
    open,
    inspect,
    inspectCompare,
    addOverlay,
    removeOverlay,
  }
})
