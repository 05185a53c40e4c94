// The Inspect screen's chart options, from real inspections (fixtures written
// by `linea inspect`): the pictures carry the result's numbers.
import { describe, expect, it } from 'vitest'
import { INSPECT_FORMAT, type InspectResult } from '../../../../electron/api/inspect'
import {
  absQuantile,
  attentionCells,
  attentionHeatmapOption,
  attentionRowOption,
  effectiveRankOption,
  gateTraceOption,
  lengthCurveOption,
  logRange,
  recallCells,
  recallHeatmapOption,
  spectrumOption,
  stateHeatmapOption,
  stateNormOption,
} from '../../../../renderer/src/charts/inspect-charts'
import parityJson from '../../../fixtures/inspect-deltanet-negative-eigen-parity.json'
import mqarJson from '../../../fixtures/inspect-hybrid-gla-mqar.json'

/** A fixture checked to be an inspection file (JSON imports type `format` as any string). */
function inspection(json: { format: string }): InspectResult {
  if (json.format !== INSPECT_FORMAT) throw new Error(`fixture has format '${json.format}', expected '${INSPECT_FORMAT}'`)
  return json as InspectResult
}
const mqar = inspection(mqarJson)
const parity = inspection(parityJson)

type Series = { name: string; data: unknown[]; markLine?: { data: unknown[] } }
const seriesOf = (o: unknown) => (o as { series: Series[] }).series

describe('recall heatmap', () => {
  it('has one cell per (pairs, bucket), blank where there were no queries, coloured by accuracy', () => {
    const r = mqar.recall!
    const cells = recallCells(r, 'distance')
    expect(cells).toHaveLength(r.numKvPairs.length * r.distanceBuckets.length)
    for (const [b, j, acc, n] of cells) {
      const c = r.byDistance[j]![b]!
      expect(n).toBe(c.count)
      expect(acc).toBe(c.count ? c.correct / c.count : null)
    }
    expect(cells.some(([, , a]) => a === null)).toBe(true) // distance 1: the value sits between key and query
    const o = recallHeatmapOption(r, 'distance') as { visualMap: { dimension: number }; yAxis: { data: string[] } }
    expect(o.visualMap.dimension).toBe(2)
    expect(o.yAxis.data).toContain(`${r.trainedNumKvPairs} pairs (trained)`)
  })
})

describe('accuracy against length', () => {
  it('draws each run sorted by length and marks the trained length once', () => {
    const shuffled = { ...parity.lengths!, points: [...parity.lengths!.points].reverse() }
    const o = lengthCurveOption([
      { id: 'a', name: 'β in (0, 2)', curve: shuffled },
      { id: 'b', name: 'β in (0, 1)', curve: parity.lengths! },
    ])
    const [first, second] = seriesOf(o)
    expect(first!.data).toEqual([...parity.lengths!.points].sort((a, b) => a.seqLen - b.seqLen).map((p) => [p.seqLen, p.accuracy]))
    expect(first!.markLine!.data).toEqual([{ xAxis: parity.lengths!.trainedLength }])
    expect(second!.markLine).toBeUndefined()
  })
})

describe('state charts', () => {
  const layer = mqar.layers.find((l) => l.kind === 'linear')!

  it('plots ‖S_t‖ per head at the measured steps', () => {
    const [s0] = seriesOf(stateNormOption(layer))
    expect(s0!.data).toEqual(layer.heads[0]!.stateNorm!.map((v, j) => [layer.stateNormSteps![j], v]))
    expect(seriesOf(stateNormOption(layer))).toHaveLength(layer.heads.length)
  })

  it('draws S_t cell by cell on a range symmetric around zero', () => {
    const snap = layer.heads[0]!.snapshots!.at(-1)!
    const o = stateHeatmapOption(snap, 'S') as { visualMap: { min: number; max: number }; series: { data: [number, number, number][] }[] }
    expect(o.series[0]!.data).toHaveLength(snap.dk * snap.dv)
    const [j, i, v] = o.series[0]!.data[snap.dv + 2]!
    expect([i, j, v]).toEqual([1, 2, snap.values[snap.dv + 2]])
    expect(o.visualMap.min).toBe(-o.visualMap.max)
    expect(o.visualMap.max).toBe(Math.max(...snap.values.map(Math.abs)))
  })

  it('marks the most the effective rank can be', () => {
    const [s0] = seriesOf(effectiveRankOption(layer))
    expect(s0!.markLine!.data).toEqual([{ yAxis: Math.min(layer.dk, layer.dv) }])
    expect(s0!.data).toEqual(layer.heads[0]!.snapshots!.map((s) => [s.t, s.effectiveRank]))
  })

  it('traces only the gates a layer has: decay and β for this DeltaNet', () => {
    expect(seriesOf(gateTraceOption(parity.layers[0]!.heads[0]!, 0)).map((s) => s.name)).toEqual(['decay a_t (vector gates: mean over key dims)', 'β_t'])
  })

  it('leaves numerically zero singular values out of the spectrum', () => {
    const head = { head: 0, outputNorm: [], snapshots: [{ t: 3, dk: 3, dv: 3, values: [], singular: [10, 1, 1e-9], effectiveRank: 1.5 }] }
    const o = spectrumOption(head, 0) as { series: { data: (number | null)[] }[]; yAxis: { min: number; max: number } }
    expect(o.series[0]!.data).toEqual([10, 1, null])
    expect([o.yAxis.min, o.yAxis.max]).toEqual([1, 10])
  })

  it('keeps log axes to whole decades around positive values', () => {
    expect(logRange([0, 0.02, 3, 450])).toEqual({ min: 0.01, max: 1000 })
    expect(logRange([0])).toEqual({})
  })
})

describe('attention charts', () => {
  it('draws the causal half of the map and saturates the colour at a high quantile', () => {
    const T = mqar.input.tokens.length
    const map = mqar.layers[1]!.heads[0]!.attention!
    const o = attentionHeatmapOption(map, mqar.input.tokens, 'h') as { visualMap: { min: number; max: number }; series: { data: [number, number, number][] }[] }
    expect(o.series[0]!.data).toHaveLength((T * (T + 1)) / 2)
    expect(o.series[0]!.data.every(([s, t]) => s <= t)).toBe(true)
    expect(o.visualMap.min).toBe(0) // softmax weights
    expect(o.visualMap.max).toBeLessThanOrEqual(Math.max(...map))
    expect(absQuantile([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -10], 0.5)).toBe(6)
  })

  it('draws a long input in blocks: the mean over each block of causal entries', () => {
    // T = 4, blocks of 2: rows are queries
    const M = [1, 0, 0, 0, 0.5, 0.5, 0, 0, 0.2, 0.2, 0.6, 0, 0.1, 0.1, 0.1, 0.7]
    expect(attentionCells(M, 4, 2)).toEqual([
      [0, 0, (1 + 0.5 + 0.5) / 3],
      [0, 1, (0.2 + 0.2 + 0.1 + 0.1) / 4],
      [1, 1, (0.6 + 0.1 + 0.7) / 3],
    ])
    const T = 600
    const even = Array.from({ length: T * T }, (_, i) => (i % T <= Math.floor(i / T) ? 1 / (Math.floor(i / T) + 1) : 0))
    const o = attentionHeatmapOption(even, Array<number>(T).fill(1), 'long') as {
      series: { data: unknown[] }[]
      xAxis: { data: string[] }
      title: { text: string }
    }
    expect(o.xAxis.data).toHaveLength(200)
    expect(o.series[0]!.data).toHaveLength((200 * 201) / 2)
    expect(o.title.text).toContain('3×3 blocks')
  })

  it('uses a signed scale where the delta rule makes the map negative', () => {
    const map = parity.layers[0]!.heads[0]!.attention!
    expect(Math.min(...map)).toBeLessThan(0)
    const o = attentionHeatmapOption(map, parity.input.tokens, 'h') as { visualMap: { min: number; max: number } }
    expect(o.visualMap.min).toBe(-o.visualMap.max)
  })

  it("shows a query's row with its pair's key and value highlighted", () => {
    const T = mqar.input.tokens.length
    const pair = mqar.input.pairs![1]!
    const map = mqar.layers[1]!.heads[0]!.attention!
    const [bars] = seriesOf(attentionRowOption(map, mqar.input.tokens, pair.query, pair, 'row')) as unknown as {
      data: { value: number; itemStyle: { color: string } }[]
    }[]
    expect(bars!.data.map((d) => d.value)).toEqual(map.slice(pair.query * T, pair.query * T + pair.query + 1))
    const colors = bars!.data.map((d) => d.itemStyle.color)
    expect(colors[pair.key]).toBe('#1a9850')
    expect(colors[pair.value]).toBe('#91cf60')
    expect(new Set(colors.filter((_, s) => s !== pair.key && s !== pair.value))).toEqual(new Set(['#2f6fdd']))
  })
})
