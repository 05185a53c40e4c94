// The composer's model graph, as data: the blocks of a ModelSpec in order,
// consecutive identical layers folded into one "×N" group unless expanded,
// each group with its parts (the layer's chips) and the validation messages
// of its layers, so a model of hundreds of layers stays a short strip and an
// invalid combination is marked where it is. Also the hybrid slider's
// preview (which layers a ratio would turn softmax) and the window of
// blocks the strip draws when it is long.
import type { SpecError } from '../../../electron/api/validate'
import type { Layer, ModelSpec, Placement } from '../../../electron/api/model-spec'
import { setHybrid } from '../../../electron/api/spec-edit'
import { layerChips, type Chip } from './switches'

export interface GraphGroup {
  /** First and last layer index (inclusive). */
  first: number
  last: number
  kind: 'linear' | 'softmax'
  chips: Chip[]
  /** The validation messages of its layers ("layers[3].input_gate: ..."), first layer's first. */
  problems: string[]
  /** Drawn as a preview: the hybrid slider would change these layers' kind. */
  preview: boolean
}

/**
 * The layers of a group share every setting: one JSON text per layer
 * decides. `expanded` holds layers drawn one by one ('all': every layer);
 * `preview[i]` marks a layer the slider would change, which never folds
 * with one it would not.
 */
export function graphGroups(
  layers: readonly Record<string, unknown>[],
  errors: readonly SpecError[],
  expanded: ReadonlySet<number> | 'all' = new Set(),
  preview: readonly boolean[] = [],
): GraphGroup[] {
  const keys = layers.map((l, i) => (preview[i] ? 'preview:' : '') + JSON.stringify(l))
  const open = (i: number) => expanded === 'all' || expanded.has(i)
  const groups: GraphGroup[] = []
  for (let i = 0; i < layers.length; i++) {
    const prev = groups.at(-1)
    // A layer joins the group before it when identical, unless either is expanded.
    if (prev && keys[i] === keys[prev.last] && !open(prev.first) && !open(i)) prev.last = i
    else
      groups.push({
        first: i,
        last: i,
        kind: layers[i]!.kind === 'softmax' ? 'softmax' : 'linear',
        chips: layerChips(layers[i]!),
        problems: [],
        preview: Boolean(preview[i]),
      })
  }
  for (const g of groups)
    for (const e of errors) {
      const m = /^layers\[(\d+)\]/.exec(e.path)
      if (m && Number(m[1]) >= g.first && Number(m[1]) <= g.last) g.problems.push(`${e.path}: ${e.message}`)
    }
  return groups
}

/** The index of the group holding layer `layer` (groups cover 0..n-1 in order), or -1. */
export function groupIndexOf(groups: readonly GraphGroup[], layer: number): number {
  let lo = 0
  let hi = groups.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const g = groups[mid]!
    if (layer < g.first) hi = mid - 1
    else if (layer > g.last) lo = mid + 1
    else return mid
  }
  return -1
}

/** The softmax-layer counts a model of n layers can have, as ratios k/n (the hybrid slider's stops). */
export function achievableRatios(n: number): number[] {
  return Array.from({ length: n + 1 }, (_, k) => k / n)
}

/** The achievable ratio k/n nearest a slider value (the browser's steps of 1/n are not exact). */
export function snapRatio(n: number, value: number): number {
  if (!(n > 0) || !Number.isFinite(value)) return 0
  return Math.min(n, Math.max(0, Math.round(value * n))) / n
}

export interface HybridPreview {
  /** The layers as the ratio would place them (the spec's placement rule). */
  layers: Layer[]
  /** Per layer: its kind would change. */
  changed: boolean[]
  softmax: number
}

/** What setting the hybrid ratio to `ratio` would do to the stack, without doing it. */
export function previewHybrid(spec: ModelSpec, ratio: number, placement: Placement = spec.hybrid.placement): HybridPreview {
  const next = setHybrid(spec, ratio, placement)
  return {
    layers: next.layers,
    changed: next.layers.map((l, i) => l.kind !== spec.layers[i]?.kind),
    softmax: next.layers.filter((l) => l.kind === 'softmax').length,
  }
}

/**
 * The groups a scrolled strip draws: those overlapping the viewport plus
 * `overscan` on each side. Every slot is `pitch` px wide; `offset` is the
 * scroll position measured from the first slot's left edge.
 */
export function visibleWindow(count: number, pitch: number, offset: number, viewport: number, overscan = 4): { start: number; end: number } {
  const start = Math.max(0, Math.floor(offset / pitch) - overscan)
  const end = Math.min(count, Math.ceil((offset + Math.max(0, viewport)) / pitch) + overscan)
  return { start: Math.min(start, end), end }
}

/** The gap between slots nearest `x` px from the first slot's left edge: 0 before the first group, count after the last. */
export function gapAt(count: number, pitch: number, x: number): number {
  return Math.max(0, Math.min(count, Math.round(x / pitch)))
}
