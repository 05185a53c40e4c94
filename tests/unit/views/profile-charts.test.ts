import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ProfileResult } from '../../../electron/api/profile'
import { logLogSlope } from '../../../electron/api/profile'
import { memoryOption, rooflineOption, rooflinePoints, scopeOrder, sweepOption, timeByLayerOption, topOps } from '../../../electron/views/profile-charts'

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
