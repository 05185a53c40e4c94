// The real addon, no mocks: tensors in and out, the mixer op against a JS
// reference, and the errors a caller sees for bad input.
import { describe, expect, it } from 'vitest'
import { loadAddon } from '../../../electron/engine/addon'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { mixerFwd } from '../../../electron/engine/ops/generated'
import { Rng } from '../../../electron/engine/random'

const addon = loadAddon()

/** o_t = scale * sum_{s<=t} (q_t . k_s) v_s + scale * S0^T q_t, one head, in float64. */
function quadratic(q: Float64Array, k: Float64Array, v: Float64Array, s0: Float64Array | null, T: number, H: number, K: number, V: number) {
  const o = new Float64Array(T * H * V)
  const scale = 1 / Math.sqrt(K)
  for (let h = 0; h < H; h++)
    for (let t = 0; t < T; t++) {
      for (let s = 0; s <= t; s++) {
        let dot = 0
        for (let a = 0; a < K; a++) dot += q[(t * H + h) * K + a]! * k[(s * H + h) * K + a]!
        for (let c = 0; c < V; c++) o[(t * H + h) * V + c]! += scale * dot * v[(s * H + h) * V + c]!
      }
      if (s0) for (let a = 0; a < K; a++) for (let c = 0; c < V; c++) o[(t * H + h) * V + c]! += scale * q[(t * H + h) * K + a]! * s0[(h * K + a) * V + c]!
    }
  return o
}

describe('native addon', () => {
  it('reports the CPU backend, its device and the op table', () => {
    const info = addon.info()
    expect(info.backendsCompiled).toContain('cpu')
    expect(info.devices[0]).toMatchObject({ backend: 'cpu', id: 'cpu' })
    expect(info.devices[0]!.memoryBytes).toBeGreaterThan(0)
    expect(info.blas.length).toBeGreaterThan(0)
    const mixer = addon.opTable().find((op) => op.name === 'mixer_fwd')!
    expect(mixer.inputs.map((i) => i.name)).toEqual(['q', 'k', 'v', 'g', 'i', 'beta', 's0', 'z0', 'm0'])
    expect(mixer.kernels.cpu).toEqual(['f32', 'f64'])
  })

  it('copies tensors in and out exactly, into V8-owned arrays', () => {
    const data = new Float64Array([1, -2, 3.5, 1e-300, -0, 7])
    const t = new addon.Tensor('cpu', 'f64', [2, 3], data)
    expect(t.shape).toEqual([2, 3])
    expect(t.dtype).toBe('f64')
    expect(t.bytes).toBe(48)
    const back = t.read()
    expect(back).toBeInstanceOf(Float64Array)
    expect(Array.from(back)).toEqual(Array.from(data))
    back[0] = 99 // a copy: the tensor is unchanged
    expect(t.read()[0]).toBe(1)
    t.dispose()
    expect(t.disposed).toBe(true)
    expect(() => t.read()).toThrow(/disposed/)
  })

  it('readSoon copies what the tensor held when it was called, on every backend, even once disposed', async () => {
    for (const id of addon.backends()) {
      const backend = nativeBackend(id)
      const t = backend.upload(new Float32Array([1, 2, 3, 4, 5]), [5])
      const pending = backend.readSoon(t)
      backend.fill(t, 9) // enqueued after the copy
      const later = backend.readSoon(t)
      t.dispose() // the copies hold their own buffers
      expect(Array.from(await pending.read()), id).toEqual([1, 2, 3, 4, 5])
      expect(Array.from(await later.read()), id).toEqual([9, 9, 9, 9, 9])
      expect(Array.from(await later.read()), `${id}: a second read gives the same`).toEqual([9, 9, 9, 9, 9])
    }
  })

  it("times observed ops from the backend's events, filled in when the observer is cleared", () => {
    for (const id of addon.backends()) {
      const backend = nativeBackend(id)
      const x = backend.upload(new Float32Array(1 << 16).fill(1), [256, 256])
      const seen: { op: string; timing: { ms: number; startMs?: number } }[] = []
      backend.observe((op, _inputs, _attrs, _outputs, timing) => seen.push({ op, timing }))
      for (let i = 0; i < 3; i++) backend.run('linear_fwd', { x, w: x }, {}).y!.dispose()
      expect(
        seen.every((s) => Number.isNaN(s.timing.ms)),
        `${id}: before the observer is cleared`,
      ).toBe(true)
      backend.observe(undefined)
      expect(seen.map((s) => s.op)).toEqual(['linear_fwd', 'linear_fwd', 'linear_fwd'])
      for (const [i, s] of seen.entries()) {
        expect(s.timing.ms, id).toBeGreaterThan(0)
        // in stream order: each starts at or after the previous one's start plus its time
        if (i > 0) expect(s.timing.startMs!, id).toBeGreaterThanOrEqual(seen[i - 1]!.timing.startMs! + seen[i - 1]!.timing.ms - 1e-6)
      }
      x.dispose()
    }
  })

  it('runs mixer_fwd and matches the quadratic form (f64, with initial state)', async () => {
    const cpu = nativeBackend('cpu')
    const [T, H, K, V] = [37, 3, 6, 5]
    const rng = new Rng(7)
    const q = rng.fillNormal(new Float64Array(T * H * K))
    const k = rng.fillNormal(new Float64Array(T * H * K))
    const v = rng.fillNormal(new Float64Array(T * H * V))
    const s0 = rng.fillNormal(new Float64Array(H * K * V))
    const out = mixerFwd(
      cpu,
      { q: cpu.upload(q, [1, T, H, K]), k: cpu.upload(k, [1, T, H, K]), v: cpu.upload(v, [1, T, H, V]), s0: cpu.upload(s0, [1, H, K, V]) },
      { form: 'recurrent' },
      ['s_final'],
    )
    expect(out.o.shape).toEqual([1, T, H, V])
    expect(out.s_final!.shape).toEqual([1, H, K, V])
    const o = await out.o.read()
    const ref = quadratic(q, k, v, s0, T, H, K, V)
    let err = 0
    let norm = 0
    for (let i = 0; i < ref.length; i++) {
      err += (o[i]! - ref[i]!) ** 2
      norm += ref[i]! ** 2
    }
    expect(Math.sqrt(err / norm)).toBeLessThan(1e-12)
  })

  it('names the tensor, its shape and the expected one for a bad call', () => {
    const cpu = nativeBackend('cpu')
    const q = cpu.zeros([2, 8, 4, 16], 'f32')
    const v = cpu.zeros([2, 9, 4, 16], 'f32')
    expect(() => mixerFwd(cpu, { q, k: q, v })).toThrow('mixer_fwd: v has shape [2, 9, 4, 16], expected [B=2, T=8, H=4, V] (T is 8 from q, got 9)')
    expect(() => cpu.run('mixer_fwd', { q, k: q, v: q }, { form: 'parallel' })).toThrow("attribute form = 'parallel' is not valid; valid: recurrent, chunked")
    expect(() => new addon.Tensor('cpu', 'f8' as never, [2])).toThrow("dtype 'f8' is not supported; valid: f32, f64, i32, bf16, f16")
    expect(() => new addon.Tensor('gpu9', 'f32', [2])).toThrow("backend 'gpu9' is not available; available: cpu")
    expect(() => new addon.Tensor('cpu', 'f32', [2, 2], new Float32Array(3))).toThrow('tensor data has 3 elements, shape [2, 2] needs 4')
    expect(() => new addon.Tensor('cpu', 'f32', [2], new Float64Array(2))).toThrow('takes a Float32Array')
  })

  it('refuses shapes whose element count overflows, before allocating or running a kernel', () => {
    const before = addon.memory('cpu').bytesInUse
    // 2^32 · 2^32 wraps to 0 elements in int64: an empty buffer that kernels then wrote past.
    expect(() => new addon.Tensor('cpu', 'f32', [2 ** 32, 2 ** 32])).toThrow('tensor shape [4294967296, 4294967296] has more than 2^60 elements')
    // Not representable as int64 at all: converting it was undefined behaviour.
    expect(() => new addon.Tensor('cpu', 'f32', [2 ** 64])).toThrow('must be a non-negative integer up to 2^53 - 1')
    expect(() => new addon.Tensor('cpu', 'f32', [2, 1.5])).toThrow('tensor shape dim 1 must be a non-negative integer')
    const t = new addon.Tensor('cpu', 'f32', [4])
    expect(() => t.view([2 ** 31, 2 ** 31, 2 ** 31])).toThrow('has more than 2^60 elements')
    t.dispose()
    expect(addon.memory('cpu').bytesInUse).toBe(before)
  })

  it('writes every output element (poisoned outputs come back finite)', async () => {
    const cpu = nativeBackend('cpu')
    addon.setPoisonOutputs(true)
    try {
      const rng = new Rng(3)
      const q = cpu.upload(rng.fillNormal(new Float32Array(2 * 5 * 3 * 7)), [2, 5, 3, 7])
      const v = cpu.upload(rng.fillNormal(new Float32Array(2 * 5 * 3 * 2)), [2, 5, 3, 2])
      const out = mixerFwd(cpu, { q, k: q, v }, {}, ['s_final'])
      for (const t of [out.o, out.s_final!]) expect((await t.read()).every(Number.isFinite)).toBe(true)
    } finally {
      addon.setPoisonOutputs(false)
    }
  })

  it('accounts memory as tensors come and go', () => {
    const before = addon.memory('cpu').bytesInUse
    const t = new addon.Tensor('cpu', 'f32', [1000])
    expect(addon.memory('cpu').bytesInUse).toBe(before + 4000)
    t.dispose()
    expect(addon.memory('cpu').bytesInUse).toBe(before)
  })
})
