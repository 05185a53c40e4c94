// The f16 loss scaler's policy (electron/engine/train/loss-scale.ts): halve on
// each overflowed step, double after a run of clean ones, refuse to go on once
// no scale helps.
import { describe, expect, it } from 'vitest'
import { LossScaler, MIN_SCALE } from '../../../electron/engine/train/loss-scale'

describe('LossScaler', () => {
  it('halves the scale on each step whose scaled norm is not finite, and counts it skipped', () => {
    const s = new LossScaler(1024, 3)
    expect(s.update(Infinity)).toBe(false)
    expect(s.scale).toBe(512)
    expect(s.update(Number.NaN)).toBe(false)
    expect(s.scale).toBe(256)
    expect(s.skipped).toBe(2)
  })

  it('doubles after growthInterval clean steps in a row; an overflow restarts the count', () => {
    const s = new LossScaler(8, 3)
    expect(s.update(1)).toBe(true)
    expect(s.update(1)).toBe(true)
    expect(s.update(Infinity)).toBe(false)
    expect(s.scale).toBe(4)
    for (let i = 0; i < 2; i++) s.update(1)
    expect(s.scale).toBe(4)
    s.update(1)
    expect(s.scale).toBe(8)
    expect(s.skipped).toBe(1)
  })

  it('gives up once the scale would fall below its minimum', () => {
    const s = new LossScaler(MIN_SCALE * 2, 10)
    expect(s.update(Infinity)).toBe(false)
    expect(() => s.update(Infinity)).toThrow('the loss scale fell below')
  })
})
