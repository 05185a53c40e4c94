// The runs store against the real services: a workspace in a temporary
// folder, the job runner with real engine processes, LabApi in-process.
// Runs are started through the Train form's store, as the screen does.
// Each test has a fresh Pinia; stores are disposed (unsubscribed) after.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createPinia, setActivePinia } from 'pinia'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { computed, nextTick, watch } from 'vue'
import { logEntries, progressStep, trainLines } from '../../../renderer/src/runs/metrics'
import { useRunsStore } from '../../../renderer/src/stores/runs'
import { useTrainFormStore } from '../../../renderer/src/stores/train-form'
import { storeLab, tinyForm } from '../../fixtures/store-lab'
import { tempDir } from '../../fixtures/temp'
import { until } from '../../fixtures/until'

/** Run ids whose metrics file the store read (the rest must come from events). */
const metricReads: string[] = []
const lab = storeLab('linea-runs-store-', (api) => ({
  ...api,
  runMetrics: (p) => {
    metricReads.push(p.id)
    return api.runMetrics(p)
  },
}))
const { api, events, workspaces } = lab

const disposers: (() => void)[] = []
beforeEach(() => setActivePinia(createPinia()))
afterEach(() => {
  for (const d of disposers.splice(0)) d()
})
afterAll(() => lab.close())

/** The runs store and the form that starts runs, both following their events. */
async function stores() {
  const s = useRunsStore()
  const f = useTrainFormStore()
  disposers.push(s.dispose, f.dispose)
  await Promise.all([s.init(), f.init()])
  return { s, f }
}

describe('runs store', () => {
  it('trains a tiny MQAR run, its metrics arriving through events while it runs', async () => {
    const { s, f } = await stores()
    await tinyForm(api, f, 60, 'tiny mqar')
    expect(f.canStart).toBe(true)
    const started = await f.startFromForm()
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
    expect(run.backend).toBe('cpu (asked for); precision auto: f32')
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
    const { s, f } = await stores()
    await tinyForm(api, f, 20, 'final step')
    const id = (await f.startFromForm())!.id
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
    const { s, f } = await stores()
    await tinyForm(api, f, 100_000, 'long')
    const long = (await f.startFromForm())!
    f.runName = 'waiting'
    const waiting = (await f.startFromForm())!
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

  it('lists earlier runs and broken run files in a fresh store, and reads metrics on demand', async () => {
    mkdirSync(join(workspaces.workspace.runsDir, 'zz-broken'))
    writeFileSync(join(workspaces.workspace.runsDir, 'zz-broken', 'run.json'), '{ not json')
    const { s } = await stores()
    expect(s.runs.map((r) => r.name)).toEqual(expect.arrayContaining(['tiny mqar', 'long', 'waiting']))
    expect(s.problems).toHaveLength(1)
    expect(s.problems[0]!.file).toBe(join(workspaces.workspace.runsDir, 'zz-broken', 'run.json'))
    expect(s.problems[0]!.problem).toContain('is not valid JSON')
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

  it('follows a change of workspace: the runs of the new one, then of the first again', async () => {
    const { s } = await stores()
    expect(s.runs.length).toBeGreaterThan(0)
    const first = workspaces.workspace.root
    const next = tempDir('linea-runs-store-next-')
    // another window (or the shell, or the workspace store) opening it: the event brings the store along
    await api.openWorkspace({ path: next })
    await until('the runs of the new workspace', () => s.runs.length === 0 && s.loaded)
    expect(s.liveId).toBeNull()
    await api.openWorkspace({ path: first })
    await until('the runs of the first workspace', () => s.runs.some((r) => r.name === 'tiny mqar'))
  })

  it('after a resync (the same workspace announced again), keeps the live and selected runs and reads their metrics again', async () => {
    const { s } = await stores()
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
})
