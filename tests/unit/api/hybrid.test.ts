import { describe, expect, it } from 'vitest'
import { softmaxCount, softmaxPositions } from '../../../electron/api/hybrid'

describe('hybrid placement', () => {
  it('counts softmax layers from the ratio, at least one when the ratio is positive', () => {
    expect(softmaxCount(8, 0)).toBe(0)
    expect(softmaxCount(8, 0.25)).toBe(2)
    expect(softmaxCount(8, 0.01)).toBe(1)
    expect(softmaxCount(8, 1)).toBe(8)
  })

  it('interleaves evenly, each softmax layer closing its group', () => {
    expect(softmaxPositions(8, 0.25, 'interleave')).toEqual([3, 7])
    expect(softmaxPositions(12, 1 / 3, 'interleave')).toEqual([2, 5, 8, 11])
    expect(softmaxPositions(6, 0.5, 'interleave')).toEqual([1, 3, 5])
    expect(softmaxPositions(4, 1, 'interleave')).toEqual([0, 1, 2, 3])
  })

  it('places first and last', () => {
    expect(softmaxPositions(8, 0.25, 'first')).toEqual([0, 1])
    expect(softmaxPositions(8, 0.25, 'last')).toEqual([6, 7])
    expect(softmaxPositions(8, 0, 'last')).toEqual([])
  })
})
