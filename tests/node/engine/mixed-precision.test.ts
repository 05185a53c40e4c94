// Mixed precision (autograd/context.ts autocast, precision.ts): a pass that
// computes in a narrower dtype than the weights casts each weight once and
// sends its gradient back in the weights' dtype. On the CPU the same code runs
// with f64 weights and f32 passes; it must give exactly the f32 model's loss
// and gradients (the copies hold the same f32 values), and the run's traced
// calls in bf16 keep the optimizer in f32.
import { describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../../electron/api/model-spec'
import { preset } from '../../../electron/api/presets'
import { resizeModel } from '../../../electron/api/resize'
import { Ctx, type ComputeDType } from '../../../electron/engine/autograd/context'
import { Model } from '../../../electron/engine/model/model'
import { nativeBackend } from '../../../electron/engine/native-backend'
import type { FloatDType } from '../../../electron/engine/tensor'
import { traceTrainingStep } from '../../../electron/engine/trace-ops'
import { disposeBatch, toDevice } from '../../../electron/engine/train/device-batch'

const cpu = nativeBackend('cpu')
const VOCAB = 12

function small(id: string): ModelSpec {
  return resizeModel(preset(id), { d_model: 16, vocab_size: VOCAB, heads: 2 })
}

/** The loss and every trainable parameter's gradient (as f64 values) of one step. */
async function step(spec: ModelSpec, weights: FloatDType, compute: ComputeDType) {
  const model = new Model(spec, cpu, weights, 3)
  const ids = Int32Array.from({ length: 2 * 7 }, (_, n) => (7 * n + 3) % VOCAB)
  const batch = toDevice(cpu, { batchSize: 2, seqLen: 7, inputs: ids, labels: ids, tags: {} })
  const ctx = new Ctx(cpu, compute, true)
  try {
    const nll = Array.from(await model.loss(ctx, batch).nll.read())
    ctx.backward([])
    const grads = new Map<string, { dtype: string; values: number[] }>()
    for (const p of model.params.trainable()) {
      const g = ctx.grad(p.tensor)
      if (g) grads.set(p.name, { dtype: g.dtype, values: Array.from(await g.read()) })
    }
    const frozen = model.params.list().filter((p) => !p.trainable && ctx.grad(p.tensor))
    return { nll, grads, frozenWithGrad: frozen.map((p) => p.name) }
  } finally {
    ctx.dispose()
    model.dispose()
    disposeBatch(batch)
  }
}

describe('mixed precision', () => {
  for (const id of ['gla', 'retnet', 'hybrid-gated-deltanet']) {
    it(`${id}: f64 weights in f32 passes give the f32 model's loss and gradients, in f64`, async () => {
      const plain = await step(small(id), 'f32', 'f32')
      const mixed = await step(small(id), 'f64', 'f32')
      expect(mixed.nll).toEqual(plain.nll)
      expect([...mixed.grads.keys()]).toEqual([...plain.grads.keys()])
      for (const [name, g] of mixed.grads) {
        expect(g.dtype, name).toBe('f64')
        expect(g.values, name).toEqual(plain.grads.get(name)!.values)
      }
      expect(mixed.frozenWithGrad).toEqual([])
    })
  }

  it('a bf16 run traces bf16 ops over f32 weights: casts in, f32 AdamW, f32 losses', async () => {
    const ids = Int32Array.from({ length: 2 * 5 }, (_, n) => n % VOCAB)
    const calls = await traceTrainingStep(small('gla'), 'bf16', { batchSize: 2, seqLen: 5, inputs: ids, labels: ids, tags: {} })
    const dtypeOf = (op: string) => new Set(calls.filter((c) => c.op === op).map((c) => Object.values(c.inputs).find((t) => t.dtype !== 'i32')?.dtype))
    expect(dtypeOf('mixer_fwd')).toEqual(new Set(['bf16']))
    expect(dtypeOf('linear_fwd')).toEqual(new Set(['bf16']))
    expect(dtypeOf('adamw_step')).toEqual(new Set(['f32']))
    // weights cast to bf16 on the way in, gradients back to f32
    expect(dtypeOf('cast')).toEqual(new Set(['f32', 'bf16']))
  })
})
