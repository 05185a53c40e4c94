// The trace export of a real profile (tests/fixtures/profile-gla-hybrid-spread.json,
// written by the profiler): Chrome trace event JSON that Perfetto opens, one
// event per op call with its model part and phase, nested inside its part and
// phase without overlaps; an older profile without a timeline has no trace.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ProfileResult } from '../../../electron/api/profile'
import { profileTrace, traceFileName } from '../../../electron/api/profile-trace'
import { nestingDepths, traceProblems, type CheckedEvent } from '../../fixtures/trace-check'

const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, '../../fixtures', name), 'utf8')) as ProfileResult
const profile = fixture('profile-gla-hybrid-spread.json')

describe('profile trace export', () => {
  it('is a well-formed trace: traceEvents with ph, ts, dur, pid, tid, name, complete events nesting without overlaps', () => {
    const trace = profileTrace(profile)!
    // through JSON, as the file is written and read
    const json = JSON.parse(JSON.stringify(trace)) as { traceEvents: CheckedEvent[]; displayTimeUnit: string }
    expect(traceProblems(json)).toEqual([])
    expect(json.displayTimeUnit).toBe('ms')
  })

  it('has one event per op call of the timed step, in order, with its model part and phase, at depth 2 under part and phase', () => {
    const events = profileTrace(profile)!.traceEvents as CheckedEvent[]
    const ops = events.filter((e) => e.args?.op !== undefined)
    const calls = profile.timeline!.events
    expect(ops).toHaveLength(calls.length)
    // every call of the step: as many as the op rows count
    expect(calls.length).toBe(profile.ops.reduce((n, o) => n + o.calls, 0))
    ops.forEach((e, i) => {
      expect(e).toMatchObject({ name: calls[i]!.op, ph: 'X', cat: calls[i]!.phase, args: { scope: calls[i]!.scope, phase: calls[i]!.phase } })
      expect(e.ts).toBeCloseTo(calls[i]!.startMs * 1000, 6)
      expect(e.dur).toBeCloseTo(calls[i]!.ms * 1000, 6)
    })
    const depth = nestingDepths(events)
    for (const e of ops) expect(depth.get(e), e.name).toBe(2)
    const phases = events.filter((e) => e.cat === 'phase')
    expect(phases.map((e) => e.name)).toEqual(['forward', 'backward', 'optimizer'])
    for (const e of phases) expect(depth.get(e)).toBe(0)
    const scopes = events.filter((e) => e.cat === 'scope')
    for (const e of scopes) expect(depth.get(e), e.name).toBe(1)
    expect(new Set(scopes.map((e) => e.name))).toEqual(new Set(profile.ops.map((o) => o.scope)))
    // the op events of a part sum to that part's time in the step
    const part = scopes.find((e) => e.name === 'layers.0.mixer' && e.args?.phase === 'forward')!
    const inside = ops.filter((e) => e.ts >= part.ts - 1e-6 && e.ts + e.dur! <= part.ts + part.dur! + 1e-6)
    expect(inside.length).toBe(part.args!.calls)
    expect(inside.every((e) => e.args!.scope === 'layers.0.mixer')).toBe(true)
  })

  it('finds overlapping events (the checker can fail)', () => {
    const trace = profileTrace(profile)!
    const events = trace.traceEvents.map((e) => ({ ...e }))
    // the second call of a part: it starts inside the part, and now ends past it
    const ops = events.filter((e) => e.args?.op !== undefined)
    const op = ops.find((e, i) => i > 0 && ops[i - 1]!.args!.scope === e.args!.scope)!
    op.dur! += 1e9
    expect(traceProblems({ traceEvents: events }).join('\n')).toMatch(/overlaps/)
    expect(traceProblems({ traceEvents: 'x' })).toEqual(['traceEvents is not an array'])
    expect(traceProblems({ traceEvents: [{ ph: 'X', name: 'a', ts: 0, pid: 1, tid: 1 }] })[0]).toMatch(/dur/)
  })

  it('has none for a profile written before timelines, and a safe file name', () => {
    expect(profileTrace(fixture('profile-gla-hybrid.json'))).toBeUndefined()
    expect(traceFileName(profile, '20261130T001900-gla/../x')).toBe('20261130t001900-gla-..-x.trace.json')
    expect(traceFileName(profile)).toMatch(/^gla-hybrid-1-softmax-in-4\.trace\.json$/)
  })
})
