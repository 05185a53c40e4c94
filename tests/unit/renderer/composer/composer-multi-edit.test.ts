// Editing several layers together: the panel's value of a field across the
// selection ("mixed" when they differ), one change applied to each, kinds
// switched for a selection; and moving a block of layers.
import { describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../../../electron/api/model-spec'
import { DEFAULT_LINEAR, DEFAULT_SOFTMAX } from '../../../../electron/api/spec-edit'
import { commonKind, commonValue, setFieldOn, setKindOn, sharedFields } from '../../../../renderer/src/composer/multi-edit'
import { applyOrder, blockMoveOrder, isIdentity, newIndexOf, shiftOrder } from '../../../../renderer/src/composer/reorder'

function spec(layers: ModelSpec['layers'], placement: ModelSpec['hybrid']['placement'] = 'interleave'): ModelSpec {
  return {
    format: 'linea.model/1',
    name: 'test',
    vocab_size: 64,
    d_model: 32,
    mlp_expansion: 4,
    block: 'transformer',
    tie_embeddings: true,
    hybrid: { ratio: 0, placement },
    layers,
  }
}
const lin = (over: Partial<typeof DEFAULT_LINEAR> = {}) => ({ ...DEFAULT_LINEAR, ...over })
/** Layers tagged by heads so a reorder can be read back. */
const tagged = (n: number) => Array.from({ length: n }, (_, i) => lin({ heads: i + 1 }))
const heads = (s: ModelSpec) => s.layers.map((l) => l.heads)

describe('commonValue', () => {
  it('gives the shared value, or mixed when any layer differs', () => {
    const a = lin({ input_gate: 'sigmoid' })
    const b = lin({ input_gate: 'none' })
    expect(commonValue([a, a] as unknown as Record<string, unknown>[], 'input_gate')).toEqual({ mixed: false, value: 'sigmoid' })
    expect(commonValue([a, b] as unknown as Record<string, unknown>[], 'input_gate')).toEqual({ mixed: true })
    expect(commonValue([a, b] as unknown as Record<string, unknown>[], 'heads')).toEqual({ mixed: false, value: 2 })
  })

  it('tells an absent optional field from a set one, and null from absent', () => {
    expect(commonValue([lin(), lin({ dk: 16 })] as unknown as Record<string, unknown>[], 'dk')).toEqual({ mixed: true })
    expect(commonValue([lin(), lin()] as unknown as Record<string, unknown>[], 'dk')).toEqual({ mixed: false, value: undefined })
    expect(commonValue([{ window: null }, {}], 'window')).toEqual({ mixed: true })
  })

  it('names the common kind and the fields a mixed selection shares', () => {
    expect(commonKind([lin(), lin()])).toBe('linear')
    expect(commonKind([DEFAULT_SOFTMAX])).toBe('softmax')
    expect(commonKind([lin(), DEFAULT_SOFTMAX])).toBe('mixed')
    expect(sharedFields('mixed', ['heads', 'dk', 'short_conv'], ['heads', 'window'])).toEqual(['heads'])
    expect(sharedFields('softmax', ['heads', 'dk'], ['heads', 'window'])).toEqual(['heads', 'window'])
  })
})

describe('editing a selection', () => {
  it('sets a field on each selected layer only; after it, the field is no longer mixed', () => {
    const s = spec([lin({ input_gate: 'sigmoid' }), lin(), lin(), lin()])
    const next = setFieldOn(s, [0, 2], 'input_gate', 'softplus')
    expect(next.layers.map((l) => (l as typeof DEFAULT_LINEAR).input_gate)).toEqual(['softplus', 'none', 'softplus', 'none'])
    expect(commonValue([next.layers[0], next.layers[2]] as unknown as Record<string, unknown>[], 'input_gate')).toEqual({ mixed: false, value: 'softplus' })
    // undefined removes an optional field from each
    const cleared = setFieldOn(setFieldOn(s, [1, 3], 'dk', 8), [1, 3], 'dk', undefined)
    expect(cleared.layers.every((l) => !('dk' in l))).toBe(true)
  })

  it('turns selected layers softmax, switching placement to manual with the actual ratio', () => {
    const s = spec([lin(), lin(), lin(), lin()])
    const next = setKindOn(s, [1, 3], 'softmax')
    expect(next.layers.map((l) => l.kind)).toEqual(['linear', 'softmax', 'linear', 'softmax'])
    expect(next.hybrid).toEqual({ ratio: 0.5, placement: 'manual' })
    // nothing to change: the same spec back (no undo step)
    expect(setKindOn(next, [1, 3], 'softmax')).toBe(next)
  })
})

describe('moving a block of layers', () => {
  it('drops a block into a gap, keeping its order', () => {
    expect(blockMoveOrder(6, [1, 2], 5)).toEqual([0, 3, 4, 1, 2, 5])
    expect(blockMoveOrder(6, [3, 4], 0)).toEqual([3, 4, 0, 1, 2, 5])
    expect(blockMoveOrder(6, [4, 1], 6)).toEqual([0, 2, 3, 5, 1, 4])
    // a gap inside or at the edge of the block: nothing moves
    expect(isIdentity(blockMoveOrder(6, [2, 3], 3))).toBe(true)
    expect(isIdentity(blockMoveOrder(6, [2, 3], 2))).toBe(true)
    expect(isIdentity(blockMoveOrder(6, [2, 3], 4))).toBe(true)
  })

  it('steps a block one layer with Alt+arrow, and not past either end', () => {
    expect(shiftOrder(5, [1, 2], 1)).toEqual([0, 3, 1, 2, 4])
    expect(shiftOrder(5, [1, 2], -1)).toEqual([1, 2, 0, 3, 4])
    expect(shiftOrder(5, [0, 3], 1)).toEqual([1, 0, 2, 4, 3])
    expect(shiftOrder(5, [0, 2], -1)).toBeNull()
    expect(shiftOrder(5, [4], 1)).toBeNull()
  })

  it('applies an order to the spec as moves (manual placement), and maps old indices to new', () => {
    const s = spec(tagged(6))
    const order = blockMoveOrder(6, [1, 2], 5)
    const next = applyOrder(s, order)
    expect(heads(next)).toEqual([1, 4, 5, 2, 3, 6])
    expect(next.hybrid.placement).toBe('manual')
    expect(newIndexOf(order)).toEqual([0, 3, 4, 1, 2, 5])
    expect(applyOrder(s, [0, 1, 2, 3, 4, 5])).toBe(s)
    // any permutation comes out exactly
    const perm = [5, 3, 0, 4, 1, 2]
    expect(heads(applyOrder(s, perm))).toEqual(perm.map((i) => i + 1))
  })
})
