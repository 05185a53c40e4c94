// Chart options rendered to SVG strings on the server (ECharts' server-side
// rendering), so a report carries its charts inline and needs no network.
import * as echarts from 'echarts'
import type { EChartsCoreOption } from 'echarts/core'

export function renderChartSvg(option: EChartsCoreOption, width = 760, height = 360): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height })
  try {
    chart.setOption(option)
    // Inline SVG in HTML needs no namespace declarations; dropping them keeps the report free of URLs.
    return chart.renderToSVGString().replace(/\s+xmlns(:\w+)?="[^"]*"/g, '')
  } finally {
    chart.dispose()
  }
}
