// Resizing a preset keeps its switches; explicit per-head value dims follow
// the width (the mixer's width relative to the model stays), key dims (the
// state's key size) stay.
import { describe, expect, it } from 'vitest'
import { resizeModel } from '../../../electron/api/resize'
import { preset } from '../../../electron/api/presets'

describe('resizeModel', () => {
  it("scales explicit value dims with the width: Mamba2's mixer stays twice the model's width", () => {
    const base = preset('mamba2') // d_model 128, 4 heads, dk 32, dv 64
    const small = resizeModel(base, { d_model: 64 })
    for (const l of small.layers) expect(l).toMatchObject({ kind: 'linear', heads: 4, dk: 32, dv: 32 })
    const wide = resizeModel(base, { d_model: 512 })
    for (const l of wide.layers) expect(l).toMatchObject({ dk: 32, dv: 256 })
    // value width heads · dv = 2 · d_model at every size
    for (const [spec, d] of [
      [small, 64],
      [wide, 512],
    ] as const)
      expect(spec.layers.every((l) => l.kind === 'linear' && l.heads * l.dv! === 2 * d)).toBe(true)
  })

  it("keeps explicit key dims: the state's key size (Mamba2's d_state, Based's feature dim)", () => {
    const based = preset('based')
    const before = based.layers.find((l) => l.kind === 'linear')!
    const linear = resizeModel(based, { d_model: 64 }).layers.find((l) => l.kind === 'linear')!
    expect(linear.kind === 'linear' && before.kind === 'linear' && linear.dk === before.dk && linear.dv === before.dv! / 2).toBe(true)
  })

  it('leaves derived dims derived, and the same width unchanged', () => {
    const gla = resizeModel(preset('gla'), { d_model: 64 })
    expect(gla.layers.every((l) => l.kind === 'linear' && l.dk === undefined && l.dv === undefined)).toBe(true)
    expect(resizeModel(preset('mamba2'), { n_layers: 3 }).layers.every((l) => l.kind === 'linear' && l.dk === 32 && l.dv === 64)).toBe(true)
  })

  it("scales a softmax layer's explicit head dim", () => {
    const spec = preset('transformer')
    spec.layers = spec.layers.map((l) => (l.kind === 'softmax' ? { ...l, head_dim: 64 } : l))
    expect(resizeModel(spec, { d_model: 64 }).layers.every((l) => l.kind === 'softmax' && l.head_dim === 32)).toBe(true)
  })
})
