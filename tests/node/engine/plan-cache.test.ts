// The WebGPU backend's cache of the addon's plans (electron/engine/webgpu/plan_cache.ts): a
// repeated call is planned once and gets exactly what planOp returns; any change planOp reads
// (a shape, a dtype, an attribute, the outputs asked for) is planned anew; refused calls throw
// every time; cached plans cannot be changed by a kernel.
import { describe, expect, it } from 'vitest'
import { loadAddon, type AttrValue, type NativeTensorDesc } from '../../../electron/engine/addon'
import { PlanCache, planKey, usePlanCache } from '../../../electron/engine/webgpu/plan_cache'

const addon = loadAddon()

/** A cache over the real planOp, counting its calls. */
function counted(limit?: number): { cache: PlanCache; calls: () => number } {
  let n = 0
  const cache = new PlanCache((op, inputs, attrs, outputs) => {
    n += 1
    return addon.planOp(op, inputs, attrs, outputs)
  }, limit)
  return { cache, calls: () => n }
}

const desc = (shape: number[]): NativeTensorDesc => ({ shape, dtype: 'f32' })
const mixer = (T: number) => ({ q: desc([2, T, 4, 16]), k: desc([2, T, 4, 16]), v: desc([2, T, 4, 8]) })

describe('PlanCache', () => {
  it('plans a repeated call once, and gives what planOp gives', () => {
    const { cache, calls } = counted()
    const attrs: Record<string, AttrValue> = { form: 'chunked', chunk_size: 16 }
    const first = cache.get('mixer_fwd', mixer(40), attrs)
    for (let i = 0; i < 5; i++) expect(cache.get('mixer_fwd', mixer(40), { ...attrs })).toBe(first)
    expect(calls()).toBe(1)
    expect(first).toEqual(addon.planOp('mixer_fwd', mixer(40), attrs))
  })

  it('plans anew when a shape, a dtype, an attribute or the outputs asked for differ', () => {
    const { cache, calls } = counted()
    const base = cache.get('mixer_fwd', mixer(40), {})
    const longer = cache.get('mixer_fwd', mixer(41), {})
    expect(longer.outputs[0]!.shape).toEqual([2, 41, 4, 8])
    const f64 = (shape: number[]): NativeTensorDesc => ({ shape, dtype: 'f64' })
    const inF64 = cache.get('mixer_fwd', { q: f64([2, 40, 4, 16]), k: f64([2, 40, 4, 16]), v: f64([2, 40, 4, 8]) }, {})
    expect(inF64.dtype).toBe('f64')
    const scaled = cache.get('mixer_fwd', mixer(40), { scale: 0.5 })
    expect(scaled.attrs.scale).toBe(0.5)
    expect(base.attrs.scale).not.toBe(0.5)
    cache.get('mixer_fwd', mixer(40), {}, ['o'])
    expect(calls()).toBe(5)
    // An attribute left undefined is the attribute not given.
    expect(cache.get('mixer_fwd', mixer(40), { scale: undefined })).toBe(base)
    expect(calls()).toBe(5)
  })

  it('keys the same call alike and different calls apart', () => {
    expect(planKey('linear_fwd', { x: desc([4, 8]) }, { a: 1 }, [])).toBe(planKey('linear_fwd', { x: desc([4, 8]) }, { a: 1 }, []))
    const keys = [
      planKey('linear_fwd', { x: desc([4, 8]) }, {}, []),
      planKey('linear_fwd', { x: desc([48]) }, {}, []),
      planKey('linear_fwd', { x: desc([4, 8]), w: undefined }, {}, []),
      planKey('linear_fwd', { x: desc([4, 8]) }, { a: '1' }, []),
      planKey('linear_fwd', { x: desc([4, 8]) }, { a: 1 }, []),
      planKey('linear_fwd', { x: desc([4, 8]) }, { a: true }, []),
      planKey('linear_fwd', { x: desc([4, 8]) }, {}, ['y']),
      planKey('linear_bwd', { x: desc([4, 8]) }, {}, []),
    ]
    expect(new Set(keys).size).toBe(keys.length)
  })

  it('throws the op table’s error for a refused call every time, and keeps nothing for it', () => {
    const { cache, calls } = counted()
    const bad = { ...mixer(8), v: desc([2, 9, 4, 8]) }
    const message = 'mixer_fwd: v has shape [2, 9, 4, 8], expected [B=2, T=8, H=4, V] (T is 8 from q, got 9)'
    expect(() => cache.get('mixer_fwd', bad, {})).toThrow(message)
    expect(() => cache.get('mixer_fwd', bad, {})).toThrow(message)
    expect(calls()).toBe(2)
    expect(cache.size).toBe(0)
  })

  it('hands out frozen plans, so a kernel cannot change what the next call gets', () => {
    const { cache } = counted()
    const plan = cache.get('mixer_fwd', mixer(40), {})
    expect(() => {
      ;(plan.outputs[0]!.shape as number[])[0] = 7
    }).toThrow(TypeError)
    expect(() => {
      ;(plan.dims as Record<string, number>).T = 1
    }).toThrow(TypeError)
    expect(cache.get('mixer_fwd', mixer(40), {}).outputs[0]!.shape).toEqual([2, 40, 4, 8])
  })

  it('plans every call while switched off (the benchmark’s control)', () => {
    const { cache, calls } = counted()
    const was = usePlanCache(false)
    try {
      cache.get('mixer_fwd', mixer(40), {})
      cache.get('mixer_fwd', mixer(40), {})
      expect(calls()).toBe(2)
      expect(cache.size).toBe(0)
    } finally {
      usePlanCache(was)
    }
  })

  it('starts over past its limit', () => {
    const { cache, calls } = counted(3)
    for (const T of [1, 2, 3, 4]) cache.get('mixer_fwd', mixer(T), {})
    expect(cache.size).toBe(1)
    cache.get('mixer_fwd', mixer(1), {})
    expect(calls()).toBe(5)
  })
})
