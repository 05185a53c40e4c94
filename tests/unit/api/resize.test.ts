// Resizing a preset keeps its switches; explicit per-head dims follow the width.
import { describe, expect, it } from 'vitest'
import { resizeModel } from '../../../electron/api/resize'
import { preset } from '../../../electron/engine/presets'

describe('resizeModel', () => {
  it("scales explicit head dims with the width: Mamba2's mixer stays twice the model's width", () => {
    const base = preset('mamba2') // d_model 128, 4 heads, dk 32, dv 64
    const small = resizeModel(base, { d_model: 64 })
    for (const l of small.layers) expect(l).toMatchObject({ kind: 'linear', heads: 4, dk: 16, dv: 32 })
    const wide = resizeModel(base, { d_model: 512 })
    for (const l of wide.layers) expect(l).toMatchObject({ dk: 128, dv: 256 })
    // value width heads · dv = 2 · d_model at every size
    expect(small.layers.every((l) => l.kind === 'linear' && l.heads * l.dv! === 2 * 64)).toBe(true)
  })

  it('leaves derived dims derived, and the same width unchanged', () => {
    const gla = resizeModel(preset('gla'), { d_model: 64 })
    expect(gla.layers.every((l) => l.kind === 'linear' && l.dk === undefined && l.dv === undefined)).toBe(true)
    expect(resizeModel(preset('mamba2'), { n_layers: 3 }).layers.every((l) => l.kind === 'linear' && l.dk === 32 && l.dv === 64)).toBe(true)
  })

  it("keeps a taylor2 layer's feature dim (Based's state grows as dk²) and scales its dv", () => {
    const based = preset('based')
    const small = resizeModel(based, { d_model: 64 })
    const linear = small.layers.find((l) => l.kind === 'linear')!
    const before = based.layers.find((l) => l.kind === 'linear')!
    expect(linear.kind === 'linear' && before.kind === 'linear' && linear.dk === before.dk && linear.dv === before.dv! / 2).toBe(true)
  })
})
