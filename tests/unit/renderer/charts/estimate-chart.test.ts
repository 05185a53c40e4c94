import { describe, expect, it } from 'vitest'
import type { ModelEstimate } from '../../../../electron/api/labapi'
import { estimateChartOption, formatCount } from '../../../../renderer/src/charts/estimate-chart'

const cost = (context: number, memory: number, flops: number) => ({ context, stateBytes: memory / 2, flopsPerToken: flops, memoryBytes: memory })

describe('estimate chart', () => {
  it('plots memory and FLOPs against context on log axes, model against Transformer', () => {
    const e: ModelEstimate = {
      contextLength: 1024,
      bytesPerElement: 4,
      layers: [],
      embeddingAndHeadParams: 10,
      totalParams: 100,
      model: cost(1024, 10, 5),
      transformer: { ...cost(1024, 20, 6), totalParams: 90 },
      curve: [
        { model: cost(256, 10, 5), transformer: cost(256, 12, 5.5) },
        { model: cost(4096, 10, 5), transformer: cost(4096, 100, 9) },
      ],
    }
    const o = estimateChartOption(e, 'GLA') as {
      xAxis: { type: string }
      yAxis: { type: string }[]
      series: { name: string; data: number[][]; yAxisIndex: number }[]
    }
    expect(o.xAxis.type).toBe('log')
    expect(o.yAxis.map((a) => a.type)).toEqual(['log', 'log'])
    expect(o.series.map((s) => s.name)).toEqual(['GLA: memory', 'Transformer: memory', 'GLA: FLOPs', 'Transformer: FLOPs'])
    expect(o.series[1]!.data).toEqual([
      [256, 12],
      [4096, 100],
    ])
    expect(o.series[3]!.yAxisIndex).toBe(1)
  })

  it('formats counts with SI prefixes', () => {
    expect(formatCount(999)).toBe('999')
    expect(formatCount(1234)).toBe('1.2K')
    expect(formatCount(262144)).toBe('262K')
    expect(formatCount(3.5e9)).toBe('3.5G')
  })
})
