// The runs store against the real services: a workspace in a temporary
// folder, the job runner with real engine processes, LabApi in-process.
// Each test has a fresh Pinia; stores are disposed (unsubscribed) after.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPinia, setActivePinia } from 'pinia'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { computed, nextTick, watch } from 'vue'
import type { LabApi } from '../../../electron/api/labapi'
import { resizeModel } from '../../../electron/api/resize'
import { preset } from '../../../electron/engine/presets'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { localLabApi } from '../../../electron/services/local-api'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { setLabApi } from '../../../renderer/src/api/client'
import { labDepsFor } from '../../fixtures/lab'
import { logEntries, progressStep, trainLines } from '../../../renderer/src/runs/metrics'
import { useRunsStore } from '../../../renderer/src/stores/runs'
import { until } from '../../fixtures/until'

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const workspaces = new WorkspaceService(mkdtempSync(join(tmpdir(), 'linea-runs-store-')), forkLauncher(), events)
const api = localLabApi(createLabHandlers(labDepsFor(engine, workspaces, events)), events)
/** Run ids whose metrics file the store read (the rest must come from events). */
const metricReads: string[] = []
setLabApi({
  ...api,
  runMetrics: (p) => {
    metricReads.push(p.id)
    return api.runMetrics(p)
  },
} as LabApi)

const stores: ReturnType<typeof useRunsStore>[] = []
beforeEach(() => setActivePinia(createPinia()))
afterEach(() => {
  for (const s of stores.splice(0)) s.dispose()
})
afterAll(async () => {
  for (const id of [workspaces.runner.runningId, ...workspaces.runner.queuedIds()]) if (id) workspaces.runner.cancel(id)
  await workspaces.runner.idle()
  engine.stop()
  workspaces.close()
  setLabApi(undefined)
})


async function store() {
  const s = useRunsStore()
  stores.push(s)
  await s.init()
  return s
}

/** A tiny MQAR run: GLA at d_model 32, T = 32, 4 pairs, vocabulary 64, on the CPU. */
async function tinyForm(s: ReturnType<typeof useRunsStore>, steps: number, name: string): Promise<void> {
  await api.saveModelSpec({ name: 'tiny gla', spec: { ...resizeModel(preset('gla'), { d_model: 32, vocab_size: 64, heads: 2 }), name: 'tiny gla' } })
  await s.loadChoices()
  expect(await s.chooseModel({ source: 'saved', name: 'tiny gla' })).toBe(true)
  s.resetDraft()
  for (const [path, value] of Object.entries({
    'task.seq_len': 32,
    'task.num_kv_pairs': 4,
    'task.vocab_size': 64,
    steps,
    batch_size: 4,
    'schedule.warmup_steps': 1,
    'eval.every': 5,
    'eval.batches': 1,
    early_stop_accuracy: null,
    checkpoint_every: 5,
    backend: 'cpu',
  }))
    s.setDraftField(path, value)
  s.runName = name
}

describe('runs store', () => {
  it('blocks starting while the form is invalid, and sends nothing', async () => {
    const s = await store()
    await tinyForm(s, 30, 'blocked')
    s.setDraftField('schedule.warmup_steps', 100)
    expect(s.draftErrorAt.get('schedule.warmup_steps')).toBe('100 exceeds steps 30')
    expect(s.canStart).toBe(false)
    expect(await s.startFromForm()).toBeNull()
    expect(s.error).toBe('fix the marked fields before starting')
    s.setDraftField('schedule.warmup_steps', 1)
    s.setDraftField('task.vocab_size', 128) // more tokens than the model's 64
    expect(s.draftErrorAt.get('task.vocab_size')).toBe("the task uses 128 tokens; the model's vocabulary holds 64")
    expect(s.canStart).toBe(false)
    expect((await api.listRuns({})).runs).toHaveLength(0)
  })

  it('trains a tiny MQAR run, its metrics arriving through events while it runs', async () => {
    const s = await store()
    await tinyForm(s, 60, 'tiny mqar')
    expect(s.canStart).toBe(true)
    const started = await s.startFromForm()
    expect(started).not.toBeNull()
    const id = started!.id
    expect(s.liveId).toBe(id)
    // as a screen reads them: a computed on the lines, and computeds on that one
    const lines = computed(() => s.metricsOf(id))
    const trainCount = computed(() => trainLines(lines.value).length)
    let liveTrainLines = 0
    await until('the run to complete', () => {
      const run = s.byId.get(id)
      if (run?.status === 'running') liveTrainLines = Math.max(liveTrainLines, trainCount.value)
      return run?.status === 'completed'
    })
    // lines were in the store while the run was still running
    expect(liveTrainLines).toBeGreaterThan(0)
    await until('the last lines', () => s.metricsOf(id).at(-1)?.type === 'status')
    const onDisk = workspaces.workspace.readMetrics(id).lines
    // exactly the file's lines: none lost, none twice, though they came by event
    expect(s.metricsOf(id)).toEqual(onDisk)
    expect(metricReads.filter((x) => x === id).length).toBeLessThanOrEqual(1)
    expect(trainLines(s.metricsOf(id))).toHaveLength(60)
    expect(trainCount.value).toBe(60)
    expect(s.metricsOf(id).filter((l) => l.type === 'eval')).toHaveLength(12)
    const run = s.byId.get(id)!
    expect(run.steps).toBe(60)
    expect(run.backend).toBe('cpu (asked for)')
    expect(run.bestAccuracy).toBeGreaterThanOrEqual(0)
    expect(run.specName).toBe('tiny gla')
    expect(s.runningId).toBeNull()
    const log = logEntries(s.metricsOf(id)).map((e) => e.text)
    expect(log[0]).toBe('status: running')
    expect(log.at(-1)).toBe('status: completed')
    expect(log.some((t) => t.startsWith('checkpoint at step 5: checkpoints/'))).toBe(true)
  })

  it("shows a finished run's final step and status line in the same render as its status", async () => {
    // The Train screen's progress text and log, as it renders them (a watcher
    // flushed with the render): from the run's record and its metrics lines.
    const s = await store()
    await tinyForm(s, 20, 'final step')
    const id = (await s.startFromForm())!.id
    const run = computed(() => s.byId.get(id))
    const lines = computed(() => s.metricsOf(id))
    const shown = computed(() => ({
      status: run.value?.status,
      step: progressStep(lines.value, run.value),
      log: logEntries(lines.value).at(-1)?.text,
    }))
    const renders: { status?: string; step: number; log?: string }[] = []
    const stop = watch(shown, (v) => renders.push(v))
    try {
      await until('the run to complete', () => run.value?.status === 'completed')
      await nextTick()
    } finally {
      stop()
    }
    // the first render that says completed: step 20 of 20, and the status in the log
    const finished = renders.filter((r) => r.status === 'completed')
    expect(finished.length).toBeGreaterThan(0)
    expect(finished[0]).toEqual({ status: 'completed', step: 20, log: 'status: completed' })
  })

  it('cancels a queued run at once and a running one after its step, keeping a checkpoint', async () => {
    const s = await store()
    await tinyForm(s, 100_000, 'long')
    const long = (await s.startFromForm())!
    s.runName = 'waiting'
    const waiting = (await s.startFromForm())!
    expect(s.queuedIds).toContain(waiting.id)
    await until('the long run to train a few steps', () => s.byId.get(long.id)?.status === 'running' && trainLines(s.metricsOf(long.id)).length >= 6)
    expect(s.runningId).toBe(long.id)

    const cancelledQueued = await s.cancel(waiting.id)
    expect(cancelledQueued?.status).toBe('cancelled')
    expect(s.byId.get(waiting.id)!.status).toBe('cancelled')
    expect(s.queuedIds).not.toContain(waiting.id)

    await s.cancel(long.id)
    await until('the long run to stop', () => s.byId.get(long.id)?.status === 'cancelled')
    const run = s.byId.get(long.id)!
    expect(run.steps).toBeLessThan(100_000)
    expect(run.checkpoint).toMatch(/^checkpoints\/step-\d+\.safetensors$/)
    expect(s.runningId).toBeNull()
    await until('the status line', () => s.metricsOf(long.id).at(-1)?.type === 'status')
    expect(logEntries(s.metricsOf(long.id)).at(-1)!.text).toBe('status: cancelled')
    // the Resume button's condition
    expect(run.status === 'cancelled' && !!run.checkpoint).toBe(true)
  })

  it('lists earlier runs and broken files in a fresh store, and reads metrics on demand', async () => {
    mkdirSync(join(workspaces.workspace.runsDir, 'zz-broken'))
    writeFileSync(join(workspaces.workspace.runsDir, 'zz-broken', 'run.json'), '{ not json')
    const s = await store()
    expect(s.runs.map((r) => r.name)).toEqual(expect.arrayContaining(['tiny mqar', 'long', 'waiting']))
    expect(s.problems).toHaveLength(1)
    expect(s.problems[0]!.file).toBe(join(workspaces.workspace.runsDir, 'zz-broken', 'run.json'))
    expect(s.problems[0]!.problem).toContain('is not valid JSON')
    expect(s.workspace?.path).toBe(workspaces.workspace.root)
    const tiny = s.runs.find((r) => r.name === 'tiny mqar')!
    expect(s.metricsOf(tiny.id)).toEqual([])
    s.setSelected([tiny.id])
    await s.loadMetrics(tiny.id)
    expect(s.metricsOf(tiny.id)).toEqual(workspaces.workspace.readMetrics(tiny.id).lines)
    expect(s.selectedRuns.map((r) => r.id)).toEqual([tiny.id])
    const csv = await s.exportCsv(tiny.id)
    expect(csv!.filename).toBe(`${tiny.id}.csv`)
    expect(csv!.csv.trim().split('\n')).toHaveLength(1 + 60)
  })

  it("reports a template's problems without starting anything", async () => {
    const s = await store()
    const before = s.runs.length
    expect(s.templates.map((t) => t.id)).toContain('mqar-recall-sweep')
    expect(await s.startTemplate('byte-lm')).toEqual([])
    expect(s.error).toContain('template byte-lm needs text file (train.task.path)')
    expect(await s.startTemplate('mqar-recall-sweep', {}, { 'train.steps': 10 })).toEqual([])
    expect(s.error).toContain('schedule.warmup_steps: 100 exceeds steps 10')
    await s.refresh()
    expect(s.runs).toHaveLength(before)
  })

  it('follows a change of workspace: the runs of the new one', async () => {
    const s = await store()
    expect(s.runs.length).toBeGreaterThan(0)
    const first = workspaces.workspace.root
    const next = mkdtempSync(join(tmpdir(), 'linea-runs-store-next-'))
    // another window (or the shell) opening it: the event brings the store along
    await api.openWorkspace({ path: next })
    await until('the new workspace', () => s.workspace?.path === next && s.runs.length === 0 && s.loaded)
    expect(s.liveId).toBeNull()
    // opening from the store, back to the first
    expect(await s.openWorkspace(first)).toBe(true)
    expect(s.workspace?.path).toBe(first)
    expect(s.runs.map((r) => r.name)).toContain('tiny mqar')
    await s.loadRecent()
    expect(s.recent).toEqual(expect.arrayContaining([first, next]))
    // a folder that cannot be made (its parent is a file) is refused, and the open one stays
    // (not a path under /proc: Node 20's recursive mkdirSync never returns there)
    const file = join(next, 'a-file')
    writeFileSync(file, 'not a folder')
    expect(await s.openWorkspace(join(file, 'ws'))).toBe(false)
    expect(s.error).toContain(join(file, 'ws'))
    expect(s.workspace?.path).toBe(first)
  })

  it('after a resync (the same workspace announced again), keeps the live and selected runs and reads their metrics again', async () => {
    const s = await store()
    const [a, b] = s.runs
    expect(b).toBeDefined()
    s.setLive(a!.id)
    s.setSelected([a!.id, b!.id])
    await until('the metrics on screen', () => s.metricsOf(a!.id).length > 0)
    const readsBefore = metricReads.length
    events.emit('workspace.changed', await api.workspaceInfo({}))
    await until('the metrics read again', () => metricReads.length >= readsBefore + 2 && s.metricsOf(a!.id).length > 0)
    expect(metricReads.slice(readsBefore).sort()).toEqual([a!.id, b!.id].sort())
    expect([s.liveId, s.selectedIds]).toEqual([a!.id, [a!.id, b!.id]])
  })

  it('starts new runs on the preferred backend and device, and follows a change the person has not overridden', async () => {
    const s = await store()
    expect([s.draft.backend, s.draft.device]).toEqual(['auto', 0])
    try {
      await api.setPreferences({ defaultBackend: 'cpu', device: 1 })
      await until('the draft to follow the preferences', () => s.draft.backend === 'cpu')
      expect(s.draft.device).toBe(1)
      // a backend the person picked stays; the device they left follows
      s.setDraftField('backend', 'webgpu')
      await api.setPreferences({ defaultBackend: 'cuda', device: 2 })
      await until('the store to see the change', () => s.preferences.defaultBackend === 'cuda')
      expect([s.draft.backend, s.draft.device]).toEqual(['webgpu', 2])
      s.resetDraft()
      expect([s.draft.backend, s.draft.device]).toEqual(['cuda', 2])
      // a store that starts later reads them
      setActivePinia(createPinia())
      const fresh = await store()
      expect([fresh.draft.backend, fresh.draft.device]).toEqual(['cuda', 2])
    } finally {
      await api.setPreferences({ defaultBackend: 'auto', device: 0 })
    }
  })

})
