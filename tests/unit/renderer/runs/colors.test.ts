import { describe, expect, it } from 'vitest'
import { distinctRunColors, hashString, mix32, RUN_PALETTE, runColor } from '../../../../renderer/src/runs/colors'

describe('run colours', () => {
  it('derive from the id alone: the same id always gets the same colour, whatever else is drawn', () => {
    const ids = ['20261123T065500-gla-64', '20261123T065501-mamba2-64', 'a', 'b']
    const first = ids.map(runColor)
    const again = [...ids].reverse().map(runColor).reverse()
    expect(again).toEqual(first)
    expect(runColor('20261123T065500-gla-64')).toBe(RUN_PALETTE[mix32(hashString('20261123T065500-gla-64')) % RUN_PALETTE.length])
  })

  it('come from a palette of distinct colours, all of it used, even by ids that differ in a few digits', () => {
    expect(new Set(RUN_PALETTE).size).toBe(RUN_PALETTE.length)
    for (const c of RUN_PALETTE) expect(c).toMatch(/^#[0-9a-f]{6}$/)
    const used = new Set(Array.from({ length: 400 }, (_, i) => runColor(`20261123T0700${String(i).padStart(2, '0')}-run-${i}`)))
    expect(used.size).toBe(RUN_PALETTE.length)
    // the twelve runs of a sweep, created in the same second: no colour used by more than three of them
    const sweep = ['transformer', 'gla', 'mamba2', 'deltanet', 'gated-deltanet', 'based'].flatMap((p) => [64, 128].map((d) => `20261123T075045-${p}-${d}`))
    const counts = new Map<string, number>()
    for (const id of sweep) counts.set(runColor(id), (counts.get(runColor(id)) ?? 0) + 1)
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(3)
  })

  it('hash with FNV-1a (32 bits)', () => {
    expect(hashString('')).toBe(0x811c9dc5)
    expect(hashString('a')).toBe(0xe40c292c)
    expect(hashString('foobar')).toBe(0xbf9cf968)
  })
})

describe('distinctRunColors', () => {
  it("keeps each run's own colour, and moves a run whose colour an earlier one has to an unused one", () => {
    // Two ids with the same hashed colour: found by search, so the test does not depend on the hash's values.
    const ids = Array.from({ length: 200 }, (_, i) => `run-${i}`)
    const [a, b] = (() => {
      for (const x of ids) for (const y of ids) if (x < y && runColor(x) === runColor(y)) return [x, y]
      throw new Error('no two ids share a colour in 200')
    })()
    const colors = distinctRunColors([a!, b!, 'other'])
    expect(colors.get(a!)).toBe(runColor(a!))
    expect(colors.get(b!)).not.toBe(colors.get(a!))
    expect(new Set(colors.values()).size).toBe(3)
    // Sixteen runs: sixteen colours.
    expect(new Set(distinctRunColors(ids.slice(0, 16)).values()).size).toBe(RUN_PALETTE.length)
  })
})
