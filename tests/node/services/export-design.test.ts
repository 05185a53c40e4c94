// The composer's Export… through the LabApi (exportDesign), against the real
// services and engine: a fresh design (no run, no checkpoint) gets its
// initial weights from the engine's own initialization with the given seed
// on the CPU, and is written as the run export writes it (the PyTorch
// folder, the torchrun recipe, fla's folder where an fla class computes it)
// into a new folder under the workspace's exports/. Same seed, same bytes;
// another seed, other weights. An invalid spec, a name that would walk out of
// exports/ and an exports/ that leads out of the workspace are refused or
// kept inside.
import { existsSync, readdirSync, readFileSync, symlinkSync } from 'node:fs'
import { join, relative } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../../electron/api/model-spec'
import { readSafetensors } from '../../../electron/engine/checkpoint/safetensors'
import { Model } from '../../../electron/engine/model/model'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { torchParamName } from '../../../electron/interop/export-torch'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { localLabApi } from '../../../electron/services/local-api'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { labDepsFor } from '../../fixtures/lab'
import { smallModelSpec } from '../../fixtures/runs'
import { tempDir } from '../../fixtures/temp'
import { rejection } from '../../fixtures/thrown'

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const root = tempDir('linea-export-design-')
const workspaces = new WorkspaceService(root, forkLauncher(), events)
const api = localLabApi(createLabHandlers(labDepsFor(engine, workspaces, events)), events)
afterAll(() => {
  engine.stop()
  workspaces.close()
})

const exportsDir = join(root, 'exports')
const bytes = (dir: string, file = 'model.safetensors') => readFileSync(join(dir, file))
/** The export folders and anything else in exports/ (a left-over temporary checkpoint would show). */
const exportsEntries = () => (existsSync(exportsDir) ? readdirSync(exportsDir).sort() : [])

describe('exportDesign', () => {
  const gla = { ...smallModelSpec('gla'), name: 'My GLA design' }

  it("writes a fresh design's initial weights as the run export does, under exports/<name>-<time>/", async () => {
    const out = await api.exportDesign({ spec: gla, seed: 7 })
    expect(relative(root, out.dir)).toMatch(/^exports\/my-gla-design-\d{8}T\d{6}$/)
    expect(out.step).toBe(0)
    expect(out.seed).toBe(7)
    const files = ['model.py', 'config.json', 'train_spec.json', 'model.safetensors', 'README.txt', 'train.py', 'train.sh', 'convert_data.py']
    for (const f of files) {
      expect(out.files).toContain(f)
      expect(existsSync(join(out.dir, f)), f).toBe(true)
    }
    // GLA maps onto fla's 'gla' class: its Hugging Face folder is written beside the module.
    expect(out.files).toContain('fla/')
    for (const f of ['config.json', 'model.safetensors', 'README.txt']) expect(existsSync(join(out.dir, 'fla', f)), `fla/${f}`).toBe(true)
    expect(JSON.parse(readFileSync(join(out.dir, 'fla', 'config.json'), 'utf8'))).toMatchObject({ model_type: 'gla', architectures: ['GLAForCausalLM'] })
    expect(out.fla).toMatch(/fla\/ holds the model as its 'gla' class/)
    expect(JSON.parse(readFileSync(join(out.dir, 'config.json'), 'utf8'))).toEqual(gla)
    expect(JSON.parse(readFileSync(join(out.dir, 'train_spec.json'), 'utf8'))).toMatchObject({ format: 'linea.train/1', seed: 7 })
    const readme = readFileSync(join(out.dir, 'README.txt'), 'utf8')
    expect(readme).toContain("Source: a design from Linea's composer, initialized with seed 7 (untrained) (step 0)")
    expect(readme).toContain('convert_data.py text corpus.txt')

    // The weights: every parameter of the spec's model under its torch name, with its shape, and the
    // values the engine's initialization gives with seed 7 (what a run with TrainSpec seed 7 starts from).
    const written = readSafetensors(join(out.dir, 'model.safetensors'))
    expect(written.metadata['linea.step']).toBe('0')
    const model = new Model(gla as ModelSpec, nativeBackend('cpu'), 'f32', 7)
    try {
      const params = model.params.list()
      expect(Object.keys(written.tensors).sort()).toEqual(params.map((p) => torchParamName(p.name)).sort())
      for (const p of params) {
        const t = written.tensors[torchParamName(p.name)]!
        expect(t.dtype, p.name).toBe('F32')
        expect(t.shape, p.name).toEqual(p.tensor.shape)
        expect(t.data, p.name).toEqual(await p.tensor.read())
      }
    } finally {
      model.dispose()
    }
    // Nothing else is left in exports/: the temporary step-0 checkpoint is gone.
    expect(exportsEntries()).toEqual([relative(exportsDir, out.dir)])
  })

  it('gives the same bytes for the same seed (in a new folder) and other weights for another seed', async () => {
    const a = await api.exportDesign({ spec: gla, seed: 3 })
    const b = await api.exportDesign({ spec: gla, seed: 3 })
    const c = await api.exportDesign({ spec: gla, seed: 4 })
    expect(new Set([a.dir, b.dir, c.dir]).size).toBe(3)
    expect(bytes(b.dir).equals(bytes(a.dir))).toBe(true)
    expect(bytes(b.dir, 'fla/model.safetensors').equals(bytes(a.dir, 'fla/model.safetensors'))).toBe(true)
    expect(bytes(c.dir).equals(bytes(a.dir))).toBe(false)
    const wa = readSafetensors(join(a.dir, 'model.safetensors')).tensors['embed.weight']!
    const wc = readSafetensors(join(c.dir, 'model.safetensors')).tensors['embed.weight']!
    expect(wc.shape).toEqual(wa.shape)
    expect(wc.data).not.toEqual(wa.data)
    // The seed defaults to 0, as a run's TrainSpec seed does in the Train form.
    expect((await api.exportDesign({ spec: gla })).seed).toBe(0)
  })

  it('writes a design no fla class computes as the standalone module, saying why', async () => {
    const out = await api.exportDesign({ spec: smallModelSpec('linear-transformer'), seed: 1 })
    expect(out.files).not.toContain('fla/')
    expect(existsSync(join(out.dir, 'fla'))).toBe(false)
    expect(out.fla).toMatch(/no fla model class computes this model .*denominator 'sum'/)
  })

  it('refuses an invalid spec by field, and bad parameters, writing nothing', async () => {
    const before = exportsEntries()
    const heads = await rejection(api.exportDesign({ spec: { ...gla, layers: [{ ...gla.layers[0]!, heads: 3 }] } }))
    expect(heads).toMatch(/invalid model spec \(export refused\)/)
    expect(heads).toMatch(/layers\[0\]\.heads/)
    expect(await rejection(api.exportDesign({ spec: 'not a spec' }))).toMatch(/invalid model spec/)
    const hedgehog = { ...gla, layers: gla.layers.map((l) => ({ ...l, feature_map: 'hedgehog' })) }
    expect(await rejection(api.exportDesign({ spec: hedgehog }))).toMatch(/layers\.0\.feature_map 'hedgehog' is not built by Linea yet/)
    expect(await rejection(api.exportDesign({ spec: gla, seed: -1 }))).toMatch(/exportDesign: .*seed/)
    expect(await rejection(api.exportDesign({ spec: gla, seed: 1.5 }))).toMatch(/exportDesign: .*seed/)
    expect(await rejection(api.exportDesign({ spec: gla, out: '/tmp' } as never))).toMatch(/exportDesign: .*out/)
    expect(exportsEntries()).toEqual(before)
  })

  it('keeps a name that would walk out of exports/ inside it, and refuses an exports/ that leads out of the workspace', async () => {
    const out = await api.exportDesign({ spec: { ...gla, name: '../../../escape/..' }, seed: 1 })
    expect(relative(exportsDir, out.dir)).toMatch(/^escape-\d{8}T\d{6}$/)

    const other = tempDir('linea-export-design-ws-')
    const outside = tempDir('linea-export-design-outside-')
    const ws2 = new WorkspaceService(other, forkLauncher(), events)
    try {
      symlinkSync(outside, join(other, 'exports'))
      const api2 = localLabApi(createLabHandlers(labDepsFor(engine, ws2, events)), events)
      expect(await rejection(api2.exportDesign({ spec: gla, seed: 1 }))).toMatch(/outside/)
      expect(readdirSync(outside)).toEqual([])
    } finally {
      ws2.close()
    }
  })
})
