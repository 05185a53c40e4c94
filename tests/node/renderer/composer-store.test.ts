// The composer store against the real services (engine process, workspace
// folder), each test with a fresh Pinia.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPinia, setActivePinia } from 'pinia'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { localLabApi } from '../../../electron/services/local-api'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { setLabApi } from '../../../renderer/src/api/client'
import { labDepsFor } from '../../fixtures/lab'
import { fileNameOf, useComposerStore } from '../../../renderer/src/stores/composer'
import { until } from '../../fixtures/until'

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const workspaces = new WorkspaceService(mkdtempSync(join(tmpdir(), 'linea-composer-')), forkLauncher(), events)
const workspace = workspaces.workspace
setLabApi(localLabApi(createLabHandlers(labDepsFor(engine, workspaces, events)), events))
afterAll(() => {
  engine.stop()
  workspaces.close()
  setLabApi(undefined)
})
beforeEach(() => {
  setActivePinia(createPinia())
  // Each test starts without the draft an earlier one left (the composer restores it on init).
  rmSync(join(workspace.root, 'drafts'), { recursive: true, force: true })
})

describe('composer store', () => {
  it("saves under the model's name, asks before overwriting another saved spec, and keeps a typed name", async () => {
    const c = useComposerStore()
    await c.init()
    c.startFromPreset('gla')
    expect(c.saveName).toBe('GLA')
    expect(await c.save(c.saveName)).toBe(true)
    // Another preset: the box follows its name, so GLA.json is not overwritten by a Gated DeltaNet.
    c.startFromPreset('gated-deltanet')
    expect(c.saveName).toBe(fileNameOf(c.spec!.name))
    expect(c.saveName).not.toBe('GLA')
    expect(await c.save(c.saveName)).toBe(true)
    const names = (await c.refreshSaved(), c.saved.map((s) => s.name))
    expect(names).toEqual(expect.arrayContaining(['GLA', c.saveName]))
    expect(JSON.parse(readFileSync(join(workspace.root, 'specs', 'GLA.json'), 'utf8')).name).toBe('GLA')
    // Saving it as GLA asks first and writes nothing until told to.
    c.setSaveName('GLA')
    expect(await c.save('GLA')).toBe(false)
    expect(c.pendingOverwrite).toBe('GLA')
    expect(JSON.parse(readFileSync(join(workspace.root, 'specs', 'GLA.json'), 'utf8')).name).toBe('GLA')
    expect(await c.save('GLA', { overwrite: true })).toBe(true)
    expect(JSON.parse(readFileSync(join(workspace.root, 'specs', 'GLA.json'), 'utf8')).name).toBe(c.spec!.name)
    // A typed name stays while the model's name changes.
    c.setModelField('name', 'renamed')
    expect(c.saveName).toBe('GLA')
  })

  it('starts from the GLA preset with estimates from the engine', async () => {
    const c = useComposerStore()
    await c.init()
    expect(c.presetId).toBe('gla')
    expect(c.presets.length).toBeGreaterThanOrEqual(13)
    // the store asks the engine by itself (150 ms after the spec is set)
    await until("the engine's estimate", () => c.estimate !== null || c.estimateError !== '', 20_000)
    expect(c.estimateError).toBe('')
    expect(c.estimate!.layers).toHaveLength(2)
    expect(c.estimate!.totalParams).toBeGreaterThan(0)
    // the Transformer's KV cache grows with context; GLA's state does not
    const curve = c.estimate!.curve
    expect(curve.at(-1)!.transformer.stateBytes).toBeGreaterThan(curve[0]!.transformer.stateBytes * 1000)
    expect(curve.at(-1)!.model.stateBytes).toBe(curve[0]!.model.stateBytes)
  })

  it('undo and redo walk the history, and a new edit clears redo', async () => {
    const c = useComposerStore()
    await c.init()
    const original = JSON.stringify(c.spec)
    c.setLayerCount(8)
    c.setHybrid(0.25, 'interleave')
    expect(c.spec!.layers.map((l) => l.kind)).toEqual(['linear', 'linear', 'linear', 'softmax', 'linear', 'linear', 'linear', 'softmax'])
    c.undo()
    expect(c.spec!.layers).toHaveLength(8)
    expect(c.spec!.layers.every((l) => l.kind === 'linear')).toBe(true)
    c.undo()
    expect(JSON.stringify(c.spec)).toBe(original)
    expect(c.canUndo).toBe(false)
    c.redo()
    expect(c.spec!.layers).toHaveLength(8)
    c.setLayerField(0, 'short_conv', 4)
    expect(c.canRedo).toBe(false)
  })

  it('marks invalid fields from the engine schema, refuses to save them, and saves a valid spec exactly', async () => {
    const c = useComposerStore()
    await c.init()
    c.setLayerField(0, 'heads', 3)
    expect(c.valid).toBe(false)
    expect(c.layerError(0, 'heads')).toBe('3 does not divide d_model 128')
    expect(await c.save('broken')).toBe(false)
    expect(c.error).toBe('fix the marked fields before saving')
    c.undo()
    expect(c.valid).toBe(true)
    c.setLayerField(1, 'delta_rule', 'on')
    expect(await c.save('mine')).toBe(true)
    const onDisk = JSON.parse(readFileSync(join(workspace.specsDir, 'mine.json'), 'utf8'))
    expect(onDisk).toEqual(c.spec)
    // a fresh store (a reloaded page) restores what was saved
    const before = JSON.stringify(c.spec)
    setActivePinia(createPinia())
    const again = useComposerStore()
    await again.load('mine')
    expect(JSON.stringify(again.spec)).toBe(before)
    expect(await again.load('nope')).toBe(false)
    expect(again.error).toContain("no spec named 'nope'")
  })

  it('edits the spec as JSON, refusing text that is not JSON', async () => {
    const c = useComposerStore()
    await c.init()
    const text = JSON.stringify({ ...c.spec, d_model: 64 })
    expect(c.setText(text)).toBe('')
    expect(c.spec!.d_model).toBe(64)
    expect(c.setText('{ not json')).toMatch(/^not valid JSON/)
    expect(c.spec!.d_model).toBe(64)
  })

  it('keeps unsaved edits in the workspace and restores them in a fresh store (a reload, a server restart)', async () => {
    const first = useComposerStore()
    await first.init()
    first.setLayerCount(5)
    first.setModelField('d_model', 96)
    await until(
      'the draft written',
      () => first.draftSavedMs !== null && JSON.parse(readFileSync(join(workspace.root, 'drafts', 'composer.json'), 'utf8')).spec.layers.length === 5,
    )
    setActivePinia(createPinia())
    const second = useComposerStore()
    await second.init()
    expect(second.spec!.layers).toHaveLength(5)
    expect(second.spec!.d_model).toBe(96)
    expect(second.presetId).toBe('gla')
    expect(second.status).toBe('restored your unsaved edits')
  })

  it('ignores a draft file that is not one, and says so in the workspace problems', async () => {
    mkdirSync(join(workspace.root, 'drafts'), { recursive: true })
    writeFileSync(join(workspace.root, 'drafts', 'composer.json'), JSON.stringify({ format: 'linea-composer-draft-1', spec: { layers: 'nope' } }))
    const c = useComposerStore()
    await c.init()
    expect(c.presetId).toBe('gla')
    expect(c.spec!.layers.length).toBeGreaterThan(0)
    expect(workspace.problems.some((p) => p.file.endsWith('composer.json') && p.problem.startsWith('not a composer draft'))).toBe(true)
  })

  it("exports the design with its seed into the workspace's exports/, and shows an invalid spec's refusal", async () => {
    const c = useComposerStore()
    await c.init()
    c.startFromPreset('gla')
    c.exportSeed = 2
    const out = await c.exportDesign()
    expect(out).not.toBeNull()
    expect(c.exported).toEqual(out)
    expect(c.exporting).toBe(false)
    expect(out!.seed).toBe(2)
    expect(out!.dir.startsWith(join(workspace.root, 'exports', 'gla-'))).toBe(true)
    expect(JSON.parse(readFileSync(join(out!.dir, 'config.json'), 'utf8'))).toEqual(c.spec)
    expect(c.error).toBe('')
    c.setLayerField(0, 'heads', 3)
    expect(await c.exportDesign()).toBeNull()
    expect(c.exported).toBeNull()
    expect(c.error).toMatch(/^invalid model spec \(export refused\):\n.*layers\[0\]\.heads: 3 does not divide d_model 128/)
  })
})
