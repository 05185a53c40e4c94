import { describe, expect, it } from 'vitest'
import { EVAL_STREAM, mixSeed, TRAIN_STREAM } from '../../../../electron/engine/tasks/seeds'

describe('seed mixing', () => {
  it('marks the stream in the top bit, so training and evaluation never share a seed', () => {
    for (let i = 0; i < 1000; i++) {
      expect(mixSeed(7, TRAIN_STREAM, i, i % 13) >>> 31).toBe(0)
      expect(mixSeed(7, EVAL_STREAM, i, i % 13) >>> 31).toBe(1)
    }
  })

  it('gives every row of a step its own seed, and depends on every coordinate', () => {
    const seeds = new Set<number>()
    for (let r = 0; r < 100000; r++) seeds.add(mixSeed(1, TRAIN_STREAM, 3, r))
    expect(seeds.size).toBe(100000)
    const base = mixSeed(1, TRAIN_STREAM, 3, 4)
    expect(mixSeed(2, TRAIN_STREAM, 3, 4)).not.toBe(base)
    expect(mixSeed(1, TRAIN_STREAM, 4, 4)).not.toBe(base)
    expect(mixSeed(1, TRAIN_STREAM, 4, 3)).not.toBe(mixSeed(1, TRAIN_STREAM, 3, 4))
    // Steps beyond 2^32 still count (high word absorbed).
    expect(mixSeed(1, TRAIN_STREAM, 2 ** 32 + 3, 4)).not.toBe(base)
  })

  it('is fixed across versions (changing it changes every dataset)', () => {
    expect([mixSeed(0, TRAIN_STREAM, 0, 0), mixSeed(1, EVAL_STREAM, 256, 3)]).toMatchInlineSnapshot(`
      [
        1633818816,
        4223623345,
      ]
    `)
  })
})
