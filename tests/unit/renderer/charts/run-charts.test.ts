import { describe, expect, it } from 'vitest'
import { evalChartOption, lossChartOption, memoryChartOption, seriesPointCount, throughputChartOption, type CurveSeries } from '../../../../renderer/src/charts/run-charts'
import { emaSmooth } from '../../../../renderer/src/runs/smoothing'

type Series = { id: string; name: string; data: number[][]; lineStyle: { color?: string; opacity?: number }; silent?: boolean }
type Option = { series: Series[]; yAxis: { type: string; name: string; min?: number; max?: number }; legend?: object }

const run = (id: string, losses: number[], color = '#123456'): CurveSeries => ({ id, name: `run ${id}`, color, points: losses.map((y, i) => [i + 1, y]) })

describe('run chart options', () => {
  it('draw one raw curve per run without smoothing, in the run colour', () => {
    const o = lossChartOption([run('a', [3, 2, 1])], { smoothing: 0, logScale: false }) as Option
    expect(o.series).toHaveLength(1)
    expect(o.series[0]!.data).toEqual([
      [1, 3],
      [2, 2],
      [3, 1],
    ])
    expect(o.series[0]!.lineStyle.color).toBe('#123456')
    expect(o.yAxis.type).toBe('value')
    expect(o.legend).toBeUndefined()
  })

  it('draw the smoothed curve over a faint raw one when smoothing is on', () => {
    const losses = [4, 1, 3, 0.5, 2]
    const o = lossChartOption([run('a', losses)], { smoothing: 0.8, logScale: false }) as Option
    expect(o.series.map((s) => s.id)).toEqual(['a:raw', 'a:smooth'])
    expect(o.series[0]!.lineStyle.opacity).toBeLessThan(0.5)
    expect(o.series[0]!.silent).toBe(true)
    expect(o.series[1]!.data.map(([, y]) => y)).toEqual(emaSmooth(losses, 0.8))
    expect(o.series[1]!.data.map(([x]) => x)).toEqual([1, 2, 3, 4, 5])
  })

  it('overlay the selected runs: series per run, each in its own colour, with a legend', () => {
    const runs = [run('a', [3, 2], '#aa0000'), run('b', [5, 4, 3], '#00aa00'), run('c', [1], '#0000aa')]
    const o = lossChartOption(runs, { smoothing: 0.5, logScale: false }) as Option
    expect(o.series).toHaveLength(6)
    expect(o.series.filter((s) => s.id.endsWith(':smooth')).map((s) => [s.name, s.lineStyle.color])).toEqual([
      ['run a', '#aa0000'],
      ['run b', '#00aa00'],
      ['run c', '#0000aa'],
    ])
    expect(o.legend).toBeDefined()
    expect(seriesPointCount(o)).toBe(2 * (2 + 3 + 1))
    const two = lossChartOption(runs.slice(0, 2), { smoothing: 0, logScale: false }) as Option
    expect(two.series.map((s) => s.id)).toEqual(['a:raw', 'b:raw'])
  })

  it('switch the loss axis to log, leaving out values a log axis cannot show', () => {
    const o = lossChartOption([run('a', [2, 0, Number.NaN, 0.5])], { smoothing: 0, logScale: true }) as Option
    expect(o.yAxis.type).toBe('log')
    expect(o.series[0]!.data).toEqual([
      [1, 2],
      [4, 0.5],
    ])
    const linear = lossChartOption([run('a', [2, 0, Number.NaN, 0.5])], { smoothing: 0, logScale: false }) as Option
    expect(linear.yAxis.type).toBe('value')
    expect(linear.series[0]!.data).toHaveLength(4)
  })

  it('plot accuracy on a 0–1 axis and bits per byte on a free one, a series per curve', () => {
    const acc = evalChartOption([run('a', [0.1, 0.5]), run('b', [0.2])], 'accuracy') as Option
    expect(acc.yAxis).toMatchObject({ type: 'value', name: 'accuracy', min: 0, max: 1 })
    expect(acc.series.map((s) => s.id)).toEqual(['a', 'b'])
    const bpb = evalChartOption([run('a', [2.1, 1.8])], 'bits_per_byte') as Option
    expect(bpb.yAxis.name).toBe('bits per byte')
    expect(bpb.yAxis.max).toBeUndefined()
  })

  it('plot throughput and memory (in use and peak) per step', () => {
    const t = throughputChartOption([
      [1, 1000],
      [2, 1200],
    ]) as Option
    expect(t.series[0]!.data).toEqual([
      [1, 1000],
      [2, 1200],
    ])
    const m = memoryChartOption([[1, 10]], [[1, 20]]) as Option
    expect(m.series.map((s) => s.name)).toEqual(['in use', 'peak'])
    expect(seriesPointCount(m)).toBe(2)
    expect(seriesPointCount(null)).toBe(0)
  })
})
