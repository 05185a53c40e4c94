// The composer's model graph, as data: the blocks of a ModelSpec in order,
// consecutive identical layers folded into one "×N" group unless expanded,
// each group with its parts (the layer's chips) and the validation messages
// of its layers, so a model of hundreds of layers stays a short strip and an
// invalid combination is marked where it is.
import type { SpecError } from '../../../electron/api/validate'
import { layerChips, type Chip } from './switches'

export interface GraphGroup {
  /** First and last layer index (inclusive). */
  first: number
  last: number
  kind: 'linear' | 'softmax'
  chips: Chip[]
  /** The validation messages of its layers ("layers[3].input_gate: ..."), first layer's first. */
  problems: string[]
}

/** The layers of a group share every setting: one JSON text per layer decides. */
export function graphGroups(layers: readonly Record<string, unknown>[], errors: readonly SpecError[], expanded: ReadonlySet<number> = new Set()): GraphGroup[] {
  const keys = layers.map((l) => JSON.stringify(l))
  const groups: GraphGroup[] = []
  for (let i = 0; i < layers.length; i++) {
    const prev = groups.at(-1)
    // A layer joins the group before it when identical, unless either is expanded.
    if (prev && keys[i] === keys[prev.last] && !expanded.has(prev.first) && !expanded.has(i)) prev.last = i
    else groups.push({ first: i, last: i, kind: layers[i]!.kind === 'softmax' ? 'softmax' : 'linear', chips: layerChips(layers[i]!), problems: [] })
  }
  for (const g of groups)
    for (const e of errors) {
      const m = /^layers\[(\d+)\]/.exec(e.path)
      if (m && Number(m[1]) >= g.first && Number(m[1]) <= g.last) g.problems.push(`${e.path}: ${e.message}`)
    }
  return groups
}

/** The softmax-layer counts a model of n layers can have, as ratios k/n (the hybrid slider's stops). */
export function achievableRatios(n: number): number[] {
  return Array.from({ length: n + 1 }, (_, k) => k / n)
}
