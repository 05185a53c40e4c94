// Chart options for a profile: time per layer and op, memory by category,
// the roofline of the step's kernels, and the sequence-length sweep (log-log).
// Pure: the Profile screen draws them on canvas, the report renders the same
// options to SVG on the server.
import type { EChartsCoreOption } from 'echarts/core'
import { formatBytes } from '../api/format'
import type { OpProfile, ProfileResult } from '../api/profile'

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

export function timeByLayerOption(p: ProfileResult): EChartsCoreOption {
  const scopes = scopeOrder(p.ops.map((o) => o.scope))
  const top = topOps(p.ops)
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
    legend: { bottom: 0, type: 'scroll', textStyle: { fontSize: 10 } },
    tooltip: { trigger: 'axis' },
    grid: { left: 130, right: 30, top: 36, bottom: 60 },
    xAxis: { type: 'value', name: 'ms', nameLocation: 'end' },
    yAxis: { type: 'category', data: scopes, inverse: true, axisLabel: { fontSize: 10 } },
    series,
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

export function memoryOption(p: ProfileResult): EChartsCoreOption {
  return {
    animation: false,
    title: { text: `Memory by category (peak ${formatBytes(p.memory.peak)})`, left: 'center', textStyle: { fontSize: 13 } },
    tooltip: { trigger: 'axis' },
    grid: { left: 230, right: 40, top: 36, bottom: 30 },
    xAxis: { type: 'value', axisLabel: { formatter: (v: number) => formatBytes(v) } },
    yAxis: { type: 'category', data: MEMORY_CATEGORIES.map(([, label]) => label), inverse: true },
    series: [
      {
        type: 'bar',
        itemStyle: { color: '#2f6fdd' },
        label: { show: true, position: 'right', formatter: (x: { value: number }) => formatBytes(x.value), fontSize: 10 },
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

export function rooflineOption(p: ProfileResult): EChartsCoreOption {
  const points = rooflinePoints(p)
  const { bandwidthBytesPerSecond: bw, flopsPerSecond: peak } = p.ceilings
  const xs = points.map((q) => q.intensity)
  const lo = Math.min(0.01, ...xs) / 2
  const hi = Math.max(100, ...xs) * 2
  const ridge = peak / bw
  const roof = [lo, ridge, hi].map((x) => [x, Math.min(peak, bw * x)])
  const maxMs = Math.max(...points.map((q) => q.ms), 1e-9)
  return {
    animation: false,
    title: { text: 'Roofline: achieved FLOP/s per kernel against the measured ceilings', left: 'center', textStyle: { fontSize: 13 } },
    tooltip: { trigger: 'item' },
    grid: { left: 70, right: 30, top: 36, bottom: 50 },
    xAxis: { type: 'log', name: 'FLOPs per byte', nameLocation: 'middle', nameGap: 28, min: lo, max: hi },
    yAxis: { type: 'log', name: 'FLOP/s', axisLabel: { formatter: (v: number) => `${(v / 1e9).toPrecision(2)}G` } },
    series: [
      { name: 'ceiling', type: 'line', data: roof, showSymbol: false, lineStyle: { color: '#999', type: 'dashed' } },
      {
        name: 'kernels',
        type: 'scatter',
        data: points.map((q) => ({ name: q.op, value: [q.intensity, q.flopsPerSecond], symbolSize: 6 + 24 * Math.sqrt(q.ms / maxMs) })),
        label: { show: true, formatter: (x: { name: string }) => x.name, position: 'right', fontSize: 9 },
        itemStyle: { color: '#2f6fdd' },
      },
    ],
  }
}

type SweepMetric = 'trainStepMs' | 'prefillMs' | 'decodeMsPerToken' | 'peakBytes'

const SWEEP_TITLES: Record<SweepMetric, string> = {
  trainStepMs: 'Training step (batch 1)',
  prefillMs: 'Prefill (forward)',
  decodeMsPerToken: 'Decoding, per token',
  peakBytes: 'Peak memory of a training step',
}

export function sweepOption(p: ProfileResult, metric: SweepMetric): EChartsCoreOption {
  const series = [p.sweep.model, p.sweep.transformer].map((s, i) => ({
    name: `${s.name}${metric === 'trainStepMs' && s.slopes.trainStep !== null ? ` (slope ${s.slopes.trainStep.toFixed(2)})` : ''}${
      metric === 'prefillMs' && s.slopes.prefill !== null ? ` (slope ${s.slopes.prefill.toFixed(2)})` : ''
    }`,
    type: 'line',
    data: s.points.map((pt) => [pt.seqLen, pt[metric]]),
    itemStyle: { color: i === 0 ? '#2f6fdd' : '#d9534f' },
  }))
  const bytes = metric === 'peakBytes'
  return {
    animation: false,
    title: { text: SWEEP_TITLES[metric], left: 'center', textStyle: { fontSize: 13 } },
    legend: { bottom: 0, textStyle: { fontSize: 10 } },
    tooltip: { trigger: 'axis' },
    grid: { left: 70, right: 20, top: 36, bottom: 56 },
    xAxis: { type: 'log', name: 'T', nameLocation: 'middle', nameGap: 24 },
    yAxis: { type: 'log', name: bytes ? 'bytes' : 'ms', axisLabel: bytes ? { formatter: (v: number) => formatBytes(v) } : {} },
    series,
  }
}
