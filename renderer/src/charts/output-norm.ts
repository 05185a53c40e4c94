// Chart options for the demo forward: ‖o_t‖ over time. Pure, so it is unit
// tested and reusable by reports.
import type { EChartsCoreOption } from 'echarts/core'
import type { DemoForwardResult } from '../../../electron/api/labapi'

export function outputNormOption(result: DemoForwardResult): EChartsCoreOption {
  return {
    animation: false,
    title: {
      text: 'Recurrent mixer forward: output norm over time',
      subtext: `${result.backend}, T = ${result.seqLen}, H = ${result.heads}, dk = ${result.dk}, dv = ${result.dv}`,
      left: 'center',
      textStyle: { fontSize: 14 },
    },
    grid: { left: 60, right: 24, top: 64, bottom: 48 },
    tooltip: { trigger: 'axis' },
    xAxis: {
      type: 'value',
      name: 'step t',
      nameLocation: 'middle',
      nameGap: 28,
      min: 0,
      max: Math.max(result.seqLen - 1, 1),
      axisLabel: { showMaxLabel: false },
    },
    yAxis: { type: 'value', name: '‖o_t‖ (mean over heads)', nameLocation: 'middle', nameGap: 44 },
    series: [
      {
        type: 'line',
        name: '‖o_t‖',
        showSymbol: false,
        data: result.outputNorm.map((y, t) => [t, y]),
      },
    ],
  }
}
