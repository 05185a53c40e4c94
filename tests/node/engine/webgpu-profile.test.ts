// Op timing on WebGPU for the profiler (issue 19): with timestamp queries
// (lavapipe has them) every op observed in a training step gets its device
// time once settleTimings has read the queries, in the order the ops ran,
// and the profile's machine record says how ops were timed. Skips with one
// line without an adapter (fails in CI, which installs lavapipe). The whole
// profile on WebGPU runs from the CLI and the app; here its parts, since its
// ceiling probe (1024³ products) takes most of a minute on a CPU adapter.
import { describe, expect, it } from 'vitest'
import { preset } from '../../../electron/api/presets'
import { resizeModel } from '../../../electron/api/resize'
import { Ctx } from '../../../electron/engine/autograd/context'
import type { OpTiming } from '../../../electron/engine/backend'
import { Model } from '../../../electron/engine/model/model'
import { machineInfo } from '../../../electron/engine/profile/profiler'
import { createTask } from '../../../electron/engine/tasks'
import { disposeBatch, toDevice } from '../../../electron/engine/train/device-batch'
import { AdamW } from '../../../electron/engine/train/optimizer'
import { announce, gpu, theGpu } from './webgpu-harness'

announce('webgpu-profile.test.ts')

describe.skipIf(!gpu)('op timing on WebGPU', () => {
  /** Each op's name as the profiler saw it, per compute dtype: an f16 step's ops are the f32 step's and its weights' casts. */
  const opsSeen: Record<string, string[]> = {}
  for (const dtype of ['f32', 'f16'] as const)
    it(`times every op of a training step (${dtype} passes) on the device with timestamp queries, in the order they ran`, { timeout: 60_000 }, async () => {
      const backend = theGpu()
      expect(backend.driver.canTime).toBe(true)
      const spec = resizeModel(preset('gla'), { d_model: 32, vocab_size: 64, heads: 2, n_layers: 2 })
      const model = new Model(spec, backend, 'f32', 0)
      const optimizer = new AdamW(backend, model.params.trainable(), { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 })
      const batch = toDevice(backend, createTask({ kind: 'mqar', seq_len: 32, num_kv_pairs: 4, power_a: 0.01, vocab_size: 64 }, 0).trainBatch(0, 2))
      const seen: { op: string; timing: OpTiming }[] = []
      try {
        for (let repeat = 0; repeat < 2; repeat++) {
          seen.length = 0
          backend.observe((op, _i, _a, _o, timing) => seen.push({ op, timing }))
          const ctx = new Ctx(backend, dtype, true)
          try {
            model.loss(ctx, batch)
            ctx.backward([])
            const grads = ctx.gradsByName(model.params.trainable())
            const gradSqSum = optimizer.gradSqSum(grads)
            optimizer.step(grads, 1e-4, 1, { gradSqSum, maxNorm: 1 })
            gradSqSum.dispose()
          } finally {
            backend.observe(undefined)
            ctx.dispose()
          }
          // Until the queries are read the times are unknown, not made up.
          expect(seen.every((s) => Number.isNaN(s.timing.ms))).toBe(true)
          await backend.settleTimings()
          expect(seen.length).toBeGreaterThan(100)
          for (const { op, timing } of seen) expect(Number.isFinite(timing.ms) && timing.ms >= 0, `${op}: ${timing.ms}`).toBe(true)
          const started = seen.filter((s) => Number.isFinite(s.timing.startMs)).map((s) => s.timing)
          expect(started.length).toBeGreaterThan(seen.length / 2)
          expect(started[0]!.startMs).toBe(0)
          for (let i = 1; i < started.length; i++) expect(started[i]!.startMs!).toBeGreaterThanOrEqual(started[i - 1]!.startMs!)
          expect(seen.filter((s) => s.op.startsWith('mixer')).reduce((n, s) => n + s.timing.ms, 0)).toBeGreaterThan(0)
          opsSeen[dtype] = seen.map((s) => s.op)
        }
        // The f32 kernels an f16 call runs and its conversions are the op's own time, not ops of their own.
        if (dtype === 'f16') expect(opsSeen.f16!.filter((op) => op !== 'cast')).toEqual(opsSeen.f32)
      } finally {
        disposeBatch(batch)
        optimizer.dispose()
        model.dispose()
      }
    })

  it('the profile names the adapter and how its ops were timed', () => {
    const backend = theGpu()
    const m = machineInfo(backend)
    expect(m.backend).toBe('webgpu')
    expect(m.device).toBe(backend.adapter.name)
    expect(m.opTiming).toBe('WebGPU timestamp queries (device time per op)')
  })
})
