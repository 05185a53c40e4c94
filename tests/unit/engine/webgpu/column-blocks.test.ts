// How the recurrent mixer splits a head's value columns over workgroups
// (kernels/mixer_recurrent.ts columnBlocks): enough workgroups for a large GPU
// at small batch, no more than ⌈V/16⌉ blocks a head, and one block where an input
// gate or a denominator gives every column shared per-head scalars.
import { describe, expect, it } from 'vitest'
import { columnBlocks, type MixerSwitches } from '../../../../electron/engine/webgpu/kernels/mixer_recurrent'

const delta: MixerSwitches = { gate: 'scalar', inputGate: 'none', delta: true, normalize: 'none' }

describe('columnBlocks', () => {
  it('splits the columns of few heads into at most ⌈V/16⌉ blocks, about 512 workgroups in all', () => {
    // the H200 run: batch 16 x 2 heads, dv 128
    expect(columnBlocks(delta, 32, 128)).toEqual({ VB: 16, NVB: 8 })
    // many heads: fewer blocks each
    expect(columnBlocks(delta, 256, 128)).toEqual({ VB: 64, NVB: 2 })
    expect(columnBlocks(delta, 1024, 128)).toEqual({ VB: 128, NVB: 1 })
    for (const [heads, V] of [
      [1, 37],
      [3, 256],
      [7, 33],
      [64, 100],
    ] as const) {
      const { VB, NVB } = columnBlocks(delta, heads, V)
      expect(VB * NVB).toBeGreaterThanOrEqual(V)
      expect(VB * (NVB - 1)).toBeLessThan(V) // no empty block
      expect(NVB).toBeLessThanOrEqual(Math.ceil(V / 16)) // blocks of about 16 columns or more
    }
  })

  it('keeps one block per head with an input gate or a denominator', () => {
    for (const s of [
      { ...delta, inputGate: 'exp' as const, delta: false, normalize: 'max1' as const },
      { ...delta, inputGate: 'sigmoid' as const },
      { ...delta, delta: false, normalize: 'sum' as const },
    ])
      expect(columnBlocks(s, 1, 256)).toEqual({ VB: 256, NVB: 1 })
  })
})
