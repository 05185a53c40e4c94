import { describe, expect, it } from 'vitest'
import { Rng } from '../../../../electron/engine/random'
import { DistinctSampler, WeightedSampler } from '../../../../electron/engine/tasks/sampling'

describe('DistinctSampler', () => {
  it('draws k distinct values, uniformly, independent of earlier draws', () => {
    const sampler = new DistinctSampler(10, 4)
    const out = new Int32Array(4)
    const counts = new Array<number>(10).fill(0)
    for (let i = 0; i < 20000; i++) {
      sampler.draw(new Rng(i), 4, out)
      expect(new Set(out).size).toBe(4)
      for (const x of out) counts[x]!++
    }
    for (const c of counts) expect(Math.abs(c - 8000)).toBeLessThan(5 * Math.sqrt(8000))
    // The pool is restored: a fresh sampler and a used one agree.
    const fresh = new Int32Array(4)
    new DistinctSampler(10, 4).draw(new Rng(99), 4, fresh)
    sampler.draw(new Rng(99), 4, out)
    expect(out).toEqual(fresh)
  })
})

describe('WeightedSampler', () => {
  /** P(first = i) and P(second = i) under successive sampling. */
  function exact(w: number[]): { first: number[]; second: number[] } {
    const total = w.reduce((s, x) => s + x, 0)
    return {
      first: w.map((x) => x / total),
      second: w.map((x, i) => w.reduce((s, wj, j) => (j === i ? s : s + (wj / total) * (x / (total - wj))), 0)),
    }
  }

  it.each([
    ['races', Array.from({ length: 12 }, (_, i) => (i + 1) ** -0.99), 6],
    ['rejection', Array.from({ length: 1000 }, (_, i) => (i + 1) ** -0.5), 3],
  ] as const)('draws by %s in successive-sampling order', (method, weights, k) => {
    const sampler = new WeightedSampler(Float64Array.from(weights), k)
    expect(sampler.method).toBe(method)
    const n = weights.length
    const shown = Math.min(n, 12)
    const firstCounts = new Array<number>(n).fill(0)
    const secondCounts = new Array<number>(n).fill(0)
    const out = new Int32Array(k)
    const draws = 30000
    const rng = new Rng(1)
    for (let i = 0; i < draws; i++) {
      sampler.draw(rng, k, out)
      expect(new Set(out).size).toBe(k)
      firstCounts[out[0]!]!++
      secondCounts[out[1]!]!++
    }
    const { first, second } = exact(weights)
    for (let i = 0; i < shown; i++) {
      for (const [counts, p] of [
        [firstCounts, first[i]!],
        [secondCounts, second[i]!],
      ] as const) {
        const se = Math.sqrt((p * (1 - p)) / draws)
        expect(Math.abs(counts[i]! / draws - p), `index ${i}`).toBeLessThan(5 * se + 1e-4)
      }
    }
  })

  it('draws every index when k = n', () => {
    const sampler = new WeightedSampler(Float64Array.from([1, 2, 3, 4, 5]), 5)
    const out = new Int32Array(5)
    sampler.draw(new Rng(3), 5, out)
    expect([...out].sort()).toEqual([0, 1, 2, 3, 4])
  })
})
