// Memory of a backward pass (electron/engine/autograd/context.ts): an
// activation's gradient is freed once the backward step of the op that made
// the activation has read it, so after the backward only the parameters'
// gradients are live beside the forward's tensors. Before, every activation's
// gradient lived until the pass was disposed, which doubled a training step's
// peak memory on the GPU (bench/gpu/README.md, eighth session). Real engine,
// CPU backend, its own byte count.
import { describe, expect, it } from 'vitest'
import { preset } from '../../../electron/api/presets'
import { resizeModel } from '../../../electron/api/resize'
import { Ctx } from '../../../electron/engine/autograd/context'
import { Model } from '../../../electron/engine/model/model'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { createTask } from '../../../electron/engine/tasks'
import { disposeBatch, toDevice } from '../../../electron/engine/train/device-batch'

const cpu = nativeBackend('cpu')

describe('backward memory', () => {
  for (const [id, precision] of [
    ['hybrid-gla', 'f32'],
    ['gated-deltanet', 'f32'],
    ['transformer', 'f64'],
  ] as const) {
    it(`${id} (${precision}): after the backward only the parameters' gradients are new, and its peak stays below twice the activations`, () => {
      const spec = resizeModel(preset(id), { d_model: 32, vocab_size: 64, heads: 2, n_layers: 4 })
      const model = new Model(spec, cpu, precision, 0)
      const batch = toDevice(cpu, createTask({ kind: 'mqar', seq_len: 64, num_kv_pairs: 4, power_a: 0.01, vocab_size: 64 }, 0).trainBatch(0, 4))
      const ctx = new Ctx(cpu, precision, true)
      try {
        const before = cpu.memory().bytesInUse
        model.loss(ctx, batch)
        const afterForward = cpu.memory().bytesInUse
        const activations = afterForward - before
        let peak = 0
        ctx.backward([], () => (peak = Math.max(peak, cpu.memory().bytesInUse)))
        const width = precision === 'f64' ? 8 : 4
        const paramGrads = ctx.gradsByName(model.params.trainable())
        let gradBytes = 0
        for (const g of paramGrads.values()) gradBytes += g.size * width
        expect(paramGrads.size).toBe(model.params.trainable().length)
        // Every gradient still live is a parameter's: the activations' are freed.
        expect(cpu.memory().bytesInUse - afterForward).toBe(gradBytes)
        // Before the fix the backward ended holding a gradient per activation as well.
        expect(peak - before).toBeLessThan(activations + gradBytes + activations / 2)
      } finally {
        ctx.dispose()
        disposeBatch(batch)
        model.dispose()
      }
    })
  }
})
