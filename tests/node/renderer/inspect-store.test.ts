// The inspect store against the real services: a workspace in a temporary
// folder with runs whose checkpoints are saved here, inspections in real
// engine processes, LabApi in-process. Each test has a fresh Pinia.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPinia, setActivePinia } from 'pinia'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { LabApi } from '../../../electron/api/labapi'
import { resizeModel } from '../../../electron/api/resize'
import { preset } from '../../../electron/api/presets'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { localLabApi } from '../../../electron/services/local-api'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { setLabApi } from '../../../renderer/src/api/client'
import { useInspectStore } from '../../../renderer/src/stores/inspect'
import { labDepsFor } from '../../fixtures/lab'
import { runWithCheckpoints, tinyMqarTrainSpec } from '../../fixtures/runs'
import { trainSpec } from '../../fixtures/specs'
import { until } from '../../fixtures/until'

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const workspaces = new WorkspaceService(mkdtempSync(join(tmpdir(), 'linea-inspect-store-')), forkLauncher(), events)
const deps = labDepsFor(engine, workspaces, events)
const api = localLabApi(createLabHandlers(deps), events)
/** Inspections the store started (a cached reopen must start none). */
const started: string[] = []
/** While set, startInspect's replies wait for `release` (a slow connection), after telling `held`. */
let slow: { held: () => void; release: Promise<void> } | undefined
setLabApi({
  ...api,
  startInspect: async (p) => {
    started.push(p.runId)
    const hold = slow
    const [reply] = await Promise.allSettled([api.startInspect(p)])
    if (hold) {
      hold.held()
      await hold.release
    }
    if (reply.status === 'rejected') throw reply.reason
    return reply.value
  },
} as LabApi)

/** Holds the next startInspect reply: `held` resolves once the reply is back and waiting, `release` lets it through. */
function holdNextReply(): { held: Promise<void>; release: () => void } {
  let held!: () => void
  let release!: () => void
  const heldP = new Promise<void>((r) => (held = r))
  const releaseP = new Promise<void>((r) => (release = r))
  slow = {
    held: () => {
      slow = undefined
      held()
    },
    release: releaseP,
  }
  return { held: heldP, release }
}

const stores: ReturnType<typeof useInspectStore>[] = []
beforeEach(() => setActivePinia(createPinia()))
afterEach(() => {
  for (const s of stores.splice(0)) s.dispose()
})
afterAll(() => {
  engine.stop()
  deps.inspections.stop()
  workspaces.close()
  setLabApi(undefined)
})

function store() {
  const s = useInspectStore()
  stores.push(s)
  return s
}

const tinyMqar = () =>
  runWithCheckpoints(
    workspaces.workspace,
    'tiny gla mqar',
    resizeModel(preset('hybrid-gla'), { d_model: 16, vocab_size: 64, heads: 2, n_layers: 2 }),
    tinyMqarTrainSpec(),
    [5, 10],
  )

const tinyParity = (presetId: string) =>
  runWithCheckpoints(
    workspaces.workspace,
    `tiny ${presetId} parity`,
    resizeModel(preset(presetId), { d_model: 16, vocab_size: 16, heads: 2, n_layers: 1 }),
    trainSpec({ task: { kind: 'parity', seq_len: 16, eval_seq_lens: [] }, backend: 'cpu' }),
    [4],
  )

describe('inspect store', () => {
  it('selects the run asked for, inspects its checkpoint, then answers again from the run folder', async () => {
    const id = await tinyMqar()
    const s = store()
    await s.init(id)
    expect(s.runId).toBe(id)
    expect(s.checkpoints.map((c) => c.step)).toEqual([5, 10])
    expect(s.result).toBeNull()
    s.form.example = 2
    s.form.recallExamples = 8
    await s.inspect()
    expect(s.error).toBe('')
    expect(s.result).toMatchObject({ runId: id, name: 'step-0000010-example-2', step: 10 })
    expect(s.result!.recall!.examples).toBe(8)
    expect(s.jobs[`${id}/step-0000010-example-2`]?.status).toBe('done')
    expect(s.progress[`${id}/step-0000010-example-2`]?.fraction).toBe(1)
    expect(s.inspections.map((i) => i.name)).toEqual(['step-0000010-example-2'])

    // A fresh store (a reload): the run's newest inspection opens with no engine.
    setActivePinia(createPinia())
    const again = store()
    const before = started.length
    await again.init(id)
    expect(again.result?.name).toBe('step-0000010-example-2')
    expect(started.length).toBe(before)
    // asking the same question answers from the folder
    again.form.example = 2
    await again.inspect()
    expect(again.jobs[`${id}/step-0000010-example-2`]).toMatchObject({ status: 'done', cached: true })
  })

  it('waits for an inspection queued behind others, then shows it', async () => {
    const id = await tinyMqar()
    // Two inspections already hold both job slots: the store's own is queued.
    const others = [5, 6].map((example) => deps.inspections.start({ runId: id, input: { kind: 'task', example }, recall: { examples: 8 } }))
    expect(others.map((j) => j.status)).toEqual(['running', 'running'])
    const s = store()
    await s.init(id)
    s.form.example = 7
    s.form.recallExamples = 8
    const seen: string[] = []
    const off = api.on('inspect.status', ({ job }) => job.name === 'step-0000010-example-7' && seen.push(job.status))
    await s.inspect()
    off()
    expect(seen[0]).toBe('queued')
    expect(s.error).toBe('')
    expect(s.result).toMatchObject({ runId: id, name: 'step-0000010-example-7' })
    expect(s.jobs[`${id}/step-0000010-example-7`]?.status).toBe('done')
  })

  it('captures again when the cached inspection was taken with other settings, and says so', async () => {
    const id = await tinyMqar()
    const s = store()
    await s.init(id)
    s.form.recallExamples = 8
    await s.inspect()
    expect(s.result!.layers[0]!.heads.map((h) => h.head)).toEqual([0, 1])
    // opening a result sets the form to how it was captured
    s.form = { ...s.form, maxAttentionT: 8 }
    await s.open({ runId: id, name: s.result!.name })
    expect(s.form.maxAttentionT).toBe(256)
    expect(s.form.recallExamples).toBe(8)
    s.form.heads = '1'
    s.form.maxAttentionT = 16 // below T = 24: maps left out
    await s.inspect()
    expect(s.error).toBe('')
    expect(s.notice).toBe('step-0000010-example-0 was cached with other settings (heads default → 1, maxAttentionT 256 → 16): captured again')
    expect(s.result!.layers[0]!.heads.map((h) => h.head)).toEqual([1])
    expect(s.result!.attentionSkipped).toContain('maxAttentionT')
    s.form.stateSteps = '3, x'
    expect(s.requestErrors[0]).toEqual({ path: 'stateSteps', message: "'x' is not a whole number; write them like 0, 2, 5 (blank: the default)" })
  })

  it('runs the same input through the earlier checkpoint for comparison', async () => {
    const id = await tinyMqar()
    const s = store()
    await s.init(id)
    expect(s.compareRunId).toBe(id)
    expect(s.compareCheckpoint).toBe('checkpoints/step-0000005.safetensors')
    s.form.recallExamples = 8
    await s.inspect()
    await s.inspectCompare()
    expect(s.error).toBe('')
    expect(s.compareResult).toMatchObject({ runId: id, step: 5 })
    expect(s.compareResult!.request.input).toEqual(s.result!.request.input)
  })

  it("shows the schema's bound before a call, and the engine's refusal after one", async () => {
    const id = await tinyMqar()
    const s = store()
    await s.init(id)
    s.form.maxAttentionT = 5000
    expect(s.requestErrors.map((e) => e.path)).toEqual(['maxAttentionT'])
    const before = started.length
    await s.inspect()
    expect(s.error).toMatch(/maxAttentionT: .*1024/)
    expect(started.length).toBe(before)
    // text on a 64-token model: only the engine knows the checkpoint's vocabulary
    s.form.maxAttentionT = 64
    s.form.inputKind = 'text'
    s.form.text = 'hello'
    await s.inspect()
    expect(s.error).toContain("text is read as bytes (256 tokens); this model's vocabulary is 64")
  })

  it("overlays another run's accuracy-against-length curve", async () => {
    const plain = await tinyParity('deltanet')
    const negative = await tinyParity('deltanet-negative-eigen')
    const s = store()
    await s.init(plain)
    s.form.lengthExamples = 16
    await s.inspect()
    expect(s.result?.lengths?.trainedLength).toBe(16)
    await s.addOverlay(negative)
    expect(s.error).toBe('')
    expect(Object.keys(s.overlays)).toEqual([negative])
    expect(s.overlays[negative]!.lengths!.points.map((p) => p.seqLen)).toEqual(s.result!.lengths!.points.map((p) => p.seqLen))
    s.removeOverlay(negative)
    expect(s.overlays).toEqual({})
  })

  it('a slow reply to an earlier inspection leaves the form, the error and a newer result alone', async () => {
    const id = await tinyMqar()
    const s = store()
    await s.init(id)
    s.form.recallExamples = 8
    await s.inspect()
    const first = s.result!
    expect(first.name).toBe('step-0000010-example-0')

    // Inspect again (answered from the run folder), and edit the form before the reply lands.
    let slowReply = holdNextReply()
    let pending = s.inspect()
    await slowReply.held
    s.form.maxAttentionT = 5000
    expect(s.requestErrors.map((e) => e.path)).toEqual(['maxAttentionT'])
    slowReply.release()
    await pending
    expect(s.form.maxAttentionT).toBe(5000) // what was typed since stays
    expect(s.requestErrors.map((e) => e.path)).toEqual(['maxAttentionT'])
    expect(s.result).toBe(first)

    // Another example, slow; meanwhile the person opens the first one again: the slow one does not replace it.
    s.form.maxAttentionT = 256
    s.form.example = 4
    slowReply = holdNextReply()
    pending = s.inspect()
    await slowReply.held
    await s.open({ runId: id, name: first.name })
    expect(s.form.example).toBe(0)
    slowReply.release()
    await pending
    expect(s.result).toBe(first)
    expect(s.form.example).toBe(0)
    expect(s.inspections.map((i) => i.name)).toContain('step-0000010-example-4') // it ran, and is listed

    // A request that fails, slow; meanwhile another inspection is opened: its error is not shown over it.
    s.form.inputKind = 'text'
    s.form.text = 'hello'
    slowReply = holdNextReply()
    pending = s.inspect()
    await slowReply.held
    await s.open({ runId: id, name: 'step-0000010-example-4' })
    slowReply.release()
    await pending
    expect(s.error).toBe('')
    expect(s.result?.name).toBe('step-0000010-example-4')
  })

  it('names a run that has nothing to inspect', async () => {
    const s = store()
    await s.init('no-such-run')
    expect(s.error).toBe("run 'no-such-run' has no checkpoint to inspect (or is not in this workspace)")
  })

  it("follows a change of workspace: none of the last one's runs or results, then its own", async () => {
    const id = await tinyMqar()
    const s = store()
    await s.init(id)
    await s.inspect()
    expect(s.result?.runId).toBe(id)
    const home = workspaces.workspace.root
    try {
      await api.openWorkspace({ path: mkdtempSync(join(tmpdir(), 'linea-inspect-other-')) })
      await until('the store to forget the last workspace', () => s.runs.length === 0 && s.result === null)
      expect([s.runId, s.inspections, s.compareResult]).toEqual(['', [], null])
    } finally {
      await api.openWorkspace({ path: home })
    }
    await until('the store to list the runs again and select one', () => s.runs.some((r) => r.id === id) && s.runId !== '')
    // the same workspace announced again (a resync after a dropped connection) keeps what is open
    await s.selectRun(id)
    await s.inspect()
    const open = s.result
    expect(open?.runId).toBe(id)
    // the store lists the runs again (a new list: only the resync or a new workspace lists them), and then what was open still is
    const listed = s.runs
    events.emit('workspace.changed', await api.workspaceInfo({}))
    await until('the store to list the runs again', () => s.runs !== listed)
    expect(s.runId).toBe(id)
    expect(s.result).toBe(open)
  })
})
