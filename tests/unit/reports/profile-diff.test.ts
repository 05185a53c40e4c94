// The difference table of two profiles: step phases first, then model parts
// and ops by the size of the difference; a difference inside the repeats'
// spread is noise; a row only one profile has says so.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { OpProfile, ProfileResult, Spread } from '../../../electron/api/profile'
import { profileDiff } from '../../../electron/api/profile-diff'

const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, '../../fixtures', name), 'utf8')) as ProfileResult
const a = fixture('profile-gla-hybrid-spread.json')
const scaled = (s: Spread, k: number): Spread => ({ n: s.n, min: s.min * k, q1: s.q1 * k, median: s.median * k, q3: s.q3 * k, max: s.max * k })

/** b: a with one op three times slower (spread and its part's time too), one op only in a, one only in b. */
function slower(): { b: ProfileResult; slow: OpProfile } {
  const slow = a.ops.find((o) => o.op === 'mixer_bwd' && o.scope === 'layers.1.mixer')!
  const extra = slow.ms * 2
  const ops = a.ops
    .filter((o) => !(o.op === 'norm_fwd' && o.scope === 'head'))
    .map((o) => (o === slow ? { ...o, ms: o.ms * 3, spread: scaled(o.spread!, 3) } : o))
  ops.push({ scope: 'layers.9.mixer', phase: 'forward', op: 'mixer_fwd', calls: 1, ms: 0.5, flops: 1, bytes: 1 })
  const parts = a.parts!.map((x) =>
    x.scope === slow.scope && x.phase === slow.phase
      ? { ...x, ms: x.ms + extra, spread: { ...x.spread, q1: x.spread.q1 + extra, median: x.spread.median + extra, q3: x.spread.q3 + extra } }
      : x,
  )
  return { b: { ...a, ops, parts }, slow }
}

describe('profile difference table', () => {
  it('puts the step first, then the parts and ops that changed most, with differences, ratios and whether they pass the noise', () => {
    const { b, slow } = slower()
    const rows = profileDiff(a, b)
    expect(rows.slice(0, 4).map((r) => r.label)).toEqual(['step forward', 'step backward', 'step optimizer', 'step total'])
    expect(rows.slice(0, 4).every((r) => r.delta === 0 && r.ratio === 1 && r.beyondSpread === false)).toBe(true)
    const parts = rows.filter((r) => r.level === 'part')
    expect(parts[0]!.label).toBe(`${slow.scope} (${slow.phase})`)
    expect(parts[0]!.delta).toBeCloseTo(slow.ms * 2, 9)
    expect(parts[0]!.beyondSpread).toBe(true)
    expect(parts.slice(1).every((r) => r.delta === 0 && r.beyondSpread === false)).toBe(true)
    const ops = rows.filter((r) => r.level === 'op')
    expect(ops[0]).toMatchObject({ label: `mixer_bwd in ${slow.scope} (backward)`, a: slow.ms, b: slow.ms * 3 })
    expect(ops[0]!.ratio).toBeCloseTo(3, 9)
    expect(ops[0]!.beyondSpread).toBe(slow.spread!.q3 < 3 * slow.spread!.q1)
    // only in one of them: last, without a difference
    const onlyA = ops.find((r) => r.label === 'norm_fwd in head (forward)')!
    const onlyB = ops.find((r) => r.label === 'mixer_fwd in layers.9.mixer (forward)')!
    expect([onlyA.a, onlyA.b, onlyA.delta, onlyA.ratio]).toEqual([
      a.ops.find((o) => o.op === 'norm_fwd' && o.scope === 'head')!.ms,
      undefined,
      undefined,
      undefined,
    ])
    expect([onlyB.a, onlyB.b, onlyB.delta]).toEqual([undefined, 0.5, undefined])
    expect(
      ops
        .slice(-2)
        .map((r) => r.label)
        .sort(),
    ).toEqual([onlyA.label, onlyB.label].sort())
    expect(new Set(rows.map((r) => r.key)).size).toBe(rows.length)
  })

  it('compares profiles written before spreads by their op sums, without claiming noise either way', () => {
    const old = fixture('profile-gla-hybrid.json')
    const rows = profileDiff(old, a)
    const step = rows.find((r) => r.label === 'step total')!
    expect(step.delta).toBeCloseTo(a.step.totalMs - old.step.totalMs, 9)
    expect(step.beyondSpread).toBeUndefined()
    const part = rows.find((r) => r.key === 'part|layers.0.mixer|forward')!
    const sum = old.ops.filter((o) => o.scope === 'layers.0.mixer' && o.phase === 'forward').reduce((n, o) => n + o.ms, 0)
    expect(part.a).toBeCloseTo(sum, 9)
    expect(part.b).toBe(a.parts!.find((x) => x.scope === 'layers.0.mixer' && x.phase === 'forward')!.ms)
  })
})
