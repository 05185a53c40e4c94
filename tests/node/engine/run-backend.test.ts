// The backend and precision of a run (run-backend.ts): precision 'auto' is
// bf16 where a CUDA device takes the run in bf16, f32 otherwise. The CUDA
// device here is a stand-in `accepts` (CI has no GPU); the CPU's answers and
// every traced call are the real addon's.
import { describe, expect, it } from 'vitest'
import { preset } from '../../../electron/api/presets'
import { resizeModel } from '../../../electron/api/resize'
import { addonAccepts, type AcceptsFn } from '../../../electron/engine/backend-select'
import { chooseRun, selectRun } from '../../../electron/engine/run-backend'
import { traceRun, type TracedCall } from '../../../electron/engine/trace-ops'
import type { RunPrecision } from '../../../electron/engine/precision'
import { quickTrainSpec } from '../../fixtures/runs'
import { loadAddon } from '../../../electron/engine/addon'

const spec = resizeModel(preset('gla'), { d_model: 16, vocab_size: 64, heads: 2 })
const trace = (precision: RunPrecision) => traceRun(spec, quickTrainSpec(), precision)

/** A CUDA device that takes every call, or every call but those in `refusedDtype`. */
const cudaTaking =
  (refusedDtype?: string): AcceptsFn =>
  (id, call: TracedCall) => {
    if (id === 'cpu') return addonAccepts(id, call)
    const dtype = Object.values(call.inputs).find((t) => t.dtype !== 'i32')?.dtype
    return dtype === refusedDtype ? `backend ${id} has no kernel for ${call.op} in ${dtype}` : null
  }

describe('chooseRun', () => {
  it('auto on a machine without a GPU: the CPU in f32', async () => {
    const choice = await chooseRun({ backend: 'auto', device: 0, precision: 'auto' }, ['cpu'], trace, addonAccepts)
    expect(choice).toEqual({ id: 'cpu', precision: 'f32', reason: 'auto picked cpu: no CUDA device; precision auto: f32' })
  })

  it('auto with a CUDA device that takes the run: bf16 on the GPU', async () => {
    const choice = await chooseRun({ backend: 'auto', device: 0, precision: 'auto' }, ['cpu', 'cuda:0'], trace, cudaTaking())
    expect(choice.id).toBe('cuda:0')
    expect(choice.precision).toBe('bf16')
    expect(choice.reason).toMatch(/^auto picked cuda:0: .*; precision auto: bf16 on the GPU$/)
  })

  it('a device that refuses bf16 calls: f32 on it, saying why', async () => {
    const choice = await chooseRun({ backend: 'cuda', device: 0, precision: 'auto' }, ['cpu', 'cuda:0'], trace, cudaTaking('bf16'))
    expect(choice.id).toBe('cuda:0')
    expect(choice.precision).toBe('f32')
    expect(choice.reason).toContain('precision auto: f32 (bf16: backend cuda:0 cannot train this model')
  })

  it('the CPU asked for: f32 without trying bf16; an explicit precision is kept', async () => {
    const traced: RunPrecision[] = []
    const spy = (p: RunPrecision) => (traced.push(p), trace(p))
    expect((await chooseRun({ backend: 'cpu', device: 0, precision: 'auto' }, ['cpu', 'cuda:0'], spy, cudaTaking())).precision).toBe('f32')
    expect(traced).toEqual(['f32'])
    expect((await chooseRun({ backend: 'auto', device: 0, precision: 'f32' }, ['cpu', 'cuda:0'], trace, cudaTaking())).precision).toBe('f32')
    await expect(chooseRun({ backend: 'auto', device: 0, precision: 'bf16' }, ['cpu'], trace, addonAccepts)).rejects.toThrow(
      "precision 'bf16' needs a CUDA device",
    )
  })

  it('selectRun answers from the addon: f32 on the CPU here, bf16 with a CUDA device', async () => {
    const choice = await selectRun(spec, quickTrainSpec({ backend: 'auto', precision: 'auto' }))
    const hasCuda = loadAddon().backends().includes('cuda:0')
    expect(choice.precision).toBe(hasCuda ? 'bf16' : 'f32')
    expect(choice.backend.id).toBe(hasCuda ? 'cuda:0' : 'cpu')
  })
})
