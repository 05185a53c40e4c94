// Heatmap colour scales on both themes: every scale readable on its
// background, the diverging zero a neutral apart from the background and
// from both signs; the Inspect heatmap options name their scale; the dark
// pass swaps in the dark scale and light visualMap text, leaves heatmap
// series (their cell labels) alone, and leaves an unnamed visualMap as it is.
import { describe, expect, it } from 'vitest'
import type { InspectResult } from '../../../../electron/api/inspect'
import {
  contrastRatio,
  DARK_CHART_BG,
  HEATMAP_CELL_LABEL,
  HEATMAP_SCALES,
  heatmapScaleId,
  LIGHT_CHART_BG,
  optionForDark,
  parseHex,
  relativeLuminance,
  visualMapForDark,
} from '../../../../renderer/src/charts/chart-theme'
import {
  attentionHeatmapOption,
  recallHeatmapOption,
  SPECTRUM_LIGHTNESS,
  spectrumColor,
  spectrumOption,
  stateHeatmapOption,
} from '../../../../renderer/src/charts/inspect-charts'
import parityJson from '../../../fixtures/inspect-deltanet-negative-eigen-parity.json'
import mqarJson from '../../../fixtures/inspect-hybrid-gla-mqar.json'

const mqar = mqarJson as unknown as InspectResult
const parity = parityJson as unknown as InspectResult
type VisualMap = { id: string; inRange: { color: string[] }; textStyle?: { color: string } }
type HeatOption = { visualMap: VisualMap; series: { type: string; label?: Record<string, unknown> }[] }
const lum = (hex: string) => relativeLuminance(parseHex(hex)!)

describe('heatmap scales', () => {
  it('every stop of every dark scale stands out from the dark background', () => {
    for (const [name, s] of Object.entries(HEATMAP_SCALES)) for (const c of s.dark) expect(contrastRatio(c, DARK_CHART_BG), `${name} ${c}`).toBeGreaterThan(1.4)
  })

  it('the diverging zero is a neutral apart from the background and from both signs, on both themes', () => {
    for (const [theme, bg] of [
      ['light', LIGHT_CHART_BG],
      ['dark', DARK_CHART_BG],
    ] as const) {
      const [neg, zero, pos] = HEATMAP_SCALES.diverging[theme]
      expect(contrastRatio(zero, bg), `${theme} zero vs background`).toBeGreaterThan(1.3)
      expect(contrastRatio(neg, zero), `${theme} negative vs zero`).toBeGreaterThan(1.8)
      expect(contrastRatio(pos, zero), `${theme} positive vs zero`).toBeGreaterThan(1.8)
      const [r, g, b] = parseHex(zero)!
      expect(Math.max(r, g, b) - Math.min(r, g, b), `${theme} zero is grey`).toBeLessThan(30)
      // blue below, red above
      expect(parseHex(neg)![2]).toBeGreaterThan(parseHex(neg)![0])
      expect(parseHex(pos)![0]).toBeGreaterThan(parseHex(pos)![2])
    }
  })

  it('sequential scales run one way in lightness: light to dark on light, dark to bright on dark', () => {
    const w = HEATMAP_SCALES.weight
    expect(lum(w.light[0])).toBeGreaterThan(lum(w.light[1]))
    expect(lum(w.light[1])).toBeGreaterThan(lum(w.light[2]))
    expect(lum(w.dark[0])).toBeLessThan(lum(w.dark[1]))
    expect(lum(w.dark[1])).toBeLessThan(lum(w.dark[2]))
  })

  it('cell labels read on every accuracy colour: dark ink with a light halo', () => {
    for (const c of [...HEATMAP_SCALES.accuracy.light, ...HEATMAP_SCALES.accuracy.dark])
      expect(contrastRatio(HEATMAP_CELL_LABEL.color, c), c).toBeGreaterThan(3)
  })
})

describe('the Inspect heatmaps name their scale, and the dark pass swaps it', () => {
  const layer = mqar.layers.find((l) => l.heads[0]?.snapshots?.length)!
  const signedMap = parity.layers[0]!.heads[0]!.attention!
  const weightMap = mqar.layers.find((l) => l.kind === 'softmax')!.heads[0]!.attention!
  const cases: [string, HeatOption, keyof typeof HEATMAP_SCALES][] = [
    ['recall', recallHeatmapOption(mqar.recall!, 'distance') as unknown as HeatOption, 'accuracy'],
    ['state', stateHeatmapOption(layer.heads[0]!.snapshots![0]!, 'S') as unknown as HeatOption, 'diverging'],
    ['signed attention', attentionHeatmapOption(signedMap, parity.input.tokens, 'h') as unknown as HeatOption, 'diverging'],
    ['attention weights', attentionHeatmapOption(weightMap, mqar.input.tokens, 'h') as unknown as HeatOption, 'weight'],
  ]
  it.each(cases)('%s', (_, option, scale) => {
    expect(option.visualMap.id).toBe(heatmapScaleId(scale))
    expect(option.visualMap.inRange.color).toEqual(HEATMAP_SCALES[scale].light)
    const dark = optionForDark(option)
    expect(dark.visualMap.inRange.color).toEqual(HEATMAP_SCALES[scale].dark)
    expect(contrastRatio(dark.visualMap.textStyle!.color, DARK_CHART_BG)).toBeGreaterThan(7)
    expect(dark.series[0]).toBe(option.series[0]) // the heatmap (its cell labels) as it is
    expect(option.visualMap.inRange.color).toEqual(HEATMAP_SCALES[scale].light) // the input untouched
  })

  it('leaves a visualMap without a known scale as it is', () => {
    const plain = { inRange: { color: ['#000000', '#ffffff'] } }
    expect(visualMapForDark(plain)).toBe(plain)
    const unknown = { id: 'linea-scale:__proto__', inRange: { color: ['#000000'] } }
    expect(visualMapForDark(unknown)).toBe(unknown)
    const list = visualMapForDark([{ id: heatmapScaleId('weight'), inRange: { color: ['#f7fbff'] } }, plain]) as VisualMap[]
    expect(list[0]!.inRange.color).toEqual(HEATMAP_SCALES.weight.dark)
    expect(list[1]).toBe(plain)
  })
})

describe('singular-value lines over time', () => {
  it('darken with time within a band that reads on both backgrounds', () => {
    expect(spectrumColor(0, 4)).toBe(`hsl(220, 70%, ${SPECTRUM_LIGHTNESS.first}%)`)
    expect(spectrumColor(3, 4)).toBe(`hsl(220, 70%, ${SPECTRUM_LIGHTNESS.last}%)`)
    expect(spectrumColor(0, 1)).toBe(`hsl(220, 70%, ${SPECTRUM_LIGHTNESS.first}%)`)
    // hsl(220, 70%, 42%) ≈ #2052b6 and hsl(220, 70%, 68%) ≈ #749ae7: readable on dark and on white
    expect(contrastRatio('#2052b6', DARK_CHART_BG)).toBeGreaterThan(2)
    expect(contrastRatio('#749ae7', LIGHT_CHART_BG)).toBeGreaterThan(2.5)
    const head = mqar.layers.find((l) => l.heads[0]?.snapshots?.length)!.heads[0]!
    const o = spectrumOption(head, 0) as unknown as { series: { itemStyle: { color: string } }[] }
    expect(o.series.map((x) => x.itemStyle.color)).toEqual(o.series.map((_, k) => spectrumColor(k, o.series.length)))
  })
})
