// Every chart the app draws uses only chart types the renderer registers
// (renderer/src/charts/echarts.ts registers a subset to keep the bundle
// small; an unregistered series type is silently left out of the picture).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ProfileResult } from '../../../electron/api/profile'
import type { EChartsCoreOption } from 'echarts/core'
import { echarts } from '../../../renderer/src/charts/echarts'
import { memoryOption, rooflineOption, sweepOption, timeByLayerOption } from '../../../renderer/src/charts/profile-charts'

const profile = JSON.parse(readFileSync(join(__dirname, '../../fixtures/profile-gla-hybrid.json'), 'utf8')) as ProfileResult

function renderWithAppCharts(option: EChartsCoreOption): { svg: string; seriesDrawn: number } {
  const chart = echarts.init(null, undefined, { renderer: 'svg', ssr: true, width: 800, height: 400 })
  try {
    chart.setOption(option)
    // series the registry knew how to build
    const drawn = (chart as unknown as { getModel(): { getSeriesCount(): number } }).getModel().getSeriesCount()
    return { svg: chart.renderToSVGString(), seriesDrawn: drawn }
  } finally {
    chart.dispose()
  }
}

describe('the renderer registers every chart type the app uses', () => {
  const options: [string, EChartsCoreOption][] = [
    ['time by layer', timeByLayerOption(profile)],
    ['roofline', rooflineOption(profile)],
    ['memory', memoryOption(profile)],
    ['sweep', sweepOption(profile, 'trainStepMs')],
  ]
  for (const [name, option] of options)
    it(name, () => {
      const declared = (option as { series: unknown[] }).series.length
      const { svg, seriesDrawn } = renderWithAppCharts(option)
      expect(seriesDrawn, `${name}: series built / declared`).toBe(declared)
      expect(svg).toContain('<svg')
    })
})
