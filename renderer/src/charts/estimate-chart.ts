// Chart options for the composer's estimates: memory per sequence and
// forward FLOPs per token against context length, log-log, this model
// against a softmax Transformer of the same width. Pure, unit-tested.
import type { EChartsCoreOption } from 'echarts/core'
import type { ModelEstimate } from '../../../electron/api/labapi'
import { formatBytes } from '../../../electron/api/format'

export function formatCount(n: number): string {
  const units = ['', 'K', 'M', 'G', 'T', 'P']
  let v = n
  let i = 0
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)}${units[i]}`
}

export function estimateChartOption(e: ModelEstimate, modelName: string): EChartsCoreOption {
  const points = (f: (c: ModelEstimate['curve'][number]) => number) => e.curve.map((c) => [c.model.context, f(c)])
  const line = (name: string, yAxisIndex: number, data: number[][], dashed: boolean, color: string) => ({
    name,
    type: 'line',
    yAxisIndex,
    showSymbol: true,
    symbolSize: 5,
    data,
    lineStyle: { type: dashed ? 'dashed' : 'solid', color },
    itemStyle: { color },
  })
  return {
    animation: false,
    title: { text: 'Memory and compute against context length', left: 'center', textStyle: { fontSize: 13 } },
    legend: { bottom: 0, textStyle: { fontSize: 11 } },
    grid: { left: 70, right: 70, top: 40, bottom: 70 },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'log', name: 'context (tokens)', nameLocation: 'middle', nameGap: 26, axisLabel: { formatter: (v: number) => formatCount(v) } },
    yAxis: [
      { type: 'log', name: 'memory / sequence', axisLabel: { formatter: (v: number) => formatBytes(v) } },
      { type: 'log', name: 'FLOPs / token', axisLabel: { formatter: (v: number) => formatCount(v) } },
    ],
    series: [
      line(
        `${modelName}: memory`,
        0,
        points((c) => c.model.memoryBytes),
        false,
        '#2f6fdd',
      ),
      line(
        'Transformer: memory',
        0,
        points((c) => c.transformer.memoryBytes),
        false,
        '#d9534f',
      ),
      line(
        `${modelName}: FLOPs`,
        1,
        points((c) => c.model.flopsPerToken),
        true,
        '#2f6fdd',
      ),
      line(
        'Transformer: FLOPs',
        1,
        points((c) => c.transformer.flopsPerToken),
        true,
        '#d9534f',
      ),
    ],
  }
}
