// The host's f16 conversions (electron/engine/f16.ts) against the addon's
// (native/src/core/tensor.cpp, through the CPU's cast): the same pattern for
// every value, ties and the edges included, so that f16 data read from or
// written to WebGPU means what the CPU oracle computes with.
import { describe, expect, it } from 'vitest'
import { f16FromFloat, f16ToFloat, packF16, unpackF16 } from '../../../electron/engine/f16'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { Rng } from '../../../electron/engine/random'
import { F16_EDGES } from '../../fixtures/f16-edges'

const cpu = nativeBackend('cpu')

/** The CPU's f32 -> f16 -> f32 round trip of each value. */
async function viaAddon(values: number[]): Promise<Float32Array> {
  const x = cpu.upload(Float32Array.from(values), [values.length])
  const h = cpu.run('cast', { x }, { to: 'f16' }).y!
  expect(h.dtype).toBe('f16')
  const back = cpu.run('cast', { x: h }, { to: 'f32' }).y!
  const out = (await back.read()) as Float32Array
  for (const t of [x, h, back]) t.dispose()
  return out
}

describe('f16 on the host', () => {
  const edges = F16_EDGES

  it('rounds as the addon does: random values over many scales and the edges', async () => {
    const rng = new Rng(3)
    const values = [...edges, ...Array.from({ length: 4000 }, (_, i) => rng.normal() * 10 ** ((i % 14) - 9))].map(Math.fround)
    const native = await viaAddon(values)
    values.forEach((v, i) =>
      expect(Object.is(f16ToFloat(f16FromFloat(v)), native[i]), `${v}: host ${f16ToFloat(f16FromFloat(v))}, addon ${native[i]}`).toBe(true),
    )
  })

  it('keeps NaN, goes to infinity past 65504, and ties to even', () => {
    expect(Number.isNaN(f16ToFloat(f16FromFloat(Number.NaN)))).toBe(true)
    expect(f16ToFloat(f16FromFloat(65520))).toBe(Infinity)
    expect(f16ToFloat(f16FromFloat(-65520))).toBe(-Infinity)
    expect(f16FromFloat(1 + 2 ** -11)).toBe(0x3c00)
    expect(f16FromFloat(1 + 3 * 2 ** -11)).toBe(0x3c02)
    expect(f16FromFloat(2.5 * 2 ** -24)).toBe(0x0002)
  })

  it('packs two values a word, the low half first, and unpacks an odd count', () => {
    const words = packF16([1, -2, 0.5])
    expect(Array.from(words)).toEqual([(0xc000 << 16) | 0x3c00, 0x3800].map((w) => w >>> 0))
    expect(Array.from(unpackF16(words, 3))).toEqual([1, -2, 0.5])
  })
})
