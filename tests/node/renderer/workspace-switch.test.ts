// After a workspace switch the Train form never keeps the last workspace's
// saved model (issue 17: "Train shows a blank model with Start enabled and
// trains a model from the previous workspace"). Real services, real
// workspace folders, the LabApi in-process; the switch is an openWorkspace
// call, heard by the store through workspace.changed as the screen hears it.
import { createPinia, setActivePinia } from 'pinia'
import { afterAll, describe, expect, it } from 'vitest'
import { resizeModel } from '../../../electron/api/resize'
import { preset } from '../../../electron/api/presets'
import { useTrainFormStore } from '../../../renderer/src/stores/train-form'
import { quickTrainSpec } from '../../fixtures/runs'
import { storeLab } from '../../fixtures/store-lab'
import { tempDir } from '../../fixtures/temp'
import { until } from '../../fixtures/until'

const lab = storeLab('linea-ws-switch-a-')
const { api } = lab
afterAll(() => lab.close())

const spec = (name: string, d_model: number) => ({ ...resizeModel(preset('gla'), { d_model, vocab_size: 64, heads: 2 }), name })

describe('Train form across a workspace switch', () => {
  it("drops a saved model of the last workspace and takes the new one's, never training the old spec", async () => {
    setActivePinia(createPinia())
    const f = useTrainFormStore()
    try {
      await f.init()
      const a = lab.workspaces.workspace.root
      // Workspace A: two saved specs, the second chosen.
      await api.saveModelSpec({ name: 'shared', spec: spec('shared in A', 32) })
      await api.saveModelSpec({ name: 'only in A', spec: spec('only in A', 32) })
      await f.loadChoices()
      expect(await f.chooseModel({ source: 'saved', name: 'only in A' })).toBe(true)
      expect(f.canStart).toBe(true)

      // Workspace B has a spec of the same name as one of A's, with other contents.
      const b = tempDir('linea-ws-switch-b-')
      await api.openWorkspace({ path: b })
      // Until B's choices are read, nothing of A's can be started.
      expect(f.modelChoice).toBeNull()
      expect(f.model).toBeNull()
      expect(f.canStart).toBe(false)
      expect(await f.startFromForm()).toBeNull()
      await until("B's choices", () => f.model !== null)
      // B has no saved spec yet: the form takes the GLA preset
      expect(f.savedSpecs).toEqual([])
      expect(f.modelChoice).toEqual({ source: 'preset', name: 'gla' })

      // Now B gets its own 'shared': choosing it reads B's file.
      await api.saveModelSpec({ name: 'shared', spec: spec('shared in B', 48) })
      await f.loadChoices()
      expect(await f.chooseModel({ source: 'saved', name: 'shared' })).toBe(true)
      expect(f.model!.d_model).toBe(48)
      // The same workspace again (a resync): nothing dropped.
      await api.openWorkspace({ path: b })
      expect(f.model!.name).toBe('shared in B')
      // Back to A: B's 'shared' goes, and A's first saved spec comes, read from A.
      await api.openWorkspace({ path: a })
      expect(f.model).toBeNull()
      await until("A's choices", () => f.model !== null)
      expect(f.modelChoice).toEqual({ source: 'saved', name: 'only in A' })
      expect([f.model!.name, f.model!.d_model]).toEqual(['only in A', 32])
      const run = await f.startFromForm()
      expect(run?.modelSpec.name).toBe('only in A')
      await api.cancelRun({ id: run!.id, force: true })
      await lab.workspaces.runner.idle()
    } finally {
      f.dispose()
    }
  })

  it('refuses a run naming a saved spec this workspace does not have, by name', async () => {
    const other = tempDir('linea-ws-switch-c-')
    await api.openWorkspace({ path: other })
    const err = await api.startRun({ name: 'stale', modelSpec: spec('only in A', 32), trainSpec: quickTrainSpec({ steps: 2 }), specName: 'only in A' }).then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err?.message).toContain(`no spec named 'only in A' in ${other}`)
    expect((await api.listRuns({})).runs).toEqual([])
  })
})
