// The addon's planOp and accepts: a call checked without tensors gives the
// outputs the real CPU run allocates, and the same error a bad run throws.
import { describe, expect, it } from 'vitest'
import { loadAddon, type AttrValue, type NativeDType, type NativeTensor, type NativeTensorDesc } from '../../../electron/engine/addon'

const addon = loadAddon()

function tensor(shape: number[], dtype: NativeDType): NativeTensor {
  const n = shape.reduce((a, b) => a * b, 1)
  const data = dtype === 'f32' ? new Float32Array(n) : dtype === 'f64' ? new Float64Array(n) : new Int32Array(n)
  for (let i = 0; i < n; i++) data[i] = dtype === 'i32' ? 0 : Math.sin(i + 1) * 0.5
  return new addon.Tensor('cpu', dtype, shape, data)
}

/** planOp's outputs against the tensors run returns for the same call on the CPU. */
function planAndRun(op: string, inputs: Record<string, NativeTensorDesc>, attrs: Record<string, AttrValue>, outputs?: string[]) {
  const plan = addon.planOp(op, inputs, attrs, outputs)
  const tensors = Object.fromEntries(Object.entries(inputs).map(([name, d]) => [name, tensor(d.shape, d.dtype)]))
  const ran = addon.run('cpu', op, tensors, attrs, outputs)
  expect(plan.outputs.map((o) => o.name).sort()).toEqual(Object.keys(ran).sort())
  for (const o of plan.outputs) {
    expect(o.shape, `${op}.${o.name}`).toEqual(ran[o.name]!.shape)
    expect(o.dtype, `${op}.${o.name}`).toEqual(ran[o.name]!.dtype)
  }
  for (const t of [...Object.values(tensors), ...Object.values(ran)]) t.dispose()
  return plan
}

describe('planOp', () => {
  it('mixer_fwd with a scalar gate: the outputs of the real run, every dim and attribute resolved', () => {
    const [B, T, H, K, V] = [2, 5, 3, 4, 6]
    const plan = planAndRun(
      'mixer_fwd',
      {
        q: { shape: [B, T, H, K], dtype: 'f64' },
        k: { shape: [B, T, H, K], dtype: 'f64' },
        v: { shape: [B, T, H, V], dtype: 'f64' },
        g: { shape: [B, T, H], dtype: 'f64' },
      },
      { gate: 'scalar', form: 'recurrent' },
      ['s_final'],
    )
    expect(plan.op).toBe('mixer_fwd')
    expect(plan.dtype).toBe('f64')
    expect(plan.dims).toEqual({ B, T, H, K, V })
    expect(plan.attrs).toMatchObject({ gate: 'scalar', form: 'recurrent', chunk_size: 64, delta: false, normalize: 'none' })
    expect(plan.outputs).toEqual([
      { name: 'o', shape: [B, T, H, V], dtype: 'f64' },
      { name: 's_final', shape: [B, H, K, V], dtype: 'f64' },
    ])
  })

  it('linear_fwd over any leading dims, with trans_w and a bias', () => {
    const plan = planAndRun(
      'linear_fwd',
      { x: { shape: [2, 3, 4], dtype: 'f32' }, w: { shape: [5, 4], dtype: 'f32' }, bias: { shape: [5], dtype: 'f32' } },
      { trans_w: true },
    )
    expect(plan.outputs).toEqual([{ name: 'y', shape: [2, 3, 5], dtype: 'f32' }])
    expect(plan.dims).toEqual({ K: 4, M: 5 })
  })

  it('softmax_attn_fwd: o and lse', () => {
    const plan = planAndRun(
      'softmax_attn_fwd',
      { q: { shape: [1, 7, 2, 8], dtype: 'f32' }, k: { shape: [1, 7, 2, 8], dtype: 'f32' }, v: { shape: [1, 7, 2, 3], dtype: 'f32' } },
      { window: 3 },
    )
    expect(plan.outputs).toEqual([
      { name: 'o', shape: [1, 7, 2, 3], dtype: 'f32' },
      { name: 'lse', shape: [1, 2, 7], dtype: 'f32' },
    ])
    expect(plan.attrs).toEqual({ scale: 0, window: 3 })
  })

  it('refuses a mis-shaped call with run’s message, naming the dimension', () => {
    const inputs = {
      q: { shape: [2, 8, 4, 16], dtype: 'f32' as const },
      k: { shape: [2, 8, 4, 16], dtype: 'f32' as const },
      v: { shape: [2, 9, 4, 16], dtype: 'f32' as const },
    }
    const message = 'mixer_fwd: v has shape [2, 9, 4, 16], expected [B=2, T=8, H=4, V] (T is 8 from q, got 9)'
    expect(() => addon.planOp('mixer_fwd', inputs, {})).toThrow(message)
    const tensors = { q: tensor(inputs.q.shape, 'f32'), k: tensor(inputs.k.shape, 'f32'), v: tensor(inputs.v.shape, 'f32') }
    expect(() => addon.run('cpu', 'mixer_fwd', tensors, {})).toThrow(message)
    for (const t of Object.values(tensors)) t.dispose()
    expect(() => addon.planOp('mixer_fwd', inputs, {})).toThrow(expect.objectContaining({ code: 'LINEA_OP_ERROR' }))
    expect(() => addon.planOp('mixer_fwd', { q: { shape: [2], dtype: 'f8' as NativeDType } }, {})).toThrow("dtype 'f8' is not supported")
    expect(() => addon.planOp('mixer_fwd', { q: [2, 8] as unknown as NativeTensorDesc }, {})).toThrow(
      'mixer_fwd: input q must be {shape: number[], dtype: string}',
    )
  })
})

describe('accepts', () => {
  it('is null for calls the CPU takes, and planOp’s error for a call the op table refuses', () => {
    const x = { x: { shape: [3, 4], dtype: 'f64' as const }, w: { shape: [4, 2], dtype: 'f64' as const } }
    expect(addon.accepts('cpu', 'linear_fwd', x, {})).toBeNull()
    const q = { shape: [1, 4, 2, 8], dtype: 'f32' as const }
    expect(addon.accepts('cpu', 'mixer_fwd', { q, k: q, v: q, g: q, beta: { shape: [1, 4, 2], dtype: 'f32' } }, { gate: 'vector', delta: true })).toBeNull()
    expect(() => addon.accepts('cpu', 'linear_fwd', { x: x.x }, {})).toThrow('linear_fwd: missing input w')
    expect(() => addon.accepts('tpu', 'linear_fwd', x, {})).toThrow("backend 'tpu' is not available")
  })
})
