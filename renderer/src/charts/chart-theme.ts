// The charts on the dark theme: an ECharts theme (background, text, axes,
// grid lines, tooltips, a palette for series without a colour of their own)
// and a pass over an option that lifts the colours the option names itself
// (run colours, dashed reference lines) when they would be too dark to read
// on the dark background, and swaps a heatmap's colour scale (named by its
// visualMap's id, HEATMAP_SCALES) for the scale's dark version. Pure: no
// DOM, no ECharts; the light theme uses neither (ECharts' defaults and the
// options as they are).

export type ColorScheme = 'light' | 'dark'

/** The chart background on dark: the panel colour of styles.css's dark block. */
export const DARK_CHART_BG = '#1b2029'
const DARK_TEXT = '#d5dae3'
const DARK_MUTED = '#9aa3b2'
const DARK_AXIS = '#5b6475'
const DARK_GRID = '#2f3644'

/** Bright, clearly different hues for series that name no colour (ECharts' own dark palette). */
export const DARK_PALETTE = ['#4992ff', '#7cffb2', '#fddd60', '#ff6e76', '#58d9f9', '#05c091', '#ff8a45', '#8d48e3', '#dd79ff'] as const

/** The least relative luminance a line needs on DARK_CHART_BG: a contrast ratio of about 3.5. */
export const MIN_DARK_LUMINANCE = 0.18

/** The chart background on light: the panel colour (white). */
export const LIGHT_CHART_BG = '#ffffff'

/**
 * Heatmap colour scales, low to high, one per kind of data, each in a light
 * and a dark version. A heatmap option names its scale by its visualMap's id
 * (heatmapScaleId) and carries the light colours; optionForDark swaps in the
 * dark ones. On both backgrounds every stop stands out from the background
 * (an empty cell), and a diverging scale's zero is a neutral grey, apart
 * from the background and from both signs.
 */
export const HEATMAP_SCALES = {
  /** Accuracy, 0 to 1: red through yellow to green. */
  accuracy: { light: ['#d73027', '#fee08b', '#1a9850'], dark: ['#e0584f', '#e3c55a', '#3fb56f'] },
  /** Signed values, symmetric around zero: blue below, grey at zero, red above. */
  diverging: { light: ['#2166ac', '#dcdcdc', '#b2182b'], dark: ['#5aa2e6', '#5d6576', '#f0665a'] },
  /** Non-negative weights, 0 to max: pale to deep blue on light, dim to bright blue on dark. */
  weight: { light: ['#f7fbff', '#6baed6', '#08306b'], dark: ['#2e3a52', '#3d85c6', '#c6e6ff'] },
} as const satisfies Record<string, { light: readonly string[]; dark: readonly string[] }>
export type HeatmapScale = keyof typeof HEATMAP_SCALES

const SCALE_ID_PREFIX = 'linea-scale:'
/** The visualMap id that names a heatmap's scale (ECharts takes any id; optionForDark reads it). */
export const heatmapScaleId = (scale: HeatmapScale) => `${SCALE_ID_PREFIX}${scale}`

/**
 * Text on a heatmap's cells, whatever colour they are, on either theme: dark
 * ink with a light halo. Heatmap series are not lifted by optionForDark (the
 * text sits on the cells, not on the background).
 */
export const HEATMAP_CELL_LABEL = { color: '#1d2330', textBorderColor: 'rgba(255,255,255,0.8)', textBorderWidth: 2 } as const

/** A visualMap for the dark theme: its named scale's dark colours, its text light; one without a known scale as it is. */
export function visualMapForDark<T>(visualMap: T): T {
  if (Array.isArray(visualMap)) return visualMap.map((v: unknown) => visualMapForDark(v)) as T
  if (!visualMap || typeof visualMap !== 'object') return visualMap
  const vm = visualMap as Record<string, unknown>
  const id = typeof vm.id === 'string' && vm.id.startsWith(SCALE_ID_PREFIX) ? vm.id.slice(SCALE_ID_PREFIX.length) : ''
  const scale = Object.hasOwn(HEATMAP_SCALES, id) ? HEATMAP_SCALES[id as HeatmapScale] : undefined
  if (!scale) return visualMap
  return {
    ...vm,
    inRange: { ...(vm.inRange as Record<string, unknown> | undefined), color: [...scale.dark] },
    textStyle: { ...(vm.textStyle as Record<string, unknown> | undefined), color: DARK_TEXT },
  } as T
}

/** WCAG contrast ratio of two hex colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const la = relativeLuminance(parseHex(a) ?? [0, 0, 0])
  const lb = relativeLuminance(parseHex(b) ?? [0, 0, 0])
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05)
}

function axis(): Record<string, unknown> {
  return {
    axisLine: { lineStyle: { color: DARK_AXIS } },
    axisTick: { lineStyle: { color: DARK_AXIS } },
    axisLabel: { color: DARK_MUTED },
    splitLine: { lineStyle: { color: [DARK_GRID] } },
    splitArea: { areaStyle: { color: ['rgba(255,255,255,0.02)', 'rgba(255,255,255,0.05)'] } },
    nameTextStyle: { color: DARK_MUTED },
  }
}

/** The ECharts theme registered as 'linea-dark'. */
export function darkChartTheme(): Record<string, unknown> {
  return {
    darkMode: true,
    color: [...DARK_PALETTE],
    backgroundColor: DARK_CHART_BG,
    textStyle: { color: DARK_TEXT },
    title: { textStyle: { color: DARK_TEXT }, subtextStyle: { color: DARK_MUTED } },
    legend: { textStyle: { color: DARK_TEXT }, pageTextStyle: { color: DARK_MUTED }, pageIconColor: DARK_TEXT, pageIconInactiveColor: DARK_AXIS },
    tooltip: {
      backgroundColor: '#252b36',
      borderColor: '#3a4250',
      textStyle: { color: DARK_TEXT },
      axisPointer: { lineStyle: { color: DARK_MUTED }, crossStyle: { color: DARK_MUTED } },
    },
    axisPointer: { lineStyle: { color: DARK_MUTED }, crossStyle: { color: DARK_MUTED }, label: { backgroundColor: '#3a4250', color: DARK_TEXT } },
    categoryAxis: axis(),
    valueAxis: axis(),
    logAxis: axis(),
    timeAxis: axis(),
    dataZoom: {
      borderColor: DARK_GRID,
      textStyle: { color: DARK_MUTED },
      dataBackground: { lineStyle: { color: DARK_AXIS }, areaStyle: { color: DARK_GRID } },
      fillerColor: 'rgba(74,134,234,0.2)',
      handleStyle: { color: '#4a86ea', borderColor: DARK_MUTED },
    },
    visualMap: { textStyle: { color: DARK_TEXT } },
  }
}

/** #rgb or #rrggbb as [r, g, b] in 0..255; null for anything else. */
export function parseHex(color: string): [number, number, number] | null {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim())
  if (!m) return null
  const h = m[1]!.length === 3 ? [...m[1]!].map((c) => c + c).join('') : m[1]!
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)]
}

/** WCAG relative luminance of an sRGB colour, 0 (black) to 1 (white). */
export function relativeLuminance([r, g, b]: readonly [number, number, number]): number {
  const lin = (c: number) => {
    const s = c / 255
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
  }
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

function toHex(rgb: readonly number[]): string {
  return (
    '#' +
    rgb
      .map((c) =>
        Math.round(Math.min(255, Math.max(0, c)))
          .toString(16)
          .padStart(2, '0'),
      )
      .join('')
  )
}

function rgbToHsl([r, g, b]: readonly [number, number, number]): [number, number, number] {
  const [R, G, B] = [r / 255, g / 255, b / 255]
  const max = Math.max(R, G, B)
  const min = Math.min(R, G, B)
  const l = (max + min) / 2
  if (max === min) return [0, 0, l]
  const d = max - min
  const s = l > 0.5 ? d / (2 - max - min) : d / (max + min)
  const h = max === R ? (G - B) / d + (G < B ? 6 : 0) : max === G ? (B - R) / d + 2 : (R - G) / d + 4
  return [h / 6, s, l]
}

function hslToRgb([h, s, l]: readonly [number, number, number]): [number, number, number] {
  if (s === 0) return [l * 255, l * 255, l * 255]
  const q = l < 0.5 ? l * (1 + s) : l + s - l * s
  const p = 2 * l - q
  const hue = (t: number) => {
    const u = t < 0 ? t + 1 : t > 1 ? t - 1 : t
    if (u < 1 / 6) return p + (q - p) * 6 * u
    if (u < 1 / 2) return q
    if (u < 2 / 3) return p + (q - p) * (2 / 3 - u) * 6
    return p
  }
  return [hue(h + 1 / 3) * 255, hue(h) * 255, hue(h - 1 / 3) * 255]
}

/**
 * Where lifting alone would land too near another run colour (the darker
 * hues of runs/colors.ts would meet their lighter neighbours: indigo and
 * purple, plum and purple, brown and brick): chosen by hand.
 */
const DARK_CHOSEN: Record<string, string> = {
  '#393b79': '#6f86ff',
  '#637939': '#8fae3e',
  '#8c564b': '#b08a78',
  '#7b4173': '#b5508f',
}

/**
 * A colour readable on the dark chart background: the same colour when it
 * already is (or is not a hex colour), else the same hue and saturation made
 * lighter, just enough to reach MIN_DARK_LUMINANCE, so different hues stay
 * different (DARK_CHOSEN names the exceptions).
 */
export function colorForDark(color: string): string {
  const chosen = DARK_CHOSEN[color.toLowerCase()]
  if (chosen) return chosen
  const rgb = parseHex(color)
  if (!rgb || relativeLuminance(rgb) >= MIN_DARK_LUMINANCE) return color
  const [h, s, l0] = rgbToHsl(rgb)
  for (let l = l0; l <= 1; l += 0.01) {
    const next = hslToRgb([h, s, l])
    if (relativeLuminance(next) >= MIN_DARK_LUMINANCE) return toHex(next)
  }
  return '#ffffff'
}

/** A number, string, ... or a list of them (a data point): nothing to walk into. */
const plain = (v: unknown): boolean => typeof v !== 'object' || v === null || (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null))

/**
 * The option for the dark theme: a copy with every colour it names under a
 * `color` key (a string or a list of them) passed through colorForDark;
 * visualMaps through visualMapForDark (a named scale gets its dark colours,
 * any other is left as it is); heatmap series as they are (their colours
 * come from the scale, their labels sit on the cells); functions
 * (formatters) and everything else kept as they are.
 */
export function optionForDark<T>(option: T): T {
  const walk = (value: unknown, key: string | undefined): unknown => {
    if (key === 'visualMap') return visualMapForDark(value)
    if (key === 'color') {
      if (typeof value === 'string') return colorForDark(value)
      if (Array.isArray(value)) return value.map((c) => (typeof c === 'string' ? colorForDark(c) : walk(c, undefined)))
    }
    if (Array.isArray(value)) return value.every(plain) ? value : value.map((v) => walk(v, undefined))
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      if ((value as { type?: unknown }).type === 'heatmap') return value
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) out[k] = walk(v, k)
      return out
    }
    return value
  }
  return walk(option, undefined) as T
}

/** The name useChart inits a chart with: ECharts' default (undefined) on light. */
export function chartThemeName(scheme: ColorScheme): string | undefined {
  return scheme === 'dark' ? 'linea-dark' : undefined
}
