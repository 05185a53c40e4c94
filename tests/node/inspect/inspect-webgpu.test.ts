// The inspector on WebGPU: a run trained on webgpu is inspected there when
// the adapter takes every call (else CUDA or the CPU, saying why), and the
// inspection of a real checkpoint on WebGPU (lavapipe here and in CI) matches
// the CPU's. Skips the device part with one line where there is no adapter;
// with LINEA_REQUIRE_WEBGPU=1 (CI) a missing adapter fails.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { InspectRequestSchema, type InspectResult } from '../../../electron/api/inspect'
import { preset } from '../../../electron/api/presets'
import { resizeModel } from '../../../electron/api/resize'
import type { Backend } from '../../../electron/engine/backend'
import { saveCheckpoint } from '../../../electron/engine/checkpoint/checkpoint'
import { chooseInspectBackend, inspectPreference, selectInspectBackend } from '../../../electron/engine/inspect/inspect-backend'
import { inspectCheckpoint } from '../../../electron/engine/inspect/inspect-checkpoint'
import { Model } from '../../../electron/engine/model/model'
import { loadAddon } from '../../../electron/engine/addon'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { probeWebGpuAdapter } from '../../../electron/engine/webgpu/adapter'
import { EngineProcess, forkLauncher } from '../../../electron/jobs/engine-process'
import { tinyMqarTrainSpec } from '../../fixtures/runs'

const probe = await probeWebGpuAdapter()
if (!probe.adapter) {
  if (process.env.LINEA_REQUIRE_WEBGPU === '1') throw new Error(`inspect-webgpu: LINEA_REQUIRE_WEBGPU=1 but ${probe.reason}`)
  console.log(`inspect-webgpu: skipped the device tests: ${probe.reason.split('\n')[0]}`)
}

/** A checkpoint of a small preset whose TrainSpec asked for `backend`. */
async function checkpoint(presetId: string, backend: 'cpu' | 'webgpu'): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'linea-inspect-webgpu-')), 'step-0000001.safetensors')
  const model = new Model(resizeModel(preset(presetId), { d_model: 32, vocab_size: 64, heads: 2 }), nativeBackend('cpu'), 'f32', 1)
  await saveCheckpoint(path, model, undefined, { ...tinyMqarTrainSpec(), backend }, 1)
  model.dispose()
  return path
}

const inspection =
  (path: string) =>
  (backend: Backend): Promise<InspectResult> =>
    inspectCheckpoint(
      {
        checkpointPath: path,
        checkpoint: 'checkpoints/step-0000001.safetensors',
        runId: 'r',
        runName: 'r',
        name: 'n',
        request: InspectRequestSchema.parse({ runId: 'r', recall: { examples: 8 } }),
      },
      backend,
    )

/** Every number under `x`, in a fixed order. */
function numbers(x: unknown, out: number[] = []): number[] {
  if (typeof x === 'number') out.push(x)
  else if (Array.isArray(x)) for (const v of x) numbers(v, out)
  else if (x && typeof x === 'object') for (const k of Object.keys(x).sort()) numbers((x as Record<string, unknown>)[k], out)
  return out
}

describe('inspect backend preference', () => {
  it('prefers webgpu for a run trained there, or when asked', () => {
    expect(inspectPreference('webgpu')).toBe('webgpu')
    expect(inspectPreference('auto')).toBeUndefined()
    expect(inspectPreference('cpu', 'webgpu')).toBe('webgpu')
  })

  it('takes webgpu when it accepts every call; else says why it did not', async () => {
    const path = await checkpoint('gla', 'webgpu')
    const all = await chooseInspectBackend(inspection(path), ['cpu', 'webgpu'], () => null, 'webgpu')
    expect(all.id).toBe('webgpu')
    expect(all.reason).toMatch(/^webgpu: the run trained on it, and it accepts all \d+ of the inspection's op calls$/)
    const refused = await chooseInspectBackend(
      inspection(path),
      ['cpu', 'webgpu'],
      (id, call) => (id === 'webgpu' && call.op === 'mixer_fwd' ? 'backend webgpu has no kernel for mixer_fwd with K over 128' : null),
      'webgpu',
    )
    expect(refused.id).toBe('cpu')
    expect(refused.reason).toContain('cpu: webgpu refuses')
    expect(refused.reason).toContain('backend webgpu has no kernel for mixer_fwd with K over 128')
    expect(refused.reason).toContain('no CUDA device')
    const noAdapter = await chooseInspectBackend(
      async () => expect.fail('traced with nowhere to go but the CPU'),
      ['cpu'],
      () => null,
      'webgpu',
    )
    expect(noAdapter).toEqual({ id: 'cpu', reason: 'cpu: no WebGPU adapter for the run that trained on webgpu; no CUDA device' })
    // without the preference, WebGPU is never picked (auto stays CUDA, then the CPU)
    expect((await chooseInspectBackend(inspection(path), ['cpu', 'webgpu'], () => null)).id).toBe('cpu')
  })
})

describe.skipIf(!probe.adapter)('the inspector on WebGPU', () => {
  it('inspects a run trained on webgpu there, matching the CPU', async () => {
    const path = await checkpoint('hybrid-gla', 'webgpu')
    const choice = await selectInspectBackend(path, inspection(path))
    expect(choice.backend.id).toBe('webgpu')
    expect(choice.reason).toMatch(/^webgpu: the run trained on it/)
    const gpu = await inspection(path)(choice.backend)
    const cpu = await inspection(path)(nativeBackend('cpu'))
    expect(gpu.backend).toBe('webgpu')
    const a = numbers(gpu.layers)
    const b = numbers(cpu.layers)
    expect(a.length).toBe(b.length)
    expect(a.length).toBeGreaterThan(100)
    let num = 0
    let den = 0
    for (let i = 0; i < a.length; i++) {
      num += (a[i]! - b[i]!) ** 2
      den += b[i]! ** 2
    }
    // f32 on both; the chunked kernels sum in another order
    expect(Math.sqrt(num / den)).toBeLessThan(1e-4)
    expect(gpu.recall?.accuracy.length).toBe(cpu.recall?.accuracy.length)
  })

  it("the engine process's inspect call takes that choice (a run trained on webgpu is inspected there)", async () => {
    const path = await checkpoint('gla', 'webgpu')
    const engine = new EngineProcess(forkLauncher())
    try {
      const result = await engine.call('inspect', {
        checkpointPath: path,
        checkpoint: 'checkpoints/step-0000001.safetensors',
        runId: 'r',
        runName: 'r',
        name: 'n',
        request: InspectRequestSchema.parse({ runId: 'r', recall: { examples: 4 } }),
      })
      expect(result.backend).toMatch(/^webgpu: the run trained on it/)
    } finally {
      engine.stop()
    }
  }, 240_000)

  it('inspects a run trained on the CPU natively (cuda:0 where there is one, else the CPU) unless asked for webgpu', async () => {
    const path = await checkpoint('gla', 'cpu')
    const choice = await selectInspectBackend(path, inspection(path))
    const native = loadAddon().backends().includes('cuda:0') ? 'cuda:0' : 'cpu'
    expect(choice.backend.id).toBe(nativeBackend(native).id)
    const asked = await selectInspectBackend(path, inspection(path), 'webgpu')
    expect(asked.backend.id).toBe('webgpu')
  })
})
