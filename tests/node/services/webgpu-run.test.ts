// A preset trained on WebGPU the way the app trains it (issue 19): startRun through the LabApi,
// the run in the engine process, its record and metrics in the workspace. In f32 its losses are
// the CPU run's; in f16 (mixed precision, WebGPU only) they follow them loosely. Skips where no
// adapter is found, fails instead with LINEA_REQUIRE_WEBGPU=1 (CI, on lavapipe).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { TrainSpec } from '../../../electron/api/train-spec'
import { labInTempWorkspace, trainLosses } from '../../fixtures/lab'
import { quickTrainSpec, smallModelSpec } from '../../fixtures/runs'
import { announce, gpu } from '../engine/webgpu-harness'

announce('webgpu-run')

const { root, workspaces, api, stop } = labInTempWorkspace('linea-webgpu-run-')
afterAll(stop)

const record = (id: string) =>
  JSON.parse(readFileSync(join(root, 'runs', id, 'run.json'), 'utf8')) as { status: string; trainSpec: TrainSpec; backend?: string; error?: unknown }

describe.skipIf(!gpu)('a run on WebGPU from the LabApi', { timeout: 240_000 }, () => {
  it("trains the gated-deltanet preset in the engine process to the CPU's losses (f32), and in f16", async () => {
    const modelSpec = smallModelSpec('gated-deltanet')
    const spec = (backend: TrainSpec['backend'], precision: TrainSpec['precision']) => quickTrainSpec({ steps: 6, backend, precision, checkpoint_every: 0 })
    const onCpu = await api.startRun({ name: 'cpu', modelSpec, trainSpec: spec('cpu', 'f32') })
    const onGpu = await api.startRun({ name: 'webgpu', modelSpec, trainSpec: spec('webgpu', 'f32') })
    const inF16 = await api.startRun({ name: 'webgpu-f16', modelSpec, trainSpec: spec('webgpu', 'f16') })
    await workspaces.runner.idle()
    for (const id of [onCpu.id, onGpu.id, inF16.id]) expect(record(id).status, JSON.stringify(record(id).error ?? '')).toBe('completed')
    // What the engine picked, as the run record says it.
    expect(record(onGpu.id).backend).toMatch(/^webgpu/)
    expect(record(inF16.id).backend).toMatch(/^webgpu/)
    expect(record(inF16.id).trainSpec.precision).toBe('f16')
    const want = trainLosses(root, onCpu.id)
    expect(want).toHaveLength(6)
    trainLosses(root, onGpu.id).forEach((l, i) => expect(Math.abs(l - want[i]!) / Math.abs(want[i]!), `f32 step ${i + 1}`).toBeLessThan(1e-4))
    // f16: the first step's loss is the same model's on f16-rounded activations; later steps may skip on overflow.
    const half = trainLosses(root, inF16.id)
    expect(half).toHaveLength(6)
    expect(Math.abs(half[0]! - want[0]!) / want[0]!).toBeLessThan(1e-2)
    expect(half.every(Number.isFinite)).toBe(true)
  })
})
