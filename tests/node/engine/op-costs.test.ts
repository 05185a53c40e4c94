// The profiler's counted work (electron/engine/profile/op-costs.ts): one
// cost per op of the table, a refusal for a name it does not know, absent
// attributes counted at the table's defaults, and a cost for every op a
// training step runs.
import { describe, expect, it } from 'vitest'
import { resizeModel } from '../../../electron/api/resize'
import { loadAddon } from '../../../electron/engine/addon'
import { Ctx } from '../../../electron/engine/autograd/context'
import { Model } from '../../../electron/engine/model/model'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { opDefaults } from '../../../electron/engine/ops/generated'
import { preset } from '../../../electron/api/presets'
import { costedOps, opCost, UnknownOpCostError } from '../../../electron/engine/profile/op-costs'
import { disposeBatch, toDevice } from '../../../electron/engine/train/device-batch'

const cpu = nativeBackend('cpu')

describe('op costs', () => {
  it('every op of the table has a cost, and nothing else does', () => {
    expect([...costedOps].sort()).toEqual(
      loadAddon()
        .opTable()
        .map((op) => op.name)
        .sort(),
    )
  })

  it('an op without a cost is an error naming the ops that have one', () => {
    expect(() => opCost('no_such_op', {}, {}, {})).toThrow(UnknownOpCostError)
    expect(() => opCost('no_such_op', {}, {}, {})).toThrow(/no cost for op 'no_such_op'; ops with costs: mixer_fwd, mixer_bwd, /)
    expect(() => opCost('toString', {}, {}, {})).toThrow(UnknownOpCostError)
  })

  it('counts an absent attribute at the table default', () => {
    const q = cpu.zeros([1, 256, 2, 16], 'f32')
    const v = cpu.zeros([1, 256, 2, 16], 'f32')
    const o = cpu.zeros([1, 256, 2, 16], 'f32')
    const inputs = { q, k: q, v }
    const implicit = opCost('mixer_fwd', inputs, {}, { o })
    expect(opCost('mixer_fwd', inputs, { ...opDefaults.mixer_fwd }, { o })).toEqual(implicit)
    expect(opCost('mixer_fwd', inputs, { chunk_size: undefined }, { o })).toEqual(implicit)
    expect(opCost('mixer_fwd', inputs, { chunk_size: 32 }, { o }).flops).not.toBe(implicit.flops)
    expect(opCost('mixer_fwd', inputs, { form: 'recurrent' }, { o }).flops).not.toBe(implicit.flops)
    for (const t of [q, v, o]) t.dispose()
  })

  it('in-place ops count the inputs they write', () => {
    const dst = cpu.zeros([10], 'f64')
    const src = cpu.zeros([10], 'f64')
    expect(opCost('accumulate', { dst, src }, {}, {})).toEqual({ flops: 10, bytes: 3 * 80 })
    dst.dispose()
    src.dispose()
  })

  it('counts each dtype at its own width: bf16 two bytes, i32 and f32 four', () => {
    // The CUDA profiler's bandwidth per op divides these bytes by the op's time: bf16 tensors
    // counted at four bytes doubled every mixed-precision op's GB/s.
    const shapes = { f64: 8, f32: 4, i32: 4, bf16: 2 } as const
    for (const [dtype, width] of Object.entries(shapes) as [keyof typeof shapes, number][]) {
      const dst = cpu.zeros([10], dtype)
      const src = cpu.zeros([10], dtype)
      expect(opCost('accumulate', { dst, src }, {}, {}).bytes, dtype).toBe(3 * 10 * width)
      dst.dispose()
      src.dispose()
    }
  })

  it('every op of a training step of a hybrid model has a count', () => {
    const spec = resizeModel(preset('hybrid-gated-deltanet'), { d_model: 16, vocab_size: 24, heads: 2 })
    const model = new Model(spec, cpu, 'f32', 1)
    const inputs = Int32Array.from({ length: 2 * 9 }, (_, n) => n % 24)
    const batch = toDevice(cpu, { batchSize: 2, seqLen: 9, inputs, labels: inputs, tags: {} })
    const seen = new Map<string, { flops: number; bytes: number }>()
    cpu.observe((op, ins, attrs, outs) => seen.set(op, opCost(op, ins, attrs, outs)))
    const ctx = new Ctx(cpu, 'f32', true)
    try {
      model.loss(ctx, batch)
      ctx.backward([])
    } finally {
      cpu.observe(undefined)
      ctx.dispose()
      model.dispose()
      disposeBatch(batch)
    }
    expect([...seen.keys()]).toEqual(expect.arrayContaining(['mixer_fwd', 'mixer_bwd', 'softmax_attn_fwd', 'softmax_attn_bwd', 'cross_entropy_bwd']))
    for (const [op, cost] of seen) {
      expect(cost.bytes, op).toBeGreaterThan(0)
      expect(Number.isFinite(cost.flops) && cost.flops >= 0, op).toBe(true)
    }
  })
})
