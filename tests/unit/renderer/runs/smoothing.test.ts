import { describe, expect, it } from 'vitest'
import { emaSmooth } from '../../../../renderer/src/runs/smoothing'

describe('EMA smoothing', () => {
  it('leaves values unchanged at weight 0 and debiases the start', () => {
    expect(emaSmooth([3, 1, 2], 0)).toEqual([3, 1, 2])
    // debiased: the first smoothed value is the first value, not (1 − w)·y
    const s = emaSmooth([4, 4, 4, 4], 0.9)
    for (const v of s) expect(v).toBeCloseTo(4, 12)
  })

  it('follows the recurrence m = w m + (1 − w) y, divided by 1 − w^t', () => {
    const w = 0.5
    const s = emaSmooth([2, 0, 4], w)
    expect(s[0]).toBeCloseTo(2)
    expect(s[1]).toBeCloseTo((0.5 * 1 + 0) / (1 - 0.25)) // m1 = 1, m2 = 0.5
    expect(s[2]).toBeCloseTo((0.5 * 0.5 + 0.5 * 4) / (1 - 0.125))
  })

  it('smooths a noisy curve: less variation than the raw values', () => {
    const raw = Array.from({ length: 200 }, (_, i) => 5 - i / 50 + (i % 2 ? 0.5 : -0.5))
    const s = emaSmooth(raw, 0.8)
    const tv = (xs: number[]) => xs.slice(1).reduce((a, x, i) => a + Math.abs(x - xs[i]!), 0)
    expect(tv(s)).toBeLessThan(tv(raw) / 4)
  })

  it('passes non-finite values through without poisoning later ones', () => {
    const s = emaSmooth([1, Number.NaN, 1, Number.POSITIVE_INFINITY, 1], 0.7)
    expect(s[1]).toBeNaN()
    expect(s[3]).toBe(Number.POSITIVE_INFINITY)
    expect(s[4]).toBeCloseTo(1)
  })

  it('refuses weights outside [0, 1)', () => {
    expect(() => emaSmooth([1], 1)).toThrow('smoothing weight 1 is not valid; valid: 0 <= weight < 1')
    expect(() => emaSmooth([1], -0.1)).toThrow(RangeError)
  })
})
