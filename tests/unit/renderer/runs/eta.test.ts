import { describe, expect, it } from 'vitest'
import { etaSeconds, formatDuration } from '../../../../renderer/src/runs/eta'

const steady = (n: number, secondsPerStep: number) => Array.from({ length: n }, (_, i) => ({ step: i + 1, elapsedSeconds: (i + 1) * secondsPerStep }))

describe('ETA', () => {
  it('is the steps left at the recent rate', () => {
    expect(etaSeconds(steady(10, 0.5), 100)).toBeCloseTo(45)
  })

  it('uses only the recent window, so a slow start does not count', () => {
    const pts = [...steady(100, 1), ...Array.from({ length: 60 }, (_, i) => ({ step: 101 + i, elapsedSeconds: 100 + (i + 1) * 0.1 }))]
    expect(etaSeconds(pts, 260)).toBeCloseTo(10, 5)
  })

  it('counts only the tail since a resume restarted the clock', () => {
    const before = steady(20, 1) // steps 1..20 at 1 s each
    const after = Array.from({ length: 5 }, (_, i) => ({ step: 21 + i, elapsedSeconds: (i + 1) * 2 })) // 2 s each after resume
    expect(etaSeconds([...before, ...after], 35)).toBeCloseTo(20)
  })

  it('has no estimate without a rate, and 0 when done', () => {
    expect(etaSeconds([], 10)).toBeNull()
    expect(etaSeconds([{ step: 1, elapsedSeconds: 1 }], 10)).toBeNull()
    expect(etaSeconds(steady(10, 1), 10)).toBe(0)
  })

  it('formats durations', () => {
    expect(formatDuration(42.4)).toBe('42 s')
    expect(formatDuration(135)).toBe('2 min 15 s')
    expect(formatDuration(62)).toBe('1 min 02 s')
    expect(formatDuration(7380)).toBe('2 h 03 min')
    expect(formatDuration(Number.NaN)).toBe('—')
  })
})
