// The hybrid slider's preview and the long strip's window: which layers a
// ratio would turn softmax (and how the graph draws them), the ratio a
// slider value snaps to, and which blocks a scrolled strip draws.
import { describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../../../electron/api/model-spec'
import { softmaxPositions } from '../../../../electron/api/hybrid'
import { DEFAULT_LINEAR, DEFAULT_SOFTMAX } from '../../../../electron/api/spec-edit'
import { gapAt, graphGroups, groupIndexOf, previewHybrid, snapRatio, visibleWindow } from '../../../../renderer/src/composer/model-graph'

function spec(n: number, ratio = 0, placement: ModelSpec['hybrid']['placement'] = 'interleave'): ModelSpec {
  const soft = new Set(placement === 'manual' ? [] : softmaxPositions(n, ratio, placement))
  return {
    format: 'linea.model/1',
    name: 'test',
    vocab_size: 64,
    d_model: 32,
    mlp_expansion: 4,
    block: 'transformer',
    tie_embeddings: true,
    hybrid: { ratio, placement },
    layers: Array.from({ length: n }, (_, i) => (soft.has(i) ? { ...DEFAULT_SOFTMAX } : { ...DEFAULT_LINEAR })),
  }
}
const asRecords = (l: unknown) => l as Record<string, unknown>[]

describe('previewHybrid', () => {
  it('marks the layers a ratio would turn softmax, by the spec placement rule', () => {
    const s = spec(8, 0.25) // softmax at 3 and 7
    const p = previewHybrid(s, 0.5) // interleave 4 of 8: 1, 3, 5, 7
    expect(p.softmax).toBe(4)
    expect(p.layers.map((l) => l.kind)).toEqual(['linear', 'softmax', 'linear', 'softmax', 'linear', 'softmax', 'linear', 'softmax'])
    expect(p.changed).toEqual([false, true, false, false, false, true, false, false])
    // the spec itself is untouched
    expect(s.layers.filter((l) => l.kind === 'softmax')).toHaveLength(2)
    // last placement: the tail
    expect(previewHybrid(spec(8, 0, 'last'), 0.25).changed).toEqual([false, false, false, false, false, false, true, true])
    // back to the same ratio: nothing changes
    expect(previewHybrid(s, 0.25).changed.some(Boolean)).toBe(false)
  })

  it('draws previewed layers as their own groups (never folded with unchanged ones)', () => {
    const s = spec(8, 0)
    const p = previewHybrid(s, 0.25)
    const groups = graphGroups(asRecords(p.layers), [], new Set(), p.changed)
    expect(groups.map((g) => [g.first, g.last, g.kind, g.preview])).toEqual([
      [0, 2, 'linear', false],
      [3, 3, 'softmax', true],
      [4, 6, 'linear', false],
      [7, 7, 'softmax', true],
    ])
  })
})

describe('snapRatio', () => {
  it('snaps a slider value to the nearest k/n', () => {
    expect(snapRatio(8, 0.25)).toBe(0.25)
    expect(snapRatio(8, 0.3)).toBe(0.25)
    expect(snapRatio(49, 48.99999999 / 49)).toBe(1) // the browser's last step of 1/49 falls short of 1
    expect(snapRatio(3, 2)).toBe(1)
    expect(snapRatio(3, -1)).toBe(0)
  })
})

describe('the strip window', () => {
  it('draws the groups in view plus an overscan, whatever the length', () => {
    expect(visibleWindow(500, 200, 0, 1000, 4)).toEqual({ start: 0, end: 9 })
    expect(visibleWindow(500, 200, 90_000, 1000, 4)).toEqual({ start: 446, end: 459 })
    expect(visibleWindow(500, 200, 99_500, 1000, 4)).toEqual({ start: 493, end: 500 })
    expect(visibleWindow(3, 200, 0, 1000, 4)).toEqual({ start: 0, end: 3 })
    const { start, end } = visibleWindow(500, 200, 45_000, 1500)
    expect(end - start).toBeLessThan(20)
  })

  it('finds the drop gap nearest a pointer and the group holding a layer', () => {
    expect(gapAt(10, 200, 90)).toBe(0)
    expect(gapAt(10, 200, 110)).toBe(1)
    expect(gapAt(10, 200, -50)).toBe(0)
    expect(gapAt(10, 200, 5000)).toBe(10)
    const groups = graphGroups(asRecords(spec(8, 0.25).layers), [])
    expect([0, 2, 3, 5, 7].map((i) => groupIndexOf(groups, i))).toEqual([0, 0, 1, 2, 3])
    expect(groupIndexOf(groups, 8)).toBe(-1)
    expect(graphGroups(asRecords(spec(500, 0).layers), [], 'all')).toHaveLength(500)
  })
})
