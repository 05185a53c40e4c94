// The inspector's passes stay inside their activation budget: fewer
// sequences per pass for long sequences, wide or deep models and float64.
import { describe, expect, it } from 'vitest'
import { PASS_BUDGET_BYTES, sequencesPerPass } from '../../../electron/engine/inspect/pass-size'

const model = (d_model: number, layers: number) => ({ d_model, layers: Array.from({ length: layers }, () => ({}) as never) })

describe('sequencesPerPass', () => {
  it('keeps 32 sequences of a small model at MQAR lengths', () => {
    expect(sequencesPerPass(model(128, 4), 'f32', 128, 32)).toBe(32)
  })

  it('takes fewer as T, width, depth or precision grow, and the tokens stay in the budget', () => {
    expect(sequencesPerPass(model(128, 4), 'f32', 512, 32)).toBe(8)
    expect(sequencesPerPass(model(128, 4), 'f64', 512, 32)).toBe(4)
    expect(sequencesPerPass(model(1024, 24), 'f32', 512, 32)).toBe(1)
    for (const [d, l, T] of [
      [64, 2, 2048],
      [256, 8, 1024],
      [128, 4, 64],
    ] as const) {
      const n = sequencesPerPass(model(d, l), 'f32', T, 1000)
      expect(n * T * 32 * d * l * 4, `d ${d} layers ${l} T ${T}`).toBeLessThanOrEqual(PASS_BUDGET_BYTES)
      expect((n + 1) * T * 32 * d * l * 4).toBeGreaterThan(PASS_BUDGET_BYTES)
    }
  })

  it('never goes below one sequence, nor above what was asked for', () => {
    expect(sequencesPerPass(model(4096, 64), 'f64', 1 << 20, 32)).toBe(1)
    expect(sequencesPerPass(model(32, 1), 'f32', 16, 5)).toBe(5)
  })
})
