// Chart options for training runs: loss (raw and smoothed, linear or log
// axis), eval headline (accuracy or bits per byte; MQAR's accuracy split by
// whether a query's key also occurs as noise), throughput and memory, for one
// run live or several runs overlaid. Pure, so unit-tested and
// reusable by reports. Colours come in with the series (a run's colour is
// derived from its id, see runs/colors.ts).
import type { EChartsCoreOption } from 'echarts/core'
import { formatBytes } from '../../../electron/api/format'
import type { MetricsLine } from '../../../electron/api/runs'
import { MQAR_KEY_IN_NOISE_LABELS } from '../../../electron/api/train-spec'
import { emaSmooth } from '../runs/smoothing'
import { evalSetPoints, keyInNoisePoints, type Point } from '../runs/metrics'
import { formatCount } from './estimate-chart'

export interface CurveSeries {
  /** The run's id (or a set's name), kept on the series for lookups. */
  id: string
  name: string
  color?: string
  points: Point[]
  /** Line style; solid by default (the key-in-noise split is dashed and dotted beside its run's solid curve). */
  dash?: 'dashed' | 'dotted'
}

export interface LossChartSettings {
  /** EMA weight, 0 (raw only) to < 1. */
  smoothing: number
  logScale: boolean
  title?: string
  /** The x axis's name; 'step' by default. */
  xName?: string
}

const GRID = { left: 64, right: 24, top: 44, bottom: 56 }

/** A tooltip value: 4 significant digits, '—' for what is not a number. */
export function formatValue(value: unknown): string {
  const v = Array.isArray(value) ? value[1] : value
  return typeof v === 'number' && Number.isFinite(v) ? String(Number(v.toPrecision(4))) : '—'
}

function baseOption(title: string | undefined, legend: boolean, xName = 'step'): EChartsCoreOption {
  return {
    animation: false,
    title: title ? { text: title, left: 'center', textStyle: { fontSize: 13 } } : undefined,
    legend: legend ? { bottom: 0, type: 'scroll', textStyle: { fontSize: 11 } } : undefined,
    grid: { ...GRID, bottom: legend ? GRID.bottom : 36 },
    // values to 4 significant digits, not the 17 of a raw float (steps are integers already)
    tooltip: { trigger: 'axis', axisPointer: { type: 'line' }, valueFormatter: formatValue },
    xAxis: { type: 'value', name: xName, nameLocation: 'middle', nameGap: 24, min: 'dataMin', max: 'dataMax' },
  }
}

/** A log axis cannot show values <= 0 (or NaN): those points are left out. */
function forAxis(points: Point[], logScale: boolean): Point[] {
  return logScale ? points.filter(([, y]) => Number.isFinite(y) && y > 0) : points
}

/**
 * Loss per step: for each run, the smoothed curve in the run's colour and,
 * when smoothing is on, the raw curve faint behind it.
 */
export function lossChartOption(runs: readonly CurveSeries[], settings: LossChartSettings): EChartsCoreOption {
  const series: object[] = []
  for (const run of runs) {
    const raw = forAxis(run.points, settings.logScale)
    const line = { type: 'line', showSymbol: false }
    if (settings.smoothing > 0) {
      const smooth = emaSmooth(
        raw.map(([, y]) => y),
        settings.smoothing,
      )
      series.push({
        ...line,
        id: `${run.id}:raw`,
        name: run.name,
        data: raw,
        silent: true,
        lineStyle: { width: 1, opacity: 0.25, color: run.color },
        itemStyle: { color: run.color },
        tooltip: { show: false },
      })
      series.push({
        ...line,
        id: `${run.id}:smooth`,
        name: run.name,
        data: raw.map(([x], i) => [x, smooth[i]!]),
        lineStyle: { width: 2, color: run.color },
        itemStyle: { color: run.color },
      })
    } else {
      series.push({ ...line, id: `${run.id}:raw`, name: run.name, data: raw, lineStyle: { width: 1.5, color: run.color }, itemStyle: { color: run.color } })
    }
  }
  return {
    ...baseOption(settings.title, runs.length > 1, settings.xName),
    yAxis: {
      type: settings.logScale ? 'log' : 'value',
      name: settings.logScale ? 'loss (log)' : 'loss',
      scale: true,
      axisLabel: { formatter: (v: number) => (Math.abs(v) >= 100 || v === 0 ? String(v) : Number(v.toPrecision(3)).toString()) },
    },
    series,
  }
}

export type HeadlineMetric = 'accuracy' | 'bits_per_byte'

/** Eval headline per step: accuracy (0–100 %) or bits per byte, one series per run or eval set. */
export function evalChartOption(curves: readonly CurveSeries[], metric: HeadlineMetric, title?: string): EChartsCoreOption {
  return {
    ...baseOption(title, curves.length > 1),
    yAxis:
      metric === 'accuracy'
        ? { type: 'value', name: 'accuracy', min: 0, max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } }
        : { type: 'value', name: 'bits per byte', scale: true },
    series: curves.map((c) => ({
      type: 'line',
      id: c.id,
      name: c.name,
      data: c.points,
      showSymbol: true,
      symbolSize: 5,
      lineStyle: { width: c.dash ? 1.5 : 2, color: c.color, type: c.dash ?? 'solid' },
      itemStyle: { color: c.color },
    })),
  }
}

/**
 * MQAR accuracy split by whether the query's key also occurs earlier as
 * noise, as curves beside a run's overall accuracy: the run's colour, dashed
 * for keys only in their pair, dotted for keys also earlier as noise. Named
 * by the label alone, or "<run>: <label>" when `runName` is given (runs
 * overlaid). None when the run's eval records carry no split.
 */
export function keyInNoiseCurves(lines: readonly MetricsLine[], run: { id: string; color?: string; runName?: string }): CurveSeries[] {
  return keyInNoisePoints(lines).map(({ label, points }) => ({
    id: `${run.id}:key_in_noise:${label}`,
    name: run.runName ? `${run.runName}: ${label}` : label,
    color: run.color,
    points,
    dash: label === MQAR_KEY_IN_NOISE_LABELS[0] ? 'dashed' : 'dotted',
  }))
}

/** Colours of a run's eval sets after the first (which takes the run's colour). */
const EVAL_SET_COLORS = ['#d9534f', '#f0a020', '#6a3d9a', '#1b9e77']

/**
 * One run's eval chart: a curve per eval set (the training length in the
 * run's colour, longer ones after it) and, for MQAR, the accuracy split by
 * key_in_noise when the records carry it.
 */
export function runEvalChartOption(lines: readonly MetricsLine[], metric: HeadlineMetric, color?: string): EChartsCoreOption {
  const sets: CurveSeries[] = evalSetPoints(lines).map((set, i) => ({
    id: set.name,
    name: set.name,
    color: i === 0 ? color : EVAL_SET_COLORS[(i - 1) % EVAL_SET_COLORS.length],
    points: set.points,
  }))
  const split = metric === 'accuracy' ? keyInNoiseCurves(lines, { id: 'run', color }) : []
  return evalChartOption([...sets, ...split], metric, metric === 'accuracy' ? 'eval accuracy' : 'eval bits per byte')
}

/** Tokens per second per step. */
export function throughputChartOption(points: readonly Point[], color?: string): EChartsCoreOption {
  return {
    ...baseOption('tokens / s', false),
    yAxis: { type: 'value', scale: true, axisLabel: { formatter: (v: number) => formatCount(v) } },
    series: [{ type: 'line', id: 'tokens', name: 'tokens/s', data: points, showSymbol: false, lineStyle: { width: 1.5, color }, itemStyle: { color } }],
  }
}

/** Engine memory in use and its peak, per step. */
export function memoryChartOption(inUse: readonly Point[], peak: readonly Point[]): EChartsCoreOption {
  const line = (id: string, name: string, data: readonly Point[], color: string, dashed: boolean) => ({
    type: 'line',
    id,
    name,
    data,
    showSymbol: false,
    lineStyle: { width: 1.5, color, type: dashed ? 'dashed' : 'solid' },
    itemStyle: { color },
  })
  return {
    ...baseOption('memory', true),
    yAxis: { type: 'value', scale: true, axisLabel: { formatter: (v: number) => formatBytes(v) } },
    series: [line('inUse', 'in use', inUse, '#2f6fdd', false), line('peak', 'peak', peak, '#d9534f', true)],
  }
}

/** Names of an option's series, in order (the legend's entries; the e2e test reads them). */
export function seriesNames(option: EChartsCoreOption | null): string[] {
  return ((option as { series?: { name?: unknown }[] } | null)?.series ?? []).map((s) => String(s.name ?? ''))
}

/** Points drawn by an option's series (the e2e test and the screens read it). */
export function seriesPointCount(option: EChartsCoreOption | null): number {
  const series = (option as { series?: { data?: unknown[] }[] } | null)?.series ?? []
  return series.reduce((n, s) => n + (s.data?.length ?? 0), 0)
}
