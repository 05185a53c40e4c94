// The composer store's multi-layer editing, each test with a fresh Pinia:
// a selection edited together as one undo step, moved as a block (the
// selection following its layers), the hybrid slider's preview leaving the
// spec alone until applied. No LabApi call is made: the estimate and draft
// timers never fire (fake timers, and no init).
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { ModelSpec } from '../../../../electron/api/model-spec'
import { DEFAULT_LINEAR } from '../../../../electron/api/spec-edit'
import { useComposerStore } from '../../../../renderer/src/stores/composer'

function spec(n: number): ModelSpec {
  return {
    format: 'linea.model/1',
    name: 'test',
    vocab_size: 64,
    d_model: 32,
    mlp_expansion: 4,
    block: 'transformer',
    tie_embeddings: true,
    hybrid: { ratio: 0, placement: 'interleave' },
    // heads tag the layers so a reorder can be read back (all divide d_model 32)
    layers: Array.from({ length: n }, (_, i) => ({ ...DEFAULT_LINEAR, heads: [1, 2, 4, 8, 16, 32][i % 6]! })),
  }
}

beforeEach(() => {
  vi.useFakeTimers()
  setActivePinia(createPinia())
})
afterEach(() => vi.useRealTimers())

function store(n = 8) {
  const c = useComposerStore()
  expect(c.setText(JSON.stringify(spec(n)))).toBe('')
  return c
}
const kinds = (c: ReturnType<typeof useComposerStore>) => c.spec!.layers.map((l) => (l.kind === 'softmax' ? 'S' : 'L')).join('')
const heads = (c: ReturnType<typeof useComposerStore>) => c.spec!.layers.map((l) => l.heads)

describe('composer store: several layers at once', () => {
  it('turns a selection softmax in one undo step, and `selected` still means one layer', () => {
    const c = store()
    c.selectLayers(3)
    c.toggleLayers(7)
    expect(c.selectedIndices).toEqual([3, 7])
    c.setSelectedKind('softmax')
    expect(kinds(c)).toBe('LLLSLLLS')
    expect(c.spec!.hybrid).toEqual({ ratio: 0.25, placement: 'manual' })
    c.undo()
    expect(kinds(c)).toBe('LLLLLLLL')
    c.redo()
    expect(kinds(c)).toBe('LLLSLLLS')
    // the same kind again: nothing to do (the same spec, so no undo step)
    const before = c.spec
    c.setSelectedKind('softmax')
    expect(c.spec).toBe(before)
    // setting `selected` selects that layer alone
    c.selected = 5
    expect(c.selectedIndices).toEqual([5])
  })

  it('sets a field on each selected layer only', () => {
    const c = store()
    c.selectLayers(1)
    c.selectRangeTo(3)
    c.setSelectedField('short_conv', 4)
    expect(c.spec!.layers.map((l) => (l.kind === 'linear' ? l.short_conv : -1))).toEqual([0, 4, 4, 4, 0, 0, 0, 0])
  })

  it('moves the selection as a block with the keyboard; the selection follows its layers', () => {
    const c = store(6) // heads 1 2 4 8 16 32
    c.selectLayers(1)
    c.selectRangeTo(2)
    expect(c.moveSelection(1)).toBe(true)
    expect(heads(c)).toEqual([1, 8, 2, 4, 16, 32])
    expect(c.selectedIndices).toEqual([2, 3])
    expect(c.selected).toBe(3) // the focus moved with its layer
    expect(c.moveSelection(-1)).toBe(true)
    expect(c.moveSelection(-1)).toBe(true)
    expect(heads(c)).toEqual([2, 4, 1, 8, 16, 32])
    expect(c.moveSelection(-1)).toBe(false) // at the top: nothing moves, no undo step
  })

  it('drops dragged layers into a gap; they end selected', () => {
    const c = store(6)
    c.selectLayers(4)
    expect(c.moveLayersTo([0, 1, 2], 6)).toBe(true)
    expect(heads(c)).toEqual([8, 16, 32, 1, 2, 4])
    expect(c.selectedIndices).toEqual([3, 4, 5])
    expect(c.moveLayersTo([3, 4, 5], 4)).toBe(false) // into its own span
  })

  it('previews a hybrid ratio without changing the spec, and applies it on release', () => {
    const c = store()
    const before = c.spec
    c.previewHybridRatio(0.5)
    expect(c.hybridPreview).toBe(0.5)
    expect(c.spec).toBe(before)
    c.applyHybridRatio(0.5)
    expect(c.hybridPreview).toBeNull()
    expect(kinds(c)).toBe('LSLSLSLS')
    const after = c.spec
    c.applyHybridRatio(0.5) // the same ratio: no new spec, no undo step
    expect(c.spec).toBe(after)
  })

  it('keeps the selection inside a shrinking stack', () => {
    const c = store()
    c.selectLayers(5)
    c.selectRangeTo(7)
    c.setLayerCount(6)
    expect(c.selectedIndices).toEqual([5])
    c.setLayerCount(3)
    expect(c.selectedIndices).toEqual([2])
  })
})
