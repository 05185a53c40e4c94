// Chart options for an inspection: the MQAR recall grid (pairs × distance or
// position), accuracy against length (several runs overlaid, the trained
// length marked), the recurrent state over time (‖S_t‖, S_t itself, its
// singular values and effective rank, gates and β) and attention maps (a
// head's T × T matrix, one query's row). Pure functions of the InspectResult,
// unit-tested; the Inspect screen draws them with ChartBox.
import type { EChartsCoreOption } from 'echarts/core'
import type { HeadCapture, LayerCapture, LengthCurve, RecallAnalysis, StateSnapshot } from '../../../electron/api/inspect'
import { HEATMAP_CELL_LABEL, HEATMAP_SCALES, heatmapScaleId, type HeatmapScale } from './chart-theme'

const TITLE = { left: 'center', textStyle: { fontSize: 13 } }
const PALETTE = ['#2f6fdd', '#d9534f', '#5cb85c', '#f0ad4e', '#6f42c1', '#17a2b8', '#e83e8c', '#8a6d3b', '#20c997', '#6c757d']
/**
 * A heatmap's colour scale (chart-theme's HEATMAP_SCALES: accuracy,
 * diverging, weight) as visualMap keys: its id names the scale, so the dark
 * theme draws the scale's dark version; the colours are the light one.
 */
function scale(name: HeatmapScale): { id: string; inRange: { color: string[] } } {
  return { id: heatmapScaleId(name), inRange: { color: [...HEATMAP_SCALES[name].light] } }
}

export const headColor = (i: number) => PALETTE[i % PALETTE.length]!

// ---- recall ------------------------------------------------------------------

export type RecallAxis = 'distance' | 'position'

/**
 * Heatmap cells [bucket, pairs row, accuracy]: accuracy is null where the
 * grid has no query (a key cannot lie 16 back at position 3), so empty cells
 * stay blank instead of reading as 0% recall.
 */
export function recallCells(r: RecallAnalysis, axis: RecallAxis): [number, number, number | null, number][] {
  const grid = axis === 'distance' ? r.byDistance : r.byPosition
  return grid.flatMap((row, j) => row.map((c, b): [number, number, number | null, number] => [b, j, c.count ? c.correct / c.count : null, c.count]))
}

export function recallHeatmapOption(r: RecallAnalysis, axis: RecallAxis): EChartsCoreOption {
  const buckets = axis === 'distance' ? r.distanceBuckets : r.positionBuckets
  const pairs = r.numKvPairs.map((n) => `${n} pair${n > 1 ? 's' : ''}${n === r.trainedNumKvPairs ? ' (trained)' : ''}`)
  return {
    animation: false,
    title: { ...TITLE, text: axis === 'distance' ? 'Recall by query–key distance and number of pairs' : 'Recall by query position and number of pairs' },
    tooltip: {
      position: 'top',
      formatter: (p: { value: [number, number, number | null, number] }) => {
        const [b, j, a, n] = p.value
        return `${r.numKvPairs[j]} pairs, ${axis} ${buckets[b]}: ${a === null ? 'no queries' : `${(100 * a).toFixed(1)}% of ${n}`}`
      },
    },
    grid: { left: 110, right: 30, top: 36, bottom: 80 },
    xAxis: {
      type: 'category',
      data: buckets,
      name: axis === 'distance' ? 'query − key position' : 'query position',
      nameLocation: 'middle',
      nameGap: 28,
      splitArea: { show: true },
      axisLabel: { interval: 0, fontSize: 10 },
    },
    yAxis: { type: 'category', data: pairs, splitArea: { show: true } },
    // dimension 2: colour by accuracy (the cells also carry their query count)
    visualMap: {
      dimension: 2,
      min: 0,
      max: 1,
      calculable: false,
      orient: 'horizontal',
      left: 'center',
      bottom: 0,
      itemHeight: 160,
      ...scale('accuracy'),
      text: ['100%', '0%'],
    },
    series: [
      {
        name: 'recall',
        type: 'heatmap',
        data: recallCells(r, axis),
        label: {
          show: true,
          fontSize: 10,
          ...HEATMAP_CELL_LABEL,
          formatter: (p: { value: [number, number, number | null] }) => (p.value[2] === null ? '' : `${Math.round(100 * p.value[2])}`),
        },
      },
    ],
  }
}

// ---- accuracy against length --------------------------------------------------

export interface LengthCurveSeries {
  id: string
  name: string
  color?: string
  curve: LengthCurve
}

/** One line per run, the trained lengths marked; a log₂ length axis (lengths double). */
export function lengthCurveOption(runs: readonly LengthCurveSeries[]): EChartsCoreOption {
  const trained = [...new Set(runs.map((r) => r.curve.trainedLength))]
  return {
    animation: false,
    title: { ...TITLE, text: 'Accuracy against sequence length' },
    legend: { bottom: 0, type: 'scroll', textStyle: { fontSize: 11 } },
    tooltip: { trigger: 'axis' },
    grid: { left: 60, right: 30, top: 40, bottom: 64 },
    xAxis: { type: 'log', logBase: 2, name: 'sequence length', nameLocation: 'middle', nameGap: 26 },
    yAxis: { type: 'value', min: 0, max: 1, name: 'accuracy' },
    series: runs.map((run, i) => ({
      id: run.id,
      name: run.name,
      type: 'line',
      symbolSize: 7,
      itemStyle: { color: run.color ?? headColor(i) },
      data: [...run.curve.points].sort((a, b) => a.seqLen - b.seqLen).map((p) => [p.seqLen, p.accuracy]),
      markLine:
        i === 0
          ? {
              symbol: 'none',
              silent: true,
              lineStyle: { color: '#555', type: 'dashed' },
              label: { formatter: 'trained {c}', fontSize: 10 },
              data: trained.map((x) => ({ xAxis: x })),
            }
          : undefined,
    })),
  }
}

// ---- state over time ----------------------------------------------------------

/** ‖S_t‖_F per head of a linear layer over the steps it was measured at. */
export function stateNormOption(layer: LayerCapture): EChartsCoreOption {
  const steps = layer.stateNormSteps ?? []
  return {
    animation: false,
    title: { ...TITLE, text: `‖S_t‖ over time, layer ${layer.index}` },
    legend: { bottom: 0, textStyle: { fontSize: 11 } },
    tooltip: { trigger: 'axis' },
    grid: { left: 60, right: 24, top: 40, bottom: 56 },
    xAxis: { type: 'value', name: 't', nameLocation: 'middle', nameGap: 24, min: 'dataMin', max: 'dataMax' },
    yAxis: { type: 'value', name: '‖S_t‖_F' },
    series: layer.heads.map((h, i) => ({
      name: `head ${h.head}`,
      type: 'line',
      showSymbol: false,
      itemStyle: { color: headColor(i) },
      data: (h.stateNorm ?? []).map((v, j) => [steps[j], v]),
    })),
  }
}

/** The largest |value|: a colour range symmetric around zero. */
export function absMax(values: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]!))
  return m || 1
}

/** S_t as a dk × dv heatmap (rows key dims, columns value dims), zero a neutral grey. */
export function stateHeatmapOption(s: StateSnapshot, title: string): EChartsCoreOption {
  const data: [number, number, number][] = []
  for (let i = 0; i < s.dk; i++) for (let j = 0; j < s.dv; j++) data.push([j, i, s.values[i * s.dv + j]!])
  const range = absMax(s.values)
  return {
    animation: false,
    title: { ...TITLE, text: title },
    tooltip: { formatter: (p: { value: [number, number, number] }) => `S[${p.value[1]}, ${p.value[0]}] = ${p.value[2].toPrecision(4)}` },
    grid: { left: 50, right: 80, top: 36, bottom: 40 },
    xAxis: { type: 'category', data: Array.from({ length: s.dv }, (_, j) => j), name: 'value dim', nameLocation: 'middle', nameGap: 24 },
    yAxis: { type: 'category', data: Array.from({ length: s.dk }, (_, i) => i), name: 'key dim', inverse: true },
    visualMap: {
      min: -range,
      max: range,
      calculable: true,
      orient: 'vertical',
      right: 0,
      top: 'middle',
      itemHeight: 140,
      ...scale('diverging'),
      precision: 3,
    },
    series: [{ type: 'heatmap', data, progressive: 0 }],
  }
}

/** Whole decades around the positive values: a log axis that does not stretch to 10^10 for one tiny σ. */
export function logRange(values: readonly number[]): { min?: number; max?: number } {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v))
  if (!positive.length) return {}
  return { min: 10 ** Math.floor(Math.log10(Math.min(...positive))), max: 10 ** Math.ceil(Math.log10(Math.max(...positive))) }
}

/** Singular values below this fraction of the largest are rounding noise of a zero (a state of rank < dk before dk steps). */
export const SINGULAR_NOISE = 1e-6

/**
 * The lightness of the singular-value lines, first step to last: a blue
 * that darkens with time but stays between these, so the first line still
 * reads on white and the last on the dark background (a ramp down to 25%
 * vanished there). HSL, not hex: the dark pass leaves it as it is.
 */
export const SPECTRUM_LIGHTNESS = { first: 68, last: 42 } as const

/** The colour of step k's line of `count`. */
export function spectrumColor(k: number, count: number): string {
  const { first, last } = SPECTRUM_LIGHTNESS
  return `hsl(220, 70%, ${+(first - ((first - last) * k) / Math.max(1, count - 1)).toFixed(1)}%)`
}

/** Singular values of S_t at each captured step, largest first, one line per step (darker = later). */
export function spectrumOption(head: HeadCapture, layerIndex: number): EChartsCoreOption {
  const snaps = head.snapshots ?? []
  const floor = SINGULAR_NOISE * Math.max(0, ...snaps.flatMap((s) => s.singular))
  // A log axis cannot draw zeros: a σ that is (numerically) 0 leaves a gap.
  const shown = (v: number) => (v > floor ? v : null)
  return {
    animation: false,
    title: { ...TITLE, text: `Singular values of S_t, layer ${layerIndex} head ${head.head}` },
    legend: { bottom: 0, type: 'scroll', textStyle: { fontSize: 10 } },
    tooltip: { trigger: 'axis' },
    grid: { left: 60, right: 24, top: 40, bottom: 60 },
    xAxis: {
      type: 'category',
      data: Array.from({ length: Math.max(0, ...snaps.map((s) => s.singular.length)) }, (_, i) => i + 1),
      name: 'i',
      nameLocation: 'middle',
      nameGap: 24,
    },
    yAxis: { type: 'log', name: 'σ_i', ...logRange(snaps.flatMap((s) => s.singular).filter((v) => v > floor)) },
    series: snaps.map((s, k) => ({
      name: `t = ${s.t}`,
      type: 'line',
      showSymbol: false,
      data: s.singular.map(shown),
      lineStyle: { width: 1.5 },
      itemStyle: { color: spectrumColor(k, snaps.length) },
    })),
  }
}

/** Effective rank of S_t per head over the captured steps; the most it can be, min(dk, dv), marked. */
export function effectiveRankOption(layer: LayerCapture): EChartsCoreOption {
  const D = Math.min(layer.dk, layer.dv)
  return {
    animation: false,
    title: { ...TITLE, text: `Effective rank of S_t, layer ${layer.index}` },
    legend: { bottom: 0, textStyle: { fontSize: 11 } },
    tooltip: { trigger: 'axis' },
    grid: { left: 60, right: 24, top: 40, bottom: 56 },
    xAxis: { type: 'value', name: 't', nameLocation: 'middle', nameGap: 24, min: 'dataMin', max: 'dataMax' },
    yAxis: { type: 'value', min: 0, max: D, name: 'effective rank' },
    series: layer.heads.map((h, i) => ({
      name: `head ${h.head}`,
      type: 'line',
      itemStyle: { color: headColor(i) },
      data: (h.snapshots ?? []).map((s) => [s.t, s.effectiveRank]),
      markLine:
        i === 0
          ? {
              symbol: 'none',
              silent: true,
              lineStyle: { color: '#999', type: 'dashed' },
              label: { formatter: `min(dk, dv) = ${D}`, fontSize: 10, position: 'insideEndTop' },
              data: [{ yAxis: D }],
            }
          : undefined,
    })),
  }
}

export const GATE_TRACES = [
  ['decay', 'decay a_t (vector gates: mean over key dims)'],
  ['decayMin', 'decay, smallest key dim'],
  ['inputGate', 'input gate w_t'],
  ['beta', 'β_t'],
] as const

/** Which of a head's gate traces were captured (a layer has the gates its switches give it). */
export function gateTraces(head: HeadCapture): (typeof GATE_TRACES)[number][] {
  return GATE_TRACES.filter(([key]) => (head[key]?.length ?? 0) > 0)
}

/** Gates and β of one head over every step t. */
export function gateTraceOption(head: HeadCapture, layerIndex: number): EChartsCoreOption {
  return {
    animation: false,
    title: { ...TITLE, text: `Gates and β, layer ${layerIndex} head ${head.head}` },
    legend: { bottom: 0, textStyle: { fontSize: 11 } },
    tooltip: { trigger: 'axis' },
    grid: { left: 60, right: 24, top: 40, bottom: 56 },
    xAxis: { type: 'value', name: 't', nameLocation: 'middle', nameGap: 24, min: 'dataMin', max: 'dataMax' },
    yAxis: { type: 'value', name: 'value' },
    series: gateTraces(head).map(([key, label], i) => ({
      name: label,
      type: 'line',
      showSymbol: false,
      itemStyle: { color: headColor(i) },
      data: head[key]!.map((v, t) => [t, v]),
    })),
  }
}

// ---- attention -----------------------------------------------------------------

/** Axis labels for T tokens: the token ids when few enough to read, positions otherwise. */
function tokenAxis(tokens: readonly number[]): string[] {
  return tokens.map((tok, t) => (tokens.length <= 48 ? `${t}:${tok}` : String(t)))
}

/** The share of |values| that sets an attention map's colour range; the few larger ones saturate. */
export const ATTENTION_COLOR_QUANTILE = 0.98

/** The q-quantile of |v| over the nonzero entries (early rows have few keys and weights near 1, which would wash out the rest). */
export function absQuantile(values: ArrayLike<number>, q: number): number {
  const abs: number[] = []
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) abs.push(Math.abs(values[i]!))
  if (!abs.length) return 1
  abs.sort((a, b) => a - b)
  return abs[Math.min(abs.length - 1, Math.floor(q * abs.length))]! || 1
}

/** Most cells per side an attention heatmap draws; longer inputs are shown in blocks (T = 1024: 4 × 4). */
export const MAX_HEATMAP_SIDE = 256

/**
 * The causal half of a T × T map as heatmap cells [key block, query block,
 * mean of M over the block's causal entries], in blocks of `block` × `block`
 * positions so a long input stays a few tens of thousands of cells.
 */
export function attentionCells(map: readonly number[], T: number, block: number): [number, number, number][] {
  const n = Math.ceil(T / block)
  const sum = new Float64Array(n * n)
  const count = new Uint32Array(n * n)
  for (let t = 0; t < T; t++)
    for (let s = 0; s <= t; s++) {
      const cell = Math.floor(t / block) * n + Math.floor(s / block)
      sum[cell] = sum[cell]! + map[t * T + s]!
      count[cell] = count[cell]! + 1
    }
  const cells: [number, number, number][] = []
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) cells.push([j, i, sum[i * n + j]! / count[i * n + j]!])
  return cells
}

/**
 * A head's T × T attention map (rows are queries, o_t = Σ_s M[t, s] v_s).
 * Softmax weights and additive maps are ≥ 0 (the weight scale); the delta
 * rule's WY form can be negative, then the scale is diverging, symmetric
 * around zero.
 * The colour saturates at the ATTENTION_COLOR_QUANTILE of |M| (stated in the
 * title); past MAX_HEATMAP_SIDE positions, cells are block means.
 */
export function attentionHeatmapOption(map: readonly number[], tokens: readonly number[], title: string): EChartsCoreOption {
  const T = tokens.length
  const block = Math.ceil(T / MAX_HEATMAP_SIDE)
  const data = attentionCells(map, T, block)
  const signed = data.some(([, , v]) => v < 0)
  const range = absQuantile(
    data.map(([, , v]) => v),
    ATTENTION_COLOR_QUANTILE,
  )
  const labels = block === 1 ? tokenAxis(tokens) : Array.from({ length: Math.ceil(T / block) }, (_, b) => `${b * block}`)
  const blocks = block === 1 ? '' : `, ${block}×${block} blocks`
  return {
    animation: false,
    title: { ...TITLE, text: `${title}  (colour ${signed ? '±' : '0 to '}${range.toPrecision(2)}${blocks})`, textStyle: { fontSize: 11 } },
    tooltip: {
      formatter: (p: { value: [number, number, number] }) =>
        block === 1
          ? `query ${p.value[1]} → key ${p.value[0]}: ${p.value[2].toPrecision(3)}`
          : `queries ${p.value[1] * block}… → keys ${p.value[0] * block}…: mean ${p.value[2].toPrecision(3)}`,
    },
    grid: { left: 36, right: 8, top: 26, bottom: 34 },
    xAxis: { type: 'category', data: labels, name: 'key', nameLocation: 'middle', nameGap: 20, axisLabel: { fontSize: 8 }, axisTick: { show: false } },
    yAxis: {
      type: 'category',
      data: labels,
      name: 'query',
      nameLocation: 'middle',
      nameGap: 26,
      inverse: true,
      axisLabel: { fontSize: 8 },
      axisTick: { show: false },
    },
    visualMap: { show: false, min: signed ? -range : 0, max: range, ...scale(signed ? 'diverging' : 'weight') },
    series: [{ type: 'heatmap', data, progressive: 0 }],
  }
}

/**
 * One query's row of a head's map: how much each earlier position
 * contributes. For an MQAR query the pair's key (dark green) and value
 * (light green) positions are highlighted: a model that recalls reads there.
 */
export function attentionRowOption(
  map: readonly number[],
  tokens: readonly number[],
  query: number,
  pair: { key: number; value: number } | undefined,
  title: string,
): EChartsCoreOption {
  const T = tokens.length
  const row = Array.from({ length: query + 1 }, (_, s) => map[query * T + s]!)
  return {
    animation: false,
    title: { ...TITLE, text: title, textStyle: { fontSize: 12 } },
    tooltip: { trigger: 'axis' },
    grid: { left: 60, right: 20, top: 32, bottom: 48 },
    xAxis: {
      type: 'category',
      data: row.map((_, s) => `${s}:${tokens[s]}`),
      name: 'key position:token',
      nameLocation: 'middle',
      nameGap: 30,
      axisLabel: { fontSize: 9 },
    },
    yAxis: { type: 'value', name: 'M[t, s]' },
    series: [
      {
        type: 'bar',
        data: row.map((v, s) => ({ value: v, itemStyle: { color: s === pair?.key ? '#1a9850' : s === pair?.value ? '#91cf60' : '#2f6fdd' } })),
      },
    ],
  }
}
