// The statistics a profile reports: quartiles of repeated timings, the load
// other processes put on the machine (the competing-job warning), and the
// check that drops malformed optional fields of an untrusted profile.json.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ProfileResult } from '../../../electron/api/profile'
import { checkedProfile } from '../../../electron/api/profile-checks'
import { activeRunsWarning, competitionWarning, othersBusyCores, quantile, relativeIqr, spreadOf } from '../../../electron/api/profile-stats'

describe('profile statistics', () => {
  it('gives min, quartiles (linear between samples), median and max', () => {
    expect(spreadOf([5, 1, 4, 2, 3])).toEqual({ n: 5, min: 1, q1: 2, median: 3, q3: 4, max: 5 })
    expect(spreadOf([4, 1, 3, 2])).toEqual({ n: 4, min: 1, q1: 1.75, median: 2.5, q3: 3.25, max: 4 })
    expect(spreadOf([7])).toEqual({ n: 1, min: 7, q1: 7, median: 7, q3: 7, max: 7 })
    expect(spreadOf([NaN, 2, Infinity]).n).toBe(1)
    expect(spreadOf([]).median).toBeNaN()
    expect(quantile([0, 10], 0.9)).toBeCloseTo(9, 12)
    expect(relativeIqr(spreadOf([9, 10, 10, 11, 30]))).toBeCloseTo(0.1, 12)
  })

  it("counts the cores other processes kept busy: the machine's busy time less this process's", () => {
    const a = { wallMs: 0, machineBusyMs: 1000, ownMs: 100 }
    // 2 s: the machine was busy 5 core-seconds, this process 2 of them
    expect(othersBusyCores(a, { wallMs: 2000, machineBusyMs: 6000, ownMs: 2100 })).toBeCloseTo(1.5, 12)
    expect(othersBusyCores(a, { wallMs: 1000, machineBusyMs: 1500, ownMs: 700 })).toBe(0)
    expect(othersBusyCores(a, a)).toBe(0)
    expect(competitionWarning(0.2, 8)).toBeUndefined()
    expect(competitionWarning(1.46, 8)).toMatch(/about 1\.5 of 8 CPU cores busy while this profile measured \(a training run or another job\?\)/)
    expect(activeRunsWarning([])).toBeUndefined()
    expect(activeRunsWarning(['run-1'])).toMatch(/training run was active .*run-1/)
  })

  it('drops the optional fields of a profile.json that are malformed, keeps the well-formed ones', () => {
    const good = JSON.parse(readFileSync(join(__dirname, '../../fixtures/profile-gla-hybrid-spread.json'), 'utf8')) as ProfileResult
    expect(checkedProfile(good)).toEqual(good)
    const bad = {
      ...good,
      step: { ...good.step, spread: { totalMs: 'x' } },
      ceilings: { ...good.ceilings, spread: null },
      parts: [{ scope: 'a', phase: 'sideways', ms: 1, spread: good.parts![0]!.spread }],
      timeline: { ...good.timeline!, events: 'many' },
      warnings: [42],
      ops: good.ops.map((o, i) => (i === 0 ? { ...o, spread: { n: 1 } } : o)),
    } as unknown as ProfileResult
    const checked = checkedProfile(bad)
    expect(checked.step.spread).toBeUndefined()
    expect('spread' in checked.ceilings).toBe(false)
    expect(checked.parts).toBeUndefined()
    expect(checked.timeline).toBeUndefined()
    expect(checked.warnings).toBeUndefined()
    expect(checked.ops[0]!.spread).toBeUndefined()
    expect(checked.ops[1]!.spread).toEqual(good.ops[1]!.spread)
    expect(checked.step.totalMs).toBe(good.step.totalMs)
    // the input is not changed
    expect((bad.step.spread as unknown as { totalMs: string }).totalMs).toBe('x')
  })
})
