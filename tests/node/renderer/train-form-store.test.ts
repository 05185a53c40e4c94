// The Train form's store against the real services (a workspace in a
// temporary folder, LabApi in-process): the model and TrainSpec checked as
// they are typed, templates refused with their reasons, the preferred
// backend and device. Each test has a fresh Pinia; stores are disposed after.
import { createPinia, setActivePinia } from 'pinia'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MQAR_KEY_IN_NOISE_LABELS } from '../../../electron/api/train-spec'
import { runEvalChartOption, seriesNames } from '../../../renderer/src/charts/run-charts'
import { keyInNoisePoints, runProgress, trainLines } from '../../../renderer/src/runs/metrics'
import { paramCounts } from '../../../electron/engine/estimate'
import { useEngineStore } from '../../../renderer/src/stores/engine'
import { useRunsStore } from '../../../renderer/src/stores/runs'
import { useTrainFormStore } from '../../../renderer/src/stores/train-form'
import { storeLab, tinyForm } from '../../fixtures/store-lab'
import { until } from '../../fixtures/until'

const lab = storeLab('linea-train-form-store-')
const { api } = lab

const disposers: (() => void)[] = []
beforeEach(() => setActivePinia(createPinia()))
afterEach(() => {
  for (const d of disposers.splice(0)) d()
})
afterAll(() => lab.close())

async function form() {
  const f = useTrainFormStore()
  disposers.push(f.dispose)
  await f.init()
  return f
}

describe('train form store', () => {
  it("marks a backend the machine lacks, with the engine's reason, and blocks starting", async () => {
    const f = await form()
    await tinyForm(api, f, 30, 'no such backend')
    const engine = useEngineStore()
    await engine.loadInfo()
    const hasCuda = engine.info!.devices.some((d) => d.backend === 'cuda')
    f.setDraftField('backend', 'cuda')
    if (hasCuda) {
      expect(f.draftErrorAt.get('backend')).toBeUndefined()
    } else {
      expect(f.unavailable.cuda).toBe(`no CUDA GPU on this machine (CUDA: ${engine.info!.cudaStatus})`)
      expect(f.draftErrorAt.get('backend')).toBe(`cuda cannot run here: ${f.unavailable.cuda}`)
      expect(f.canStart).toBe(false)
    }
    f.setDraftField('backend', 'cpu')
    expect(f.draftErrorAt.get('backend')).toBeUndefined()
    expect(f.canStart).toBe(true)
  })

  it('blocks starting while the form is invalid, and sends nothing', async () => {
    const f = await form()
    await tinyForm(api, f, 30, 'blocked')
    f.setDraftField('schedule.warmup_steps', 100)
    expect(f.draftErrorAt.get('schedule.warmup_steps')).toBe('100 exceeds steps 30')
    expect(f.canStart).toBe(false)
    expect(await f.startFromForm()).toBeNull()
    expect(f.error).toBe('fix the marked fields before starting')
    f.setDraftField('schedule.warmup_steps', 1)
    f.setDraftField('task.vocab_size', 128) // more tokens than the model's 64
    expect(f.draftErrorAt.get('task.vocab_size')).toBe("the task uses 128 tokens; the model's vocabulary holds 64")
    expect(f.canStart).toBe(false)
    expect((await api.listRuns({})).runs).toHaveLength(0)
  })

  it("stops a run at 'stop at step' on the schedule of steps: it completes at max_steps / max_steps, with the key-in-noise split", async () => {
    const f = await form()
    const runs = useRunsStore()
    disposers.push(runs.dispose)
    await runs.init()
    await tinyForm(api, f, 30, 'stopped early')
    // marked by the engine's schema like any other field, and cleared by emptying it
    f.setDraftField('max_steps', 31)
    expect(f.draftErrorAt.get('max_steps')).toBe('31 exceeds steps 30; the schedule spans steps, so raise steps to train longer')
    expect(f.canStart).toBe(false)
    f.setDraftField('max_steps', undefined)
    expect('max_steps' in f.draft).toBe(false)
    expect(f.canStart).toBe(true)
    f.setDraftField('max_steps', 10)
    const run = await f.startFromForm()
    expect(run?.trainSpec).toMatchObject({ steps: 30, max_steps: 10 })
    const id = run!.id
    await until('the run to complete', () => runs.byId.get(id)?.status === 'completed')
    await until('the last lines', () => runs.metricsOf(id).at(-1)?.type === 'status')
    const lines = runs.metricsOf(id)
    expect(runs.byId.get(id)!.steps).toBe(10)
    expect(trainLines(lines)).toHaveLength(10)
    expect(runProgress(lines, runs.byId.get(id))).toEqual({ step: 10, total: 10, fraction: 1 })
    // the schedule is that of 30 steps: the learning rate at step 10 has not decayed to its end
    expect(trainLines(lines).at(-1)!.lr).toBeGreaterThan(f.draft.optimizer.lr * f.draft.schedule.min_lr_ratio * 1.5)
    // MQAR evals carry the split; the run's eval chart draws it beside overall accuracy
    const split = keyInNoisePoints(lines)
    expect(split.length).toBeGreaterThan(0)
    expect(split.every((c) => (MQAR_KEY_IN_NOISE_LABELS as readonly string[]).includes(c.label) && c.points.at(-1)![0] === 10)).toBe(true)
    expect(seriesNames(runEvalChartOption(lines, 'accuracy')).slice(1)).toEqual(split.map((c) => c.label))
  })

  it('picks the first saved spec, names the valid presets for one that does not exist, and keeps a name the person typed', async () => {
    await api.saveModelSpec({ name: 'tiny gla', spec: { ...(await api.listPresets({})).find((p) => p.preset === 'gla')!, name: 'tiny gla' } })
    expect((await api.listModelSpecs({})).map((x) => x.name)).toEqual(['tiny gla'])
    const f = await form()
    expect(f.modelChoice).toEqual({ source: 'saved', name: 'tiny gla' })
    expect(f.runName).toBe('tiny gla')
    expect(await f.chooseModel({ source: 'preset', name: 'no-such-model' })).toBe(false)
    expect(f.error).toMatch(/^no preset 'no-such-model'; valid: .*\bgla\b/)
    expect(f.modelChoice).toEqual({ source: 'saved', name: 'tiny gla' })
    // the default name follows the model; a name of one's own stays
    expect(await f.chooseModel({ source: 'preset', name: 'mamba2' })).toBe(true)
    expect(f.error).toBe('')
    expect(f.runName).toBe(f.model!.name)
    f.runName = 'mine'
    expect(await f.chooseModel({ source: 'preset', name: 'gla' })).toBe(true)
    expect(f.runName).toBe('mine')
  })

  it("reports a template's problems without starting anything", async () => {
    const f = await form()
    const runs = useRunsStore()
    disposers.push(runs.dispose)
    await runs.init()
    const before = runs.runs.length
    expect(f.templates.map((t) => t.id)).toContain('mqar-recall-sweep')
    expect(await f.startTemplate('byte-lm')).toEqual([])
    expect(f.error).toContain('template byte-lm needs text file (train.task.path)')
    expect(await f.startTemplate('mqar-recall-sweep', {}, { 'train.steps': 10 })).toEqual([])
    expect(f.error).toContain('schedule.warmup_steps: 100 exceeds steps 10')
    await runs.refresh()
    expect(runs.runs).toHaveLength(before)
  })

  it('starts new runs on the preferred backend and device, and follows a change the person has not overridden', async () => {
    const f = await form()
    expect([f.draft.backend, f.draft.device]).toEqual(['auto', 0])
    try {
      await api.setPreferences({ defaultBackend: 'cpu', device: 1 })
      await until('the draft to follow the preferences', () => f.draft.backend === 'cpu')
      expect(f.draft.device).toBe(1)
      // a backend the person picked stays; the device they left follows
      f.setDraftField('backend', 'webgpu')
      await api.setPreferences({ defaultBackend: 'cuda', device: 2 })
      await until('the store to see the change', () => f.preferences.defaultBackend === 'cuda')
      expect([f.draft.backend, f.draft.device]).toEqual(['webgpu', 2])
      f.resetDraft()
      expect([f.draft.backend, f.draft.device]).toEqual(['cuda', 2])
      // a store that starts later reads them
      setActivePinia(createPinia())
      const fresh = await form()
      expect([fresh.draft.backend, fresh.draft.device]).toEqual(['cuda', 2])
    } finally {
      await api.setPreferences({ defaultBackend: 'auto', device: 0 })
    }
  })
})

describe('train form notice', () => {
  it('says queued for a run that waits, and cancelled when it is cancelled before it starts', async () => {
    const f = await form()
    const runs = useRunsStore()
    disposers.push(runs.dispose)
    await runs.init()
    await tinyForm(api, f, 3000, 'first')
    const first = (await f.startFromForm())!
    // The run record counts the model's parameters once, for the Runs table.
    expect(first.params).toBe(paramCounts(f.model!).all)
    expect(first.params).toBeGreaterThan(1000)
    f.runName = 'second'
    const second = (await f.startFromForm())!
    await until('the second run queued behind the first', () => runs.byId.get(second.id)?.status === 'queued')
    expect(f.notice).toBe('queued second')
    await api.cancelRun({ id: second.id })
    await until('the cancel reaching the store', () => runs.byId.get(second.id)?.status === 'cancelled')
    expect(f.notice).toBe('second cancelled')
    await api.cancelRun({ id: first.id, force: true })
    await until('the first run ending', () => runs.byId.get(first.id)?.status !== 'running' && runs.byId.get(first.id)?.status !== 'queued')
  })

  it('drops the warning about marked fields once they are fixed', async () => {
    const f = await form()
    await tinyForm(api, f, 30, 'warned')
    f.setDraftField('schedule.warmup_steps', 100)
    expect(await f.startFromForm()).toBeNull()
    expect(f.error).toBe('fix the marked fields before starting')
    f.setDraftField('schedule.warmup_steps', 1)
    await until('the warning to go', () => f.error === '')
  })
})
