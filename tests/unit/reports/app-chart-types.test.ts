// Every chart the app draws uses only chart types the renderer registers
// (renderer/src/charts/echarts.ts registers a subset to keep the bundle
// small; an unregistered series type is silently left out of the picture).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { InspectResult } from '../../../electron/api/inspect'
import type { ProfileResult } from '../../../electron/api/profile'
import type { EChartsCoreOption } from 'echarts/core'
import { echarts } from '../../../renderer/src/charts/echarts'
import {
  attentionHeatmapOption,
  attentionRowOption,
  effectiveRankOption,
  gateTraceOption,
  lengthCurveOption,
  recallHeatmapOption,
  spectrumOption,
  stateHeatmapOption,
  stateNormOption,
} from '../../../renderer/src/charts/inspect-charts'
import { memoryOption, partSpreadOption, rooflineOption, sweepOption, timeByLayerOption } from '../../../electron/views/profile-charts'

const fixture = <T>(name: string) => JSON.parse(readFileSync(join(__dirname, '../../fixtures', name), 'utf8')) as T
const profile = fixture<ProfileResult>('profile-gla-hybrid.json')
/** Real inspections: a GLA hybrid on MQAR (a linear and a softmax layer), DeltaNet with β in (0, 2) on parity (β, signed maps). */
const mqar = fixture<InspectResult>('inspect-hybrid-gla-mqar.json')
const parity = fixture<InspectResult>('inspect-deltanet-negative-eigen-parity.json')
const mqarLinear = mqar.layers.find((l) => l.kind === 'linear')!
const parityLayer = parity.layers[0]!

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
    ['time per model part over the repeats (boxplot)', partSpreadOption(fixture<ProfileResult>('profile-gla-hybrid-spread.json'))],
    ['recall by distance', recallHeatmapOption(mqar.recall!, 'distance')],
    ['recall by position', recallHeatmapOption(mqar.recall!, 'position')],
    [
      'accuracy against length, two runs',
      lengthCurveOption([
        { id: 'a', name: 'a', curve: parity.lengths! },
        { id: 'b', name: 'b', curve: { ...parity.lengths!, points: parity.lengths!.points.map((p) => ({ ...p, accuracy: p.accuracy / 2 })) } },
      ]),
    ],
    ['state norm', stateNormOption(mqarLinear)],
    ['state heatmap', stateHeatmapOption(mqarLinear.heads[0]!.snapshots![0]!, 'S_t')],
    ['singular values', spectrumOption(mqarLinear.heads[0]!, mqarLinear.index)],
    ['effective rank', effectiveRankOption(mqarLinear)],
    ['gates and beta', gateTraceOption(parityLayer.heads[0]!, parityLayer.index)],
    ['attention map (softmax)', attentionHeatmapOption(mqar.layers[1]!.heads[0]!.attention!, mqar.input.tokens, 'softmax head 0')],
    ['attention map (delta rule, signed)', attentionHeatmapOption(parityLayer.heads[0]!.attention!, parity.input.tokens, 'delta head 0')],
    ['attention row', attentionRowOption(mqarLinear.heads[0]!.attention!, mqar.input.tokens, mqar.input.pairs![0]!.query, mqar.input.pairs![0], 'row')],
  ]
  for (const [name, option] of options)
    it(name, () => {
      const declared = (option as { series: unknown[] }).series.length
      const { svg, seriesDrawn } = renderWithAppCharts(option)
      expect(seriesDrawn, `${name}: series built / declared`).toBe(declared)
      expect(svg).toContain('<svg')
    })
})
