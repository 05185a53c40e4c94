// How the recurrent mixer splits a head's value columns over workgroups
// (kernels/mixer_recurrent.ts columnBlocks): enough workgroups for a large GPU
// at small batch, no more than ⌈V/16⌉ blocks a head, whatever the switches (an input
// gate's and a denominator's per-head scalars are kept by each block: the op tests
// in tests/node/engine/webgpu-ops.test.ts check those against the CPU).
import { describe, expect, it } from 'vitest'
import { columnBlocks } from '../../../../electron/engine/webgpu/kernels/mixer_recurrent'

describe('columnBlocks', () => {
  it('splits the columns of few heads into at most ⌈V/16⌉ blocks, about 512 workgroups in all', () => {
    // the H200 run: batch 16 x 2 heads, dv 128
    expect(columnBlocks(32, 128)).toEqual({ VB: 16, NVB: 8 })
    // many heads: fewer blocks each
    expect(columnBlocks(256, 128)).toEqual({ VB: 64, NVB: 2 })
    expect(columnBlocks(1024, 128)).toEqual({ VB: 128, NVB: 1 })
    for (const [heads, V] of [
      [1, 37],
      [3, 256],
      [7, 33],
      [64, 100],
    ] as const) {
      const { VB, NVB } = columnBlocks(heads, V)
      expect(VB * NVB).toBeGreaterThanOrEqual(V)
      expect(VB * (NVB - 1)).toBeLessThan(V) // no empty block
      expect(NVB).toBeLessThanOrEqual(Math.ceil(V / 16)) // blocks of about 16 columns or more
    }
  })
})
