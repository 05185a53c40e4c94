// The bf16 control backend: every float tensor an op takes or gives is
// rounded to bf16, statistics and in-place ops are not.
import { describe, expect, it } from 'vitest'
import { Bf16RoundingBackend } from '../../../electron/engine/bf16-rounding'
import { nativeBackend } from '../../../electron/engine/native-backend'

/** Round to bf16 (nearest even) in JS, as the reference. */
function bf16(x: number): number {
  const f = new Float32Array([x])
  const u = new Uint32Array(f.buffer)
  u[0] = ((u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) >>> 16) << 16
  return f[0]!
}

describe('Bf16RoundingBackend', () => {
  const backend = new Bf16RoundingBackend(nativeBackend('cpu'))
  const values = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.37) * (1 + i / 7))

  it('rounds the inputs and outputs of an op to bf16', async () => {
    const a = backend.upload(values, [8, 8])
    const b = backend.upload(
      values.map((v) => v / 3),
      [8, 8],
    )
    const y = backend.run('binary_fwd', { a, b }, { kind: 'add' })['y']!
    const got = await y.read()
    // The sum of the rounded inputs, rounded: not the rounded sum of the exact inputs.
    const want = Array.from(values, (v) => bf16(bf16(v) + bf16(Math.fround(v / 3))))
    expect(Array.from(got)).toEqual(want)
    for (const t of [a, b, y]) t.dispose()
  })

  it('leaves statistics outputs (lse, nll) in f32 and in-place ops alone', async () => {
    const logits = backend.upload(values, [4, 16])
    const labels = backend.upload(new Int32Array([1, 5, -1, 15]), [4])
    const out = backend.run('cross_entropy_fwd', { logits, labels })
    const plain = nativeBackend('cpu').run('cross_entropy_fwd', {
      logits: backend.run('cast', { x: backend.run('cast', { x: logits }, { to: 'bf16' })['y']! }, { to: 'f32' })['y']!,
      labels,
    })
    expect(Array.from(await out['lse']!.read())).toEqual(Array.from(await plain['lse']!.read()))
    expect((await out['lse']!.read()).some((v) => v !== bf16(v))).toBe(true)
    const dst = backend.upload(values, [64])
    backend.run('accumulate', { dst, src: backend.upload(new Float32Array(64).fill(1e-3), [64]) }, { alpha: 1 })
    expect(Array.from(await dst.read())).toEqual(Array.from(values, (v) => Math.fround(v + Math.fround(1e-3))))
  })
})
