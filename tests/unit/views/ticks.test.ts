// Log-axis tick labels: binary bytes, durations from ns to s, SI rates.
import { describe, expect, it } from 'vitest'
import { formatBytesTick, formatMsTick, formatSiTick, trimNumber } from '../../../electron/views/ticks'

describe('axis ticks', () => {
  it('writes bytes on a binary scale without needless decimals', () => {
    expect([1, 512, 1024, 1536, 2 ** 19, 2 ** 20, 3 * 2 ** 30, 2 ** 40].map(formatBytesTick)).toEqual([
      '1 B',
      '512 B',
      '1 KiB',
      '1.5 KiB',
      '512 KiB',
      '1 MiB',
      '3 GiB',
      '1 TiB',
    ])
  })

  it('writes durations given in ms in the unit that reads best', () => {
    expect([1e-6, 1e-3, 0.1, 0.25, 1, 10, 100, 1000, 2500, 60_000, 0].map(formatMsTick)).toEqual([
      '1 ns',
      '1 µs',
      '100 µs',
      '250 µs',
      '1 ms',
      '10 ms',
      '100 ms',
      '1 s',
      '2.5 s',
      '60 s',
      '0 ms',
    ])
  })

  it('writes rates with SI prefixes, and plain small numbers', () => {
    expect(formatSiTick(1e9, 'FLOP/s')).toBe('1 GFLOP/s')
    expect(formatSiTick(2.5e10, 'FLOP/s')).toBe('25 GFLOP/s')
    expect(formatSiTick(1e12, 'FLOP/s')).toBe('1 TFLOP/s')
    expect(formatSiTick(1e8, 'FLOP/s')).toBe('100 MFLOP/s')
    expect(formatSiTick(0.01)).toBe('0.01')
    expect(formatSiTick(100)).toBe('100')
    expect(formatSiTick(5, 'B')).toBe('5 B')
    expect(trimNumber(1 / 3)).toBe('0.333')
    expect(trimNumber(NaN)).toBe('–')
  })
})
