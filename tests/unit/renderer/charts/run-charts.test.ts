import { describe, expect, it } from 'vitest'
import type { MetricsLine } from '../../../../electron/api/runs'
import { MQAR_KEY_IN_NOISE_LABELS } from '../../../../electron/api/train-spec'
import {
  evalChartOption,
  keyInNoiseCurves,
  lossChartOption,
  memoryChartOption,
  runEvalChartOption,
  seriesNames,
  seriesPointCount,
  throughputChartOption,
  type CurveSeries,
  formatValue,
} from '../../../../renderer/src/charts/run-charts'
import { emaSmooth } from '../../../../renderer/src/runs/smoothing'

type Series = { id: string; name: string; data: number[][]; lineStyle: { color?: string; opacity?: number; type?: string }; silent?: boolean }
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

  describe("a run's eval chart with MQAR's key-in-noise split", () => {
    const [only, noise] = MQAR_KEY_IN_NOISE_LABELS
    /** An MQAR eval record; `split` the key_in_noise buckets (none: a record without the split). */
    const evalLine = (step: number, accuracy: number, split?: [number, number, number, number]): MetricsLine => ({
      type: 'eval',
      step,
      headline: accuracy,
      headlineName: 'accuracy',
      sets: [
        {
          name: 'eval',
          seqLen: 64,
          accuracy,
          loss: 1,
          bitsPerByte: 1,
          count: 64,
          byTag: split ? { key_in_noise: { [only]: { correct: split[0], count: split[1] }, [noise]: { correct: split[2], count: split[3] } } } : {},
        },
      ],
    })
    const withSplit = [evalLine(50, 0.5, [30, 40, 2, 24]), evalLine(100, 0.9, [40, 40, 18, 24])]

    it('draws overall accuracy and the two split series, named by the labels, in the run colour, dashed and dotted', () => {
      const o = runEvalChartOption(withSplit, 'accuracy', '#123456') as Option
      expect(seriesNames(o)).toEqual(['eval (T=64)', only, noise])
      expect(o.series[0]!.data).toEqual([
        [50, 0.5],
        [100, 0.9],
      ])
      expect(o.series[1]!.data).toEqual([
        [50, 0.75],
        [100, 1],
      ])
      expect(o.series[2]!.data).toEqual([
        [50, 2 / 24],
        [100, 18 / 24],
      ])
      expect(o.series.map((s) => s.lineStyle.type)).toEqual(['solid', 'dashed', 'dotted'])
      expect(o.series.every((s) => s.lineStyle.color === '#123456')).toBe(true)
      expect(o.legend).toBeDefined()
      expect(o.yAxis).toMatchObject({ name: 'accuracy', min: 0, max: 1 })
    })

    it('draws overall accuracy alone when the records have no split', () => {
      const o = runEvalChartOption([evalLine(50, 0.5), evalLine(100, 0.9)], 'accuracy', '#123456') as Option
      expect(seriesNames(o)).toEqual(['eval (T=64)'])
      expect(o.legend).toBeUndefined()
      expect(seriesNames(runEvalChartOption([], 'accuracy'))).toEqual([])
      // bits per byte has no accuracy split to draw
      expect(seriesNames(runEvalChartOption(withSplit, 'bits_per_byte'))).toEqual(['eval (T=64)'])
    })

    it('keeps the eval sets after the first in their own colours', () => {
      const two: MetricsLine = { ...(evalLine(10, 0.5) as Extract<MetricsLine, { type: 'eval' }>) }
      two.sets = [...two.sets, { ...two.sets[0]!, name: 'eval', seqLen: 128 }]
      const o = runEvalChartOption([two], 'accuracy', '#123456') as Option
      expect(seriesNames(o)).toEqual(['eval (T=64)', 'eval (T=128)'])
      expect(o.series[1]!.lineStyle.color).not.toBe('#123456')
    })

    it('names split curves after their run when runs are overlaid, with ids of their own', () => {
      const curves = keyInNoiseCurves(withSplit, { id: 'r1', color: '#aa0000', runName: 'gla' })
      expect(curves.map((c) => [c.id, c.name, c.color, c.dash])).toEqual([
        [`r1:key_in_noise:${only}`, `gla: ${only}`, '#aa0000', 'dashed'],
        [`r1:key_in_noise:${noise}`, `gla: ${noise}`, '#aa0000', 'dotted'],
      ])
      expect(keyInNoiseCurves([evalLine(50, 0.5)], { id: 'r1' })).toEqual([])
    })
  })
})

describe('chart tooltips', () => {
  it('show values to 4 significant digits, and a dash for what is not a number', () => {
    expect(formatValue(2.5519876543)).toBe('2.552')
    expect(formatValue([120, 0.000123456])).toBe('0.0001235')
    expect(formatValue(1234567)).toBe('1235000')
    expect(formatValue(Number.NaN)).toBe('—')
    expect(formatValue(undefined)).toBe('—')
  })
})
