import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ProfileResult } from '../../../electron/api/profile'
import { logLogSlope } from '../../../electron/api/profile'
import {
  byteAxisStep,
  memoryOption,
  niceMax,
  partSpreadOption,
  rooflineOption,
  rooflinePoints,
  scopeOrder,
  sharedAxes,
  sweepOption,
  timeByLayerOption,
  topOps,
} from '../../../electron/views/profile-charts'

const profile = JSON.parse(readFileSync(join(__dirname, '../../fixtures/profile-gla-hybrid.json'), 'utf8')) as ProfileResult

describe('profile charts', () => {
  it('orders model parts as the model runs them', () => {
    expect(scopeOrder(['head', 'layers.1.mlp', 'optimizer', 'layers.10.mixer', 'layers.1.mixer', 'embedding', 'loss', 'layers.2.attention'])).toEqual([
      'embedding',
      'layers.1.mixer',
      'layers.1.mlp',
      'layers.2.attention',
      'layers.10.mixer',
      'head',
      'loss',
      'optimizer',
    ])
  })

  it('stacks the top ops per model part, the rest as other, summing to the profile', () => {
    const o = timeByLayerOption(profile) as { series: { name: string; data: number[] }[]; yAxis: { data: string[] } }
    expect(o.series.map((s) => s.name)).toEqual([...topOps(profile.ops), 'other'])
    const charted = o.series.reduce((n, s) => n + s.data.reduce((a, b) => a + b, 0), 0)
    const total = profile.ops.reduce((n, op) => n + op.ms, 0)
    expect(Math.abs(charted - total) / total).toBeLessThan(1e-3)
    expect(o.yAxis.data[0]).toBe('embedding')
  })

  it('puts each op on the roofline with its intensity and achieved rate, under measured ceilings', () => {
    const points = rooflinePoints(profile)
    const linear = points.find((p) => p.op === 'linear_fwd')!
    const ops = profile.ops.filter((o) => o.op === 'linear_fwd')
    const flops = ops.reduce((n, o) => n + o.flops, 0)
    const ms = ops.reduce((n, o) => n + o.ms, 0)
    expect(linear.flopsPerSecond).toBeCloseTo(flops / (ms / 1000), 0)
    const o = rooflineOption(profile) as { series: { name: string; data: unknown[] }[] }
    expect(o.series[0]!.name).toBe('ceiling')
    expect(o.series[1]!.data).toHaveLength(points.length)
  })

  it('draws the sweep on log-log axes with the fitted slope in the legend', () => {
    const o = sweepOption(profile, 'trainStepMs') as { xAxis: { type: string }; yAxis: { type: string }; series: { name: string; data: number[][] }[] }
    expect(o.xAxis.type).toBe('log')
    expect(o.yAxis.type).toBe('log')
    expect(o.series[0]!.data).toEqual(profile.sweep.model.points.map((p) => [p.seqLen, p.trainStepMs]))
    expect(o.series[0]!.name).toContain(`slope ${profile.sweep.model.slopes.trainStep!.toFixed(2)}`)
    expect((memoryOption(profile) as { series: { data: number[] }[] }).series[0]!.data).toContain(profile.memory.activations)
  })

  it('fits log-log slopes: 1 for linear growth, 2 for quadratic', () => {
    const xs = [512, 1024, 2048, 4096]
    expect(
      logLogSlope(
        xs,
        xs.map((x) => 3 * x),
      ),
    ).toBeCloseTo(1, 10)
    expect(
      logLogSlope(
        xs,
        xs.map((x) => x * x),
      ),
    ).toBeCloseTo(2, 10)
    expect(logLogSlope([512], [1])).toBeNull()
  })
})

describe('profile charts compared and printed', () => {
  const spread = JSON.parse(readFileSync(join(__dirname, '../../fixtures/profile-gla-hybrid-spread.json'), 'utf8')) as ProfileResult
  type Axis = { min?: number; max?: number; type?: string; logBase?: number; axisLabel?: { formatter?: (v: number) => string; hideOverlap?: boolean } }
  type Opt = { xAxis: Axis; yAxis: Axis; legend?: { type?: string }; series: { labelLayout?: unknown; data: unknown[] }[] }

  it('gives two profiles the same axes: every chart of each reads on the same scales', () => {
    // the second profile twice as slow and twice as large: its own ranges differ from the first's
    const b: ProfileResult = {
      ...spread,
      ops: spread.ops.map((o) => ({ ...o, ms: o.ms * 2 })),
      memory: { ...spread.memory, workspace: spread.memory.workspace * 3 },
      sweep: {
        model: { ...spread.sweep.model, points: spread.sweep.model.points.map((p) => ({ ...p, trainStepMs: p.trainStepMs * 20, seqLen: p.seqLen * 4 })) },
        transformer: spread.sweep.transformer,
      },
    }
    const axes = sharedAxes([spread, b])
    const pairs: [Opt, Opt][] = [
      [timeByLayerOption(spread, axes), timeByLayerOption(b, axes)],
      [memoryOption(spread, axes), memoryOption(b, axes)],
      [rooflineOption(spread, axes), rooflineOption(b, axes)],
      [sweepOption(spread, 'trainStepMs', axes), sweepOption(b, 'trainStepMs', axes)],
      [sweepOption(spread, 'peakBytes', axes), sweepOption(b, 'peakBytes', axes)],
      [partSpreadOption(spread, axes), partSpreadOption(b, axes)],
    ] as unknown as [Opt, Opt][]
    for (const [x, y] of pairs) {
      expect([x.xAxis.min, x.xAxis.max, x.yAxis.min, x.yAxis.max]).toEqual([y.xAxis.min, y.xAxis.max, y.yAxis.min, y.yAxis.max])
      expect(x.xAxis.max ?? x.yAxis.max).toBeDefined()
    }
    // each op keeps its name, order and so colour in both
    const names = (o: unknown) => (o as { series: { name: string }[] }).series.map((x) => x.name)
    expect(names(timeByLayerOption(spread, axes))).toEqual(names(timeByLayerOption(b, axes)))
    // and the range holds both: b's slowest part, b's longest T
    expect((timeByLayerOption(spread, axes) as unknown as Opt).xAxis.max).toBeGreaterThanOrEqual(Math.max(...b.ops.map((o) => o.ms)))
    expect(axes.sweep.trainStepMs.x[1]).toBeGreaterThanOrEqual(4 * spread.sweep.model.points.at(-1)!.seqLen)
    // alone, each chart fits its own data
    expect((timeByLayerOption(spread) as unknown as Opt).xAxis.max).toBeUndefined()
    expect((sweepOption(spread, 'trainStepMs') as unknown as Opt).xAxis.max).toBe(spread.sweep.model.points.at(-1)!.seqLen)
  })

  it('never pages a legend, keeps labels apart and labels log axes with readable ticks', () => {
    for (const o of [timeByLayerOption(spread), sweepOption(spread, 'trainStepMs')] as unknown as Opt[]) expect(o.legend!.type).toBe('plain')
    const roof = rooflineOption(spread) as unknown as Opt
    expect(roof.series[1]!.labelLayout).toMatchObject({ hideOverlap: true })
    expect(roof.yAxis.axisLabel!.formatter!(1e10)).toBe('10 GFLOP/s')
    const bytes = sweepOption(spread, 'peakBytes') as unknown as Opt
    expect(bytes.yAxis).toMatchObject({ type: 'log', logBase: 2 })
    expect([bytes.yAxis.min, bytes.yAxis.max].map((v) => bytes.yAxis.axisLabel!.formatter!(v!))).toEqual(['1 MiB', '8 MiB'])
    const ms = sweepOption(spread, 'trainStepMs') as unknown as Opt
    expect([ms.yAxis.min, ms.yAxis.max].map((v) => ms.yAxis.axisLabel!.formatter!(v!))).toEqual(['1 ms', '10 ms'])
    const memory = memoryOption(spread) as unknown as Opt & { xAxis: { interval: number } }
    expect(Math.log2(memory.xAxis.interval) % 1).toBe(0)
    expect(memory.xAxis.axisLabel!.formatter!(memory.xAxis.interval * 2)).toBe('512 KiB')
    expect(byteAxisStep(5 * 2 ** 20)).toBe(2 ** 20)
    expect(niceMax(0.0031)).toBe(0.005)
    expect(niceMax(7)).toBe(10)
  })

  it('draws each model part over the repeats as a box from the first to the third quartile, whiskers at min and max', () => {
    const o = partSpreadOption(spread) as unknown as Opt & { yAxis: { data: string[] } }
    expect(o.series[0]!.data).toHaveLength(spread.parts!.length)
    const i = o.yAxis.data.indexOf('layers.0.mixer · forward')
    const part = spread.parts!.find((x) => x.scope === 'layers.0.mixer' && x.phase === 'forward')!
    expect(o.series[0]!.data[i]).toEqual([part.spread.min, part.spread.q1, part.spread.median, part.spread.q3, part.spread.max])
    expect(o.yAxis.data[0]).toBe('embedding · forward')
  })
})
