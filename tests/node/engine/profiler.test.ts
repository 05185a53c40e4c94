// The profiler itself on the CPU backend, in this process: spreads over the
// repeats that hold together, part and step times that add up, a timeline of
// every op call that does not overlap, ceiling probes past their minimum, and
// the warning when other processes compete for the CPU while it measures
// (two busy child processes here, as a training run would be).
import { spawn, type ChildProcess } from 'node:child_process'
import { afterEach, describe, expect, it } from 'vitest'
import { CEILING_PROBE_MIN_REPEATS, type ProfileSettings, type Spread } from '../../../electron/api/profile'
import { preset } from '../../../electron/api/presets'
import { resizeModel } from '../../../electron/api/resize'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { probeCeilings, profileModel } from '../../../electron/engine/profile/profiler'

const spec = () => resizeModel(preset('hybrid-gla'), { d_model: 32, vocab_size: 64, heads: 2 })
const settings: ProfileSettings = {
  batchSize: 1,
  seqLen: 16,
  dtype: 'f32',
  warmup: 1,
  repeats: 6,
  sweepLengths: [16],
  sweepBudgetSeconds: 5,
  sweepMemoryLimitBytes: 2 ** 30,
  probeSeconds: 0.05,
}
const ordered = (s: Spread) => s.min <= s.q1 && s.q1 <= s.median && s.median <= s.q3 && s.q3 <= s.max

const burners: ChildProcess[] = []
afterEach(() => {
  for (const b of burners.splice(0)) b.kill('SIGKILL')
})

describe('profiler', () => {
  it('reports each op, model part and phase over the repeats, and every op call of the median step without overlaps', async () => {
    const p = await profileModel(spec(), nativeBackend('cpu'), settings)
    expect(p.step.spread!.totalMs.n).toBe(6)
    for (const s of Object.values(p.step.spread!)) expect(ordered(s)).toBe(true)
    expect(p.step.totalMs).toBeCloseTo(p.step.forwardMs + p.step.backwardMs + p.step.optimizerMs, 9)
    for (const o of p.ops) {
      expect(o.spread!.n, o.op).toBe(6)
      expect(ordered(o.spread!), o.op).toBe(true)
      expect(o.ms).toBe(o.spread!.median)
    }
    // parts: one per (scope, phase) of the ops
    expect(new Set(p.parts!.map((x) => `${x.scope}|${x.phase}`))).toEqual(new Set(p.ops.map((o) => `${o.scope}|${o.phase}`)))
    for (const x of p.parts!) expect(ordered(x.spread)).toBe(true)
    // the timeline: the step nearest the median, every call in order, none overlapping the next
    const t = p.timeline!
    expect(t.repeats).toBe(6)
    expect(t.dropped).toBe(0)
    expect(t.events.length).toBe(p.ops.reduce((n, o) => n + o.calls, 0))
    for (let i = 1; i < t.events.length; i++) expect(t.events[i]!.startMs).toBeGreaterThanOrEqual(t.events[i - 1]!.startMs + t.events[i - 1]!.ms - 1e-9)
    const stepMs = t.events.reduce((n, e) => n + e.ms, 0)
    expect(stepMs).toBeGreaterThanOrEqual(p.step.spread!.totalMs.min - 1e-9)
    expect(stepMs).toBeLessThanOrEqual(p.step.spread!.totalMs.max + 1e-9)
    expect(t.events.map((e) => e.phase).filter((x, i, a) => x !== a[i - 1])).toEqual(['forward', 'backward', 'optimizer'])
    expect(Array.isArray(p.warnings)).toBe(true)
  })

  it('puts the loss on the last labelsPerSequence positions, as a task labels them (MQAR: its queries)', async () => {
    const few = { ...settings, repeats: 2, labelsPerSequence: 4 }
    // one after the other: a profile observes the backend's every op
    const all = await profileModel(spec(), nativeBackend('cpu'), { ...settings, repeats: 2 })
    const some = await profileModel(spec(), nativeBackend('cpu'), few)
    const ce = (p: typeof all) => p.ops.find((o) => o.op === 'cross_entropy_fwd' && o.phase === 'forward')!
    // the loss and the LM head run on 4 of the 16 rows of the batch
    expect(ce(all).bytes).toBeGreaterThan(0)
    expect(ce(some).bytes / ce(all).bytes).toBeCloseTo(4 / 16, 6)
    const head = (p: typeof all) => p.ops.filter((o) => o.scope.startsWith('head') && o.op === 'linear_fwd').reduce((n, o) => n + o.flops, 0)
    expect(head(some) / head(all)).toBeCloseTo(4 / 16, 6)
    expect(some.settings.labelsPerSequence).toBe(4)
    expect(all.settings.labelsPerSequence).toBeUndefined()
  })

  it('runs in the precision asked: auto is f32 on the CPU, and precision wins over the older dtype', async () => {
    const small = { ...settings, repeats: 2, sweepLengths: [] }
    const auto = await profileModel(spec(), nativeBackend('cpu'), { ...small, precision: 'auto' })
    expect(auto.precision).toBe('f32')
    const wide = await profileModel(spec(), nativeBackend('cpu'), { ...small, precision: 'f64' })
    expect(wide.precision).toBe('f64')
    expect(wide.ceilings.method).toContain('f64 values')
    // weights in f64: twice the parameter bytes of the f32 profile
    expect(wide.memory.parameters).toBe(2 * auto.memory.parameters)
    const legacy = await profileModel(spec(), nativeBackend('cpu'), { ...small, dtype: 'f64' })
    expect(legacy.precision).toBe('f64')
  }, 180_000) // three whole profiles: 23 s on CI's two cores beside another test file, near the 60 s default under load

  it('probes each ceiling for at least the time asked, past the minimum repeats, and reports the spread of its rates', async () => {
    const started = performance.now()
    const c = await probeCeilings(nativeBackend('cpu'), 'f32', 0.2)
    expect(performance.now() - started).toBeGreaterThanOrEqual(2 * 200)
    for (const s of [c.spread!.flopsPerSecond, c.spread!.bandwidthBytesPerSecond]) {
      expect(s.n).toBeGreaterThanOrEqual(CEILING_PROBE_MIN_REPEATS)
      expect(ordered(s)).toBe(true)
      expect(s.min).toBeGreaterThan(0)
    }
    expect(c.flopsPerSecond).toBe(c.spread!.flopsPerSecond.median)
    expect(c.bandwidthBytesPerSecond).toBe(c.spread!.bandwidthBytesPerSecond.median)
    expect(c.method).toMatch(/repeated for at least 0\.2 s/)
  })

  it('warns when other processes keep the CPU busy while it measures', async () => {
    const started = Array.from({ length: 2 }, () => {
      const burner = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
      burners.push(burner)
      return new Promise((r) => burner.once('spawn', r))
    })
    await Promise.all(started) // running before the profile starts
    const p = await profileModel(spec(), nativeBackend('cpu'), { ...settings, probeSeconds: 0.3 })
    expect(p.warnings!.join('\n')).toMatch(/Other processes kept about [\d.]+ of \d+ CPU cores busy while this profile measured/)
  })
})
