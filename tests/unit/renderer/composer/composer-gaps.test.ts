// Three composer behaviours, each able to fail on its own: Alt+arrow past a
// whole folded ×N neighbour (groupShiftOrder, and the store with the graph's
// groups); the hybrid slider on a manual placement switching to the last
// automatic rule (or interleave) and saying so, undone in one step; and undo
// and redo bringing back the selection with the model. Fresh Pinia each; no
// LabApi call (fake timers, no init).
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { nextTick } from 'vue'
import type { ModelSpec } from '../../../../electron/api/model-spec'
import { DEFAULT_LINEAR } from '../../../../electron/api/spec-edit'
import { graphGroups, previewHybrid } from '../../../../renderer/src/composer/model-graph'
import { groupShiftOrder, shiftOrder } from '../../../../renderer/src/composer/reorder'
import { useComposerStore } from '../../../../renderer/src/stores/composer'

function spec(headsPerLayer: number[], placement: ModelSpec['hybrid']['placement'] = 'interleave'): ModelSpec {
  return {
    format: 'linea.model/1',
    name: 'test',
    vocab_size: 64,
    d_model: 32,
    mlp_expansion: 4,
    block: 'transformer',
    tie_embeddings: true,
    hybrid: { ratio: 0, placement },
    layers: headsPerLayer.map((heads) => ({ ...DEFAULT_LINEAR, heads })),
  }
}

beforeEach(() => {
  vi.useFakeTimers()
  setActivePinia(createPinia())
})
afterEach(() => vi.useRealTimers())

function store(s: ModelSpec) {
  const c = useComposerStore()
  expect(c.setText(JSON.stringify(s))).toBe('')
  return c
}
const heads = (c: ReturnType<typeof useComposerStore>) => c.spec!.layers.map((l) => l.heads)
const kinds = (c: ReturnType<typeof useComposerStore>) => c.spec!.layers.map((l) => (l.kind === 'softmax' ? 'S' : 'L')).join('')

describe('groupShiftOrder: Alt+arrow on a folded strip', () => {
  // layers: 0 | 1 2 3 4 (folded ×4) | 5
  const spans = [
    { first: 0, last: 0 },
    { first: 1, last: 4 },
    { first: 5, last: 5 },
  ]
  it('moves a layer past the whole folded neighbour, either way', () => {
    expect(groupShiftOrder(6, [0], 1, spans)).toEqual([1, 2, 3, 4, 0, 5])
    expect(groupShiftOrder(6, [5], -1, spans)).toEqual([0, 5, 1, 2, 3, 4])
  })
  it('steps one layer when the neighbour is a single layer, unfolded, or the end', () => {
    expect(groupShiftOrder(6, [5], 1, spans)).toBeNull()
    expect(groupShiftOrder(6, [0], -1, spans)).toBeNull()
    expect(groupShiftOrder(6, [4], 1, spans)).toEqual(shiftOrder(6, [4], 1)) // inside the group: its neighbour is layer 5
    expect(groupShiftOrder(6, [0], 1, [])).toEqual([1, 0, 2, 3, 4, 5]) // nothing folded
  })
  it('moves a contiguous selection as a block; a scattered one steps layer by layer', () => {
    const s2 = [
      { first: 0, last: 1 },
      { first: 2, last: 4 },
      { first: 5, last: 5 },
    ]
    expect(groupShiftOrder(6, [0, 1], 1, s2)).toEqual([2, 3, 4, 0, 1, 5])
    expect(groupShiftOrder(6, [0, 5], -1, spans)).toBeNull() // layer 0 at the top: nothing moves
    expect(groupShiftOrder(6, [1, 5], -1, spans)).toEqual(shiftOrder(6, [1, 5], -1))
  })
  it('works with the groups the graph draws', () => {
    // heads 1, then four identical layers, then 8: the four fold into one group
    const s = spec([1, 2, 2, 2, 2, 8])
    const groups = graphGroups(s.layers as unknown as Record<string, unknown>[], [])
    expect(groups.map((g) => [g.first, g.last])).toEqual([
      [0, 0],
      [1, 4],
      [5, 5],
    ])
    const c = store(s)
    c.selectLayers(0)
    expect(c.moveSelection(1, groups)).toBe(true)
    expect(heads(c)).toEqual([2, 2, 2, 2, 1, 8])
    expect(c.selectedIndices).toEqual([4])
    // without the groups (the layer list), one step
    c.undo()
    c.selectLayers(0)
    expect(c.moveSelection(1)).toBe(true)
    expect(heads(c)).toEqual([2, 1, 2, 2, 2, 8])
  })
})

describe('the hybrid slider on a manual placement', () => {
  it('switches to the last automatic placement, says so, and undoes in one step', async () => {
    const c = store(spec([1, 2, 4, 8, 16, 32, 1, 2], 'last'))
    c.applyHybridRatio(0.25)
    expect(kinds(c)).toBe('LLLLLLSS')
    // a hand-made placement: the first layer softmax as well
    c.selectLayers(0)
    c.setSelectedKind('softmax')
    expect(c.spec!.hybrid.placement).toBe('manual')
    await nextTick()
    expect(c.sliderPlacement).toBe('last')
    expect(c.hybridNotice).toBe('')
    // the preview follows the rule the slider will use
    expect(
      previewHybrid(c.spec!, 0.5, c.sliderPlacement)
        .layers.map((l) => (l.kind === 'softmax' ? 'S' : 'L'))
        .join(''),
    ).toBe('LLLLSSSS')
    const manual = kinds(c)
    c.applyHybridRatio(0.5)
    expect(c.spec!.hybrid).toEqual({ ratio: 0.5, placement: 'last' })
    expect(kinds(c)).toBe('LLLLSSSS')
    await nextTick()
    expect(c.hybridNotice).toBe('The placement was manual (layers set by hand); moving the slider switched it to last. Undo brings the hand-set layers back.')
    // another ratio with the same rule: the message stands (its cause is still there)
    c.applyHybridRatio(0.75)
    await nextTick()
    expect(c.hybridNotice).toContain('switched it to last')
    c.undo()
    c.undo()
    expect(kinds(c)).toBe(manual)
    expect(c.spec!.hybrid.placement).toBe('manual')
    await nextTick()
    expect(c.hybridNotice).toBe('') // its cause undone
  })

  it('uses interleave when no automatic placement was used', async () => {
    const c = store(spec([1, 2, 4, 8], 'manual'))
    await nextTick()
    expect(c.sliderPlacement).toBe('interleave')
    c.applyHybridRatio(0.5)
    expect(c.spec!.hybrid).toEqual({ ratio: 0.5, placement: 'interleave' })
    expect(kinds(c)).toBe('LSLS')
    await nextTick()
    expect(c.hybridNotice).toContain('switched it to interleave')
    // choosing a placement by hand ends the message
    c.setHybrid(0.5, 'first')
    await nextTick()
    expect(c.hybridNotice).toBe('')
  })

  it('an automatic placement changes nothing but the ratio, and says nothing', async () => {
    const c = store(spec([1, 2, 4, 8], 'first'))
    c.applyHybridRatio(0.5)
    expect(c.spec!.hybrid).toEqual({ ratio: 0.5, placement: 'first' })
    await nextTick()
    expect(c.hybridNotice).toBe('')
  })
})

describe('undo and redo bring the selection back with the model', () => {
  it('after a move, an edit of several layers, and a delete', () => {
    const c = store(spec([1, 2, 4, 8, 16, 32]))
    c.selectLayers(1)
    c.moveSelection(1) // layer 1 → 2, selected there
    expect(c.selectedIndices).toEqual([2])
    c.selectLayers(4)
    c.selectRangeTo(5)
    c.setSelectedKind('softmax')
    c.selectLayers(0)
    c.deleteLayer(0)
    c.selectLayers(3)

    c.undo() // the delete: layer 0 back, and selected as it was
    expect(kinds(c)).toBe('LLLLSS')
    expect(heads(c).slice(0, 4)).toEqual([1, 4, 2, 8])
    expect(c.selectedIndices).toEqual([0])
    c.undo() // the kind change: layers 4–5 selected again, focus on 5
    expect(kinds(c)).toBe('LLLLLL')
    expect(c.selectedIndices).toEqual([4, 5])
    expect(c.selected).toBe(5)
    c.undo() // the move: the layer back at 1, selected there
    expect(heads(c)).toEqual([1, 2, 4, 8, 16, 32])
    expect(c.selectedIndices).toEqual([1])

    // redo returns to the state undo left: the model and the selection it had then
    c.redo()
    expect(heads(c)).toEqual([1, 4, 2, 8, 16, 32])
    expect(c.selectedIndices).toEqual([4, 5])
    c.redo()
    expect(kinds(c)).toBe('LLLLSS')
    expect(c.selectedIndices).toEqual([0])
    c.redo()
    expect(heads(c)).toEqual([4, 2, 8, 1, 1])
    expect(c.selectedIndices).toEqual([3])
  })

  it('an undo right after an edit, then redo, leaves the selection as the edit did', () => {
    const c = store(spec([1, 2, 4, 8]))
    c.selectLayers(0)
    c.moveSelection(1)
    expect(c.selectedIndices).toEqual([1])
    c.undo()
    expect(c.selectedIndices).toEqual([0])
    c.redo()
    expect(heads(c)).toEqual([2, 1, 4, 8])
    expect(c.selectedIndices).toEqual([1])
  })
})
