import { describe, expect, it } from 'vitest'
import {
  DARK_CHART_BG,
  DARK_PALETTE,
  MIN_DARK_LUMINANCE,
  chartThemeName,
  colorForDark,
  darkChartTheme,
  optionForDark,
  parseHex,
  relativeLuminance,
} from '../../../../renderer/src/charts/chart-theme'
import { RUN_PALETTE } from '../../../../renderer/src/runs/colors'

const lum = (c: string) => relativeLuminance(parseHex(c)!)
const contrast = (a: string, b: string) => {
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p)
  return (x! + 0.05) / (y! + 0.05)
}
/** Hue in degrees, for telling colours apart. */
function hue(c: string): number {
  const [r, g, b] = parseHex(c)!.map((v) => v / 255) as [number, number, number]
  const max = Math.max(r, g, b)
  const d = max - Math.min(r, g, b)
  if (d === 0) return 0
  const h = max === r ? ((g - b) / d + 6) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4
  return h * 60
}

describe('chart theme', () => {
  it('parses hex colours and measures luminance', () => {
    expect(parseHex('#fff')).toEqual([255, 255, 255])
    expect(parseHex('#1f77B4')).toEqual([31, 119, 180])
    expect(parseHex('hsl(1, 2%, 3%)')).toBeNull()
    expect(lum('#000000')).toBe(0)
    expect(lum('#ffffff')).toBeCloseTo(1, 6)
  })

  it('uses the default theme on light and linea-dark on dark', () => {
    expect(chartThemeName('light')).toBeUndefined()
    expect(chartThemeName('dark')).toBe('linea-dark')
  })

  it('dark theme: a dark background, light text, grid lines and tooltips set', () => {
    const t = darkChartTheme() as Record<string, Record<string, Record<string, unknown>>>
    expect(lum(DARK_CHART_BG)).toBeLessThan(0.05)
    expect(t.backgroundColor).toBe(DARK_CHART_BG)
    expect(contrast(t.textStyle!.color as unknown as string, DARK_CHART_BG)).toBeGreaterThan(7)
    expect(lum(t.tooltip!.backgroundColor as unknown as string)).toBeLessThan(0.05)
    for (const axis of ['valueAxis', 'logAxis', 'categoryAxis', 'timeAxis']) {
      const a = t[axis] as Record<string, { color?: string; lineStyle?: { color: string | string[] } }>
      expect(contrast(a.axisLabel!.color!, DARK_CHART_BG)).toBeGreaterThan(4.5)
      const grid = [a.splitLine!.lineStyle!.color].flat()[0]!
      expect(lum(grid)).toBeLessThan(0.1) // faint on dark, not white lines
    }
    for (const c of DARK_PALETTE) expect(contrast(c, DARK_CHART_BG)).toBeGreaterThan(3)
  })

  it('lifts dark colours to readable, keeps readable ones and non-hex ones', () => {
    expect(colorForDark('#d9534f')).toBe('#d9534f')
    expect(colorForDark('hsl(220, 70%, 30%)')).toBe('hsl(220, 70%, 30%)')
    for (const c of ['#555', '#393b79', '#006d6f', '#000000', '#843c39']) {
      const out = colorForDark(c)
      expect(out).not.toBe(c)
      expect(lum(out)).toBeGreaterThanOrEqual(MIN_DARK_LUMINANCE)
      expect(contrast(out, DARK_CHART_BG)).toBeGreaterThan(3)
    }
    // the hue stays (within rounding)
    expect(Math.abs(hue(colorForDark('#843c39')) - hue('#843c39'))).toBeLessThan(4)
  })

  it('the run palette stays distinguishable on dark: every colour readable, no two the same', () => {
    const dark = RUN_PALETTE.map(colorForDark)
    for (const c of dark) expect(contrast(c, DARK_CHART_BG)).toBeGreaterThan(3)
    expect(new Set(dark).size).toBe(RUN_PALETTE.length)
    // every pair stays well apart in RGB
    const distance = (a: string, b: string) => Math.hypot(...parseHex(a)!.map((v, k) => v - parseHex(b)![k]!))
    for (let i = 0; i < dark.length; i++)
      for (let j = i + 1; j < dark.length; j++) expect(distance(dark[i]!, dark[j]!), `${RUN_PALETTE[i]} vs ${RUN_PALETTE[j]}`).toBeGreaterThan(50)
  })

  it('passes an option through: colours lifted, formatters, data and heatmap scales kept', () => {
    const fmt = (v: number) => String(v)
    const data = [
      [1, 2],
      [3, 4],
    ]
    const option = {
      color: ['#393b79', '#d9534f'],
      yAxis: { axisLabel: { formatter: fmt } },
      visualMap: { inRange: { color: ['#f7fbff', '#08306b'] } },
      series: [
        {
          type: 'line',
          data,
          lineStyle: { color: '#555', type: 'dashed' },
          itemStyle: { color: '#d9534f' },
          markLine: { data: [{ lineStyle: { color: '#555' } }] },
        },
      ],
    }
    const out = optionForDark(option)
    expect(out).not.toBe(option)
    expect(out.color[0]).toBe(colorForDark('#393b79'))
    expect(out.color[1]).toBe('#d9534f')
    expect(out.yAxis.axisLabel.formatter).toBe(fmt)
    expect(out.visualMap).toBe(option.visualMap)
    expect(out.series[0]!.data).toBe(data)
    expect(out.series[0]!.lineStyle).toEqual({ color: colorForDark('#555'), type: 'dashed' })
    expect(out.series[0]!.itemStyle.color).toBe('#d9534f')
    expect(out.series[0]!.markLine.data[0]!.lineStyle.color).toBe(colorForDark('#555'))
    expect(option.series[0]!.lineStyle.color).toBe('#555') // the input is left as it was
  })
})
