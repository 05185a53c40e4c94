// The memory guard through the real LabApi (createLabHandlers + dispatch, as
// both front doors call it): a run, a template sweep or a profile whose
// estimated memory is over the device's is refused before anything is
// created, saying how much it needs; allowOverMemory starts it anyway.
import { mkdtempSync } from 'node:fs'
import { tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunRecord } from '../../../electron/api/runs'
import { resizeModel } from '../../../electron/api/resize'
import { formatBytes } from '../../../electron/engine/train-memory'
import { preset } from '../../../electron/api/presets'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { dispatchLabApi, LabApiError } from '../../../electron/services/dispatch'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { labDepsFor } from '../../fixtures/lab'
import { trainSpec } from '../../fixtures/specs'
import { until } from '../../fixtures/until'

const cleanup: (() => void)[] = []
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn()
})

function lab() {
  const events = new LabEventBus()
  const engine = new EngineService(forkLauncher(), events)
  const workspaces = new WorkspaceService(mkdtempSync(join(tmpdir(), 'linea-memory-')), forkLauncher(), events)
  cleanup.push(() => {
    engine.stop()
    workspaces.close()
  })
  const handlers = createLabHandlers(labDepsFor(engine, workspaces, events))
  const call = (method: string, params: unknown) => dispatchLabApi(handlers, method, params)
  return { call, workspaces, engine }
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(LabApiError)
    return (err as LabApiError).body
  }
  throw new Error('expected the call to be refused')
}

const small = () => resizeModel(preset('gla'), { d_model: 32, vocab_size: 64, heads: 2 })
const huge = () => resizeModel(preset('gla'), { d_model: 8192, n_layers: 64, vocab_size: 256, heads: 64 })
const mqar = (batch: number, seqLen: number) =>
  trainSpec({
    task: { kind: 'mqar', seq_len: seqLen, num_kv_pairs: 4, power_a: 0.01, vocab_size: 64 },
    steps: 2,
    batch_size: batch,
    backend: 'cpu',
    schedule: { warmup_steps: 1, decay: 'cosine', min_lr_ratio: 0.1 },
    eval: { every: 2, batches: 1 },
    early_stop_accuracy: null,
  })
const machine = formatBytes(totalmem())

describe('memory guard (LabApi)', () => {
  it('refuses startRun of a spec that needs petabytes, creating nothing', async () => {
    const { call, workspaces } = lab()
    const body = await refusal(call('startRun', { name: 'huge', modelSpec: huge(), trainSpec: mqar(4096, 65536) }))
    expect(body.code).toBe('bad_request')
    expect(body.message).toMatch(/^this run needs about \d+(\.\d)? (PiB|EiB) on cpu \(parameters .*, activations .* for batch 4096 × seq_len 65536\)/)
    expect(body.message).toContain(`the machine has ${machine}`)
    expect(body.message).toContain('lower batch_size, seq_len, d_model or the layer count, or pass allowOverMemory: true to start it anyway')
    expect(workspaces.workspace.listRuns().runs).toEqual([])
  })

  it('starts a small run', async () => {
    const { call, workspaces } = lab()
    const run = (await call('startRun', { name: 'small', modelSpec: small(), trainSpec: mqar(4, 32) })) as RunRecord
    await workspaces.runner.idle()
    expect(workspaces.workspace.readRun(run.id).status).toBe('completed')
  })

  it('starts an over-memory run with allowOverMemory: true', async () => {
    const { call, workspaces } = lab()
    const run = (await call('startRun', { name: 'huge', modelSpec: huge(), trainSpec: mqar(4096, 65536), allowOverMemory: true })) as RunRecord
    // queued and handed to an engine process: killed at once, before it can allocate anything
    await call('cancelRun', { id: run.id, force: true })
    await until('the huge run to end', () => workspaces.workspace.readRun(run.id).status === 'cancelled', 10_000)
  })

  it('refuses a template sweep with an over-memory run as a whole, naming the run', async () => {
    const { call, workspaces } = lab()
    const body = await refusal(
      call('startTemplate', { id: 'mqar-recall-sweep', overrides: { 'train.batch_size': 65536, 'train.backend': 'cpu', 'train.task.seq_len': 65536 } }),
    )
    expect(body.code).toBe('bad_request')
    expect(body.message).toMatch(/^run '.+' of template 'mqar-recall-sweep' needs about .+ on cpu \(/)
    expect(workspaces.workspace.listRuns().runs).toEqual([])
  })

  it('refuses a profile whose batchSize × seqLen does not fit', async () => {
    const { call } = lab()
    const body = await refusal(call('startProfile', { spec: huge(), settings: { batchSize: 4096, seqLen: 1 << 20 } }))
    expect(body.code).toBe('bad_request')
    expect(body.message).toMatch(/^this profile needs about .+ \(parameters .*, activations .* for batch 4096 × seq_len 1048576\)/)
    expect(body.message).toContain('lower settings.batchSize, settings.seqLen, d_model or the layer count, or pass allowOverMemory: true')
  })
})
