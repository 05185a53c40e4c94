// Which layers the composer edits together. A selection is a set of layer
// indices with an anchor (where Shift-click and Shift+arrow extend from) and
// a focus (the layer the side panel titles, the diagram draws and the
// keyboard moves from). The graph selects by block: a folded "×N" group is
// the span first..last of its layers, a single layer the span i..i.

export interface LayerSelection {
  /** Selected layer indices, ascending, unique, never empty. */
  indices: number[]
  anchor: number
  focus: number
}

const span = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, k) => lo + k)
const sortedUnique = (xs: Iterable<number>): number[] => [...new Set(xs)].sort((a, b) => a - b)

/** One layer, or one block's layers (a plain click). */
export function selectSpan(first: number, last = first): LayerSelection {
  return { indices: span(first, last), anchor: first, focus: first }
}

/**
 * Ctrl/Cmd-click: a block whose layers are all selected leaves the
 * selection, otherwise it joins it. The last block never leaves (the panel
 * always edits something): toggling it off keeps it.
 */
export function toggleSpan(sel: LayerSelection, first: number, last = first): LayerSelection {
  const have = new Set(sel.indices)
  const block = span(first, last)
  if (block.every((i) => have.has(i))) {
    const rest = sel.indices.filter((i) => i < first || i > last)
    if (!rest.length) return sel
    const focus = rest.includes(sel.focus) ? sel.focus : rest[0]!
    return { indices: rest, anchor: rest.includes(sel.anchor) ? sel.anchor : focus, focus }
  }
  return { indices: sortedUnique([...sel.indices, ...block]), anchor: first, focus: first }
}

/**
 * Shift-click and Shift+arrow: every layer from the anchor through the
 * block, replacing the rest (as file managers do). The focus goes to the
 * block's far end as seen from the anchor.
 */
export function rangeTo(sel: LayerSelection, first: number, last = first): LayerSelection {
  const lo = Math.min(sel.anchor, first)
  const hi = Math.max(sel.anchor, last)
  return { indices: span(lo, hi), anchor: sel.anchor, focus: first > sel.anchor ? last : first }
}

/** Esc: back to the focused layer alone. */
export function collapseToFocus(sel: LayerSelection): LayerSelection {
  return selectSpan(sel.focus)
}

/** After the stack shrank to n layers: the indices that still exist, else its last layer. */
export function clampSelection(sel: LayerSelection, n: number): LayerSelection {
  const indices = sel.indices.filter((i) => i < n)
  if (!indices.length) return selectSpan(Math.max(0, Math.min(sel.focus, n - 1)))
  if (indices.length === sel.indices.length && sel.focus < n && sel.anchor < n) return sel
  const focus = indices.includes(sel.focus) ? sel.focus : indices.at(-1)!
  return { indices, anchor: indices.includes(sel.anchor) ? sel.anchor : focus, focus }
}

/** The same layers after a reorder; `newIndexOf[old]` is where layer `old` went. */
export function remapSelection(sel: LayerSelection, newIndexOf: readonly number[]): LayerSelection {
  const at = (i: number) => newIndexOf[i] ?? i
  return { indices: sortedUnique(sel.indices.map(at)), anchor: at(sel.anchor), focus: at(sel.focus) }
}

/** Layer indices (ascending) as runs: "0–7", "3, 7", "1, 4–6". */
export function formatLayerList(indices: readonly number[]): string {
  const parts: string[] = []
  for (let k = 0; k < indices.length;) {
    let j = k
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++
    if (j - k >= 2) parts.push(`${indices[k]}–${indices[j]}`)
    else for (let m = k; m <= j; m++) parts.push(String(indices[m]))
    k = j + 1
  }
  return parts.join(', ')
}
