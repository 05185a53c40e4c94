// Reordering layers as a block: by drag (the selected layers, or a folded
// group, dropped into a gap) and by Alt+arrow (each selected layer one step,
// or past a whole neighbouring folded group).
// An order is the list of old layer indices in their new order.
import type { ModelSpec } from '../../../electron/api/model-spec'
import { moveLayer } from '../../../electron/api/spec-edit'

/**
 * The order after moving `indices` (kept in their order, made contiguous)
 * into the gap before old layer `gap` (0..n; n is after the last layer).
 * A gap inside the block leaves the block where its first layer would land.
 */
export function blockMoveOrder(n: number, indices: readonly number[], gap: number): number[] {
  const moving = new Set(indices.filter((i) => i >= 0 && i < n))
  const rest = Array.from({ length: n }, (_, i) => i).filter((i) => !moving.has(i))
  const before = rest.filter((i) => i < gap).length
  const block = [...moving].sort((a, b) => a - b)
  return [...rest.slice(0, before), ...block, ...rest.slice(before)]
}

/**
 * The order after moving each of `indices` one step (-1 up/left, +1
 * down/right): a contiguous block jumps over its neighbour. Null when a
 * selected layer is already at that end (the block does not break apart).
 */
export function shiftOrder(n: number, indices: readonly number[], delta: -1 | 1): number[] | null {
  const sel = [...new Set(indices)].filter((i) => i >= 0 && i < n).sort((a, b) => a - b)
  if (!sel.length || (delta < 0 && sel[0] === 0) || (delta > 0 && sel.at(-1) === n - 1)) return null
  const order = Array.from({ length: n }, (_, i) => i)
  // Walk against the direction of travel so a block moves as one.
  for (const p of delta > 0 ? [...sel].reverse() : sel) {
    const q = p + delta
    ;[order[p], order[q]] = [order[q]!, order[p]!]
  }
  return order
}

/** A run of layers drawn as one block (first and last index, inclusive): a graph group. */
export interface LayerSpan {
  first: number
  last: number
}

/**
 * Alt+arrow on the model graph: as shiftOrder, except that a contiguous
 * selection whose neighbour in the direction of travel is folded (a span of
 * several layers drawn as one ×N block, none of them selected) moves past
 * that whole span, as one step on the strip. `spans` are the graph's groups
 * (any order; spans of one layer change nothing).
 */
export function groupShiftOrder(n: number, indices: readonly number[], delta: -1 | 1, spans: readonly LayerSpan[]): number[] | null {
  const sel = [...new Set(indices)].filter((i) => i >= 0 && i < n).sort((a, b) => a - b)
  const contiguous = sel.length > 0 && sel.at(-1)! - sel[0]! === sel.length - 1
  const next = delta > 0 ? sel.at(-1)! + 1 : sel[0]! - 1
  const span = contiguous ? spans.find((s) => s.first <= next && next <= s.last) : undefined
  if (!span || span.first === span.last || sel.some((i) => i >= span.first && i <= span.last)) return shiftOrder(n, indices, delta)
  return blockMoveOrder(n, sel, delta > 0 ? span.last + 1 : span.first)
}

export const isIdentity = (order: readonly number[]): boolean => order.every((old, i) => old === i)

/** Where each old index went: the inverse of an order. */
export function newIndexOf(order: readonly number[]): number[] {
  const at: number[] = []
  order.forEach((old, i) => (at[old] = i))
  return at
}

/**
 * The spec with its layers in `order`, through spec-edit's moveLayer (so a
 * reorder switches the hybrid placement to manual and records the ratio as
 * a move does). The same spec for the identity order.
 */
export function applyOrder(spec: ModelSpec, order: readonly number[]): ModelSpec {
  const now = Array.from({ length: spec.layers.length }, (_, i) => i) // old index of the layer at each position
  let next = spec
  order.forEach((old, p) => {
    const from = now.indexOf(old, p)
    if (from === p) return
    next = moveLayer(next, from, p)
    now.splice(p, 0, ...now.splice(from, 1))
  })
  return next
}
