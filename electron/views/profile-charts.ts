// Chart options for a profile: time per layer and op, its spread over the
// repeats, memory by category, the roofline of the step's kernels, and the
// sequence-length sweep (log-log). Pure: the Profile screen draws them on
// canvas, the report renders the same options to SVG on the server. Two
// profiles compared pass the same ProfileAxes (sharedAxes) to every option,
// so their charts read on the same scales. Legends are plain (they wrap;
// never paged), labels that would overlap are hidden, log axes carry ticks
// like 1 KiB, 1 ms, 10 GFLOP/s.
import type { EChartsCoreOption } from 'echarts/core'
import { formatBytes } from '../api/format'
import type { OpProfile, ProfileResult } from '../api/profile'
import { formatBytesTick, formatMsTick, formatSiTick } from './ticks'

const PALETTE = ['#2f6fdd', '#d9534f', '#5cb85c', '#f0ad4e', '#6f42c1', '#17a2b8', '#e83e8c', '#8a6d3b', '#20c997', '#6c757d']
const OTHER = 'other'
const TOP_OPS = 8

/** Scopes in model order: embedding, layers by index, head, loss, optimizer. */
export function scopeOrder(scopes: string[]): string[] {
  const rank = (s: string) => {
    if (s === 'embedding') return -1
    const m = /^layers\.(\d+)\.(\w+)/.exec(s)
    if (m) return Number(m[1]) * 2 + (m[2] === 'mlp' ? 1 : 0)
    return { head: 1e6, loss: 1e6 + 1, optimizer: 1e6 + 2 }[s] ?? 1e6 + 3
  }
  return [...new Set(scopes)].sort((a, b) => rank(a) - rank(b))
}

/** The ops that take the most time overall; the rest are "other". */
export function topOps(ops: OpProfile[], n = TOP_OPS): string[] {
  const total = new Map<string, number>()
  for (const o of ops) total.set(o.op, (total.get(o.op) ?? 0) + o.ms)
  return [...total.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([op]) => op)
}

type SweepMetric = 'trainStepMs' | 'prefillMs' | 'decodeMsPerToken' | 'peakBytes'
const SWEEP_METRICS: SweepMetric[] = ['trainStepMs', 'prefillMs', 'decodeMsPerToken', 'peakBytes']

/** Axis ranges two (or more) profiles' charts share, so they compare at a glance. */
export interface ProfileAxes {
  /** Model parts of all, in model order. */
  scopes: string[]
  /** The ops stacked by name (the rest are "other"), from all: each op keeps its colour in every chart. */
  ops: string[]
  /** Largest stacked time of a model part, ms. */
  layerMaxMs: number
  /** Largest time of a part in one phase over the repeats, ms. */
  partMaxMs: number
  memoryMax: number
  roofX: [number, number]
  roofY: [number, number]
  sweep: Record<SweepMetric, { x: [number, number]; y: [number, number] }>
}

const positive = (xs: number[]) => xs.filter((x) => Number.isFinite(x) && x > 0)
/** [lo, hi] widened to whole powers of base (log axes then start and end on a labelled tick). */
function logRange(xs: number[], base: number, fallback: [number, number]): [number, number] {
  const v = positive(xs)
  if (!v.length) return fallback
  const lg = (x: number) => Math.log(x) / Math.log(base)
  return [base ** Math.floor(lg(Math.min(...v)) + 1e-9), base ** Math.ceil(lg(Math.max(...v)) - 1e-9)]
}

function layerTotals(p: ProfileResult): number[] {
  const by = new Map<string, number>()
  for (const o of p.ops) by.set(o.scope, (by.get(o.scope) ?? 0) + o.ms)
  return [...by.values()]
}

/** The ranges that hold every profile's data: pass them to each chart option of each profile. */
export function sharedAxes(profiles: ProfileResult[]): ProfileAxes {
  const roof = profiles.flatMap((p) => rooflinePoints(p))
  const peaks = profiles.map((p) => p.ceilings.flopsPerSecond)
  const ridgeX = profiles.map((p) => p.ceilings.flopsPerSecond / p.ceilings.bandwidthBytesPerSecond)
  const sweep = {} as ProfileAxes['sweep']
  for (const m of SWEEP_METRICS) {
    const pts = profiles.flatMap((p) => [...p.sweep.model.points, ...p.sweep.transformer.points])
    sweep[m] = {
      x: logRange(
        pts.map((q) => q.seqLen),
        2,
        [1, 2],
      ),
      y: logRange(
        pts.map((q) => q[m]),
        m === 'peakBytes' ? 2 : 10,
        [1, 10],
      ),
    }
  }
  return {
    scopes: scopeOrder(profiles.flatMap((p) => p.ops.map((o) => o.scope))),
    ops: topOps(profiles.flatMap((p) => p.ops)),
    layerMaxMs: Math.max(1e-9, ...profiles.flatMap(layerTotals)),
    partMaxMs: Math.max(1e-9, ...profiles.flatMap((p) => (p.parts ?? []).map((x) => x.spread?.max ?? x.ms))),
    memoryMax: Math.max(1, ...profiles.flatMap((p) => MEMORY_CATEGORIES.map(([key]) => p.memory[key]))),
    roofX: logRange([...roof.map((q) => q.intensity), 0.01, 100, ...ridgeX], 10, [0.01, 100]),
    roofY: logRange([...roof.map((q) => q.flopsPerSecond), ...peaks], 10, [1e6, 1e12]),
    sweep,
  }
}

/**
 * A plain legend under the plot: it wraps to more lines, never pages. The gap
 * is wide because server-side rendering (the report) measures text without a
 * font and can place an item's name a little short of its true width.
 */
const LEGEND = { type: 'plain', bottom: 0, left: 'center', width: '92%', itemGap: 22, itemWidth: 14, textStyle: { fontSize: 10 } }
/** One legend item per line, for a few long names (the sweep's series). */
const LEGEND_LINES = { type: 'plain', orient: 'vertical', bottom: 0, left: 'center', itemGap: 4, itemWidth: 14, textStyle: { fontSize: 10 } }

/** A step for a byte axis from 0 to max: a power of two, about five ticks (256 KiB, 512 KiB, ...). */
export function byteAxisStep(max: number): number {
  return 2 ** Math.max(0, Math.ceil(Math.log2(Math.max(max, 1) / 5)))
}

export function timeByLayerOption(p: ProfileResult, axes?: ProfileAxes): EChartsCoreOption {
  const scopes = axes?.scopes ?? scopeOrder(p.ops.map((o) => o.scope))
  const top = axes?.ops ?? topOps(p.ops)
  const names = [...top, ...(p.ops.some((o) => !top.includes(o.op)) ? [OTHER] : [])]
  const series = names.map((name, i) => ({
    name,
    type: 'bar',
    stack: 'time',
    itemStyle: { color: PALETTE[i % PALETTE.length] },
    data: scopes.map((s) => {
      const ms = p.ops.filter((o) => o.scope === s && (name === OTHER ? !top.includes(o.op) : o.op === name)).reduce((n, o) => n + o.ms, 0)
      return Math.round(ms * 1000) / 1000
    }),
  }))
  return {
    animation: false,
    title: { text: 'Time per step, by model part and op (forward + backward)', left: 'center', textStyle: { fontSize: 13 } },
    legend: LEGEND,
    tooltip: { trigger: 'axis' },
    grid: { left: 130, right: 40, top: 36, bottom: 44 + 20 * Math.ceil(names.length / 4), containLabel: false },
    xAxis: {
      type: 'value',
      name: 'ms',
      nameLocation: 'end',
      max: axes ? niceMax(axes.layerMaxMs) : undefined,
      axisLabel: { formatter: (v: number) => formatMsTick(v), hideOverlap: true },
    },
    yAxis: { type: 'category', data: scopes, inverse: true, axisLabel: { fontSize: 10, hideOverlap: true } },
    series,
  }
}

/** 1, 2, 5 times a power of ten at or above x. */
export function niceMax(x: number): number {
  if (!(x > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(x))
  return ([1, 2, 5, 10].find((m) => m * p >= x * (1 - 1e-12)) ?? 10) * p
}

/** Time of each model part in each phase over the repeats: box from the first to the third quartile, whiskers from min to max. */
export function partSpreadOption(p: ProfileResult, axes?: ProfileAxes): EChartsCoreOption {
  const order = axes?.scopes ?? scopeOrder((p.parts ?? []).map((x) => x.scope))
  const phases = ['forward', 'backward', 'optimizer'] as const
  const rank = (x: { scope: string; phase: string }) => order.indexOf(x.scope) * 3 + phases.indexOf(x.phase as (typeof phases)[number])
  const parts = [...(p.parts ?? [])].filter((x) => x.spread && Number.isFinite(x.spread.median)).sort((a, b) => rank(a) - rank(b))
  const labels = parts.map((x) => `${x.scope} · ${x.phase}`)
  return {
    animation: false,
    title: {
      text: `Time per model part over ${p.settings.repeats} repeats (box: middle half, whiskers: min–max)`,
      left: 'center',
      textStyle: { fontSize: 13 },
    },
    tooltip: { trigger: 'item' },
    grid: { left: 170, right: 40, top: 36, bottom: 36 },
    xAxis: {
      type: 'value',
      name: 'ms',
      min: 0,
      max: axes ? niceMax(axes.partMaxMs) : undefined,
      axisLabel: { formatter: (v: number) => formatMsTick(v), hideOverlap: true },
    },
    yAxis: { type: 'category', data: labels, inverse: true, axisLabel: { fontSize: 10, hideOverlap: true } },
    series: [
      {
        name: 'spread',
        type: 'boxplot',
        itemStyle: { color: '#dbe7fb', borderColor: '#2f6fdd' },
        boxWidth: [4, 12],
        data: parts.map((x) => [x.spread.min, x.spread.q1, x.spread.median, x.spread.q3, x.spread.max]),
      },
    ],
  }
}

export const MEMORY_CATEGORIES = [
  ['parameters', 'parameters'],
  ['gradients', 'gradients'],
  ['optimizerState', 'optimizer state'],
  ['activations', 'activations (saved for backward)'],
  ['workspace', 'workspace'],
  ['recurrentState', 'inference state / KV cache (per sequence)'],
] as const

export function memoryOption(p: ProfileResult, axes?: ProfileAxes): EChartsCoreOption {
  const largest = axes?.memoryMax ?? Math.max(1, ...MEMORY_CATEGORIES.map(([key]) => p.memory[key]))
  const step = byteAxisStep(largest)
  const memoryMax = Math.ceil(largest / step) * step
  return {
    animation: false,
    title: { text: `Memory by category (peak ${formatBytes(p.memory.peak)})`, left: 'center', textStyle: { fontSize: 13 } },
    tooltip: { trigger: 'axis' },
    // room for the longest category at 10 px (containLabel under-measures without a font on the server)
    grid: { left: 240, right: 70, top: 36, bottom: 30 },
    xAxis: { type: 'value', min: 0, max: memoryMax, interval: step, axisLabel: { formatter: (v: number) => formatBytesTick(v), hideOverlap: true } },
    yAxis: { type: 'category', data: MEMORY_CATEGORIES.map(([, label]) => label), inverse: true, axisLabel: { fontSize: 10 } },
    series: [
      {
        type: 'bar',
        itemStyle: { color: '#2f6fdd' },
        label: { show: true, position: 'right', formatter: (x: { value: number }) => formatBytes(x.value), fontSize: 10 },
        labelLayout: { hideOverlap: true },
        data: MEMORY_CATEGORIES.map(([key]) => p.memory[key]),
      },
    ],
  }
}

/** Per op (all scopes and phases together): intensity, achieved FLOP/s, time. */
export function rooflinePoints(p: ProfileResult) {
  const byOp = new Map<string, { flops: number; bytes: number; ms: number }>()
  for (const o of p.ops) {
    const e = byOp.get(o.op) ?? { flops: 0, bytes: 0, ms: 0 }
    e.flops += o.flops
    e.bytes += o.bytes
    e.ms += o.ms
    byOp.set(o.op, e)
  }
  return [...byOp.entries()]
    .filter(([, e]) => e.flops > 0 && e.bytes > 0 && e.ms > 0)
    .map(([op, e]) => ({ op, intensity: e.flops / e.bytes, flopsPerSecond: e.flops / (e.ms / 1000), ms: e.ms }))
}

export function rooflineOption(p: ProfileResult, axes?: ProfileAxes): EChartsCoreOption {
  const points = rooflinePoints(p)
  const { bandwidthBytesPerSecond: bw, flopsPerSecond: peak } = p.ceilings
  const ridge = peak / bw
  const [lo, hi] = axes?.roofX ?? logRange([...points.map((q) => q.intensity), 0.01, 100, ridge], 10, [0.01, 100])
  const [yLo, yHi] = axes?.roofY ?? logRange([...points.map((q) => q.flopsPerSecond), peak], 10, [1e6, 1e12])
  const roof = [lo, ridge, hi].map((x) => [x, Math.min(peak, bw * x)])
  const maxMs = Math.max(...points.map((q) => q.ms), 1e-9)
  return {
    animation: false,
    title: { text: 'Roofline: achieved FLOP/s per kernel against the measured ceilings', left: 'center', textStyle: { fontSize: 13 } },
    tooltip: { trigger: 'item' },
    grid: { left: 90, right: 30, top: 36, bottom: 50 },
    xAxis: {
      type: 'log',
      name: 'FLOPs per byte',
      nameLocation: 'middle',
      nameGap: 28,
      min: lo,
      max: hi,
      axisLabel: { formatter: (v: number) => formatSiTick(v), hideOverlap: true },
    },
    yAxis: { type: 'log', name: 'FLOP/s', min: yLo, max: yHi, axisLabel: { formatter: (v: number) => formatSiTick(v, 'FLOP/s'), hideOverlap: true } },
    series: [
      { name: 'ceiling', type: 'line', data: roof, showSymbol: false, lineStyle: { color: '#999', type: 'dashed' } },
      {
        name: 'kernels',
        type: 'scatter',
        data: points.map((q) => ({ name: q.op, value: [q.intensity, q.flopsPerSecond], symbolSize: 6 + 24 * Math.sqrt(q.ms / maxMs) })),
        label: { show: true, formatter: (x: { name: string }) => x.name, position: 'right', fontSize: 9 },
        // neighbours' names move apart, and one that still collides is left out (the tooltip names it)
        labelLayout: { moveOverlap: 'shiftY', hideOverlap: true },
        itemStyle: { color: '#2f6fdd' },
      },
    ],
  }
}

const SWEEP_TITLES: Record<SweepMetric, string> = {
  trainStepMs: 'Training step (batch 1)',
  prefillMs: 'Prefill (forward)',
  decodeMsPerToken: 'Decoding, per token',
  peakBytes: 'Peak memory of a training step',
}

export function sweepOption(p: ProfileResult, metric: SweepMetric, axes?: ProfileAxes): EChartsCoreOption {
  const series = [p.sweep.model, p.sweep.transformer].map((s, i) => ({
    name: `${s.name}${metric === 'trainStepMs' && s.slopes.trainStep !== null ? ` (slope ${s.slopes.trainStep.toFixed(2)})` : ''}${
      metric === 'prefillMs' && s.slopes.prefill !== null ? ` (slope ${s.slopes.prefill.toFixed(2)})` : ''
    }`,
    type: 'line',
    data: s.points.map((pt) => [pt.seqLen, pt[metric]]),
    itemStyle: { color: i === 0 ? '#2f6fdd' : '#d9534f' },
  }))
  const bytes = metric === 'peakBytes'
  const all = [p.sweep.model, p.sweep.transformer].flatMap((s) => s.points)
  const range = axes?.sweep[metric] ?? {
    x: logRange(
      all.map((q) => q.seqLen),
      2,
      [1, 2],
    ),
    y: logRange(
      all.map((q) => q[metric]),
      bytes ? 2 : 10,
      [1, 10],
    ),
  }
  return {
    animation: false,
    title: { text: SWEEP_TITLES[metric], left: 'center', textStyle: { fontSize: 13 } },
    legend: LEGEND_LINES,
    tooltip: { trigger: 'axis' },
    grid: { left: 76, right: 24, top: 36, bottom: 76 },
    xAxis: {
      type: 'log',
      logBase: 2,
      name: 'T',
      nameLocation: 'middle',
      nameGap: 24,
      min: range.x[0],
      max: range.x[1],
      axisLabel: { formatter: (v: number) => String(Math.round(v)), hideOverlap: true },
    },
    yAxis: {
      type: 'log',
      logBase: bytes ? 2 : 10,
      min: range.y[0],
      max: range.y[1],
      axisLabel: { formatter: (v: number) => (bytes ? formatBytesTick(v) : formatMsTick(v)), hideOverlap: true },
    },
    series,
  }
}
