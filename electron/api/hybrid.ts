// Placement of softmax-attention layers in a hybrid stack: the one rule the
// composer (re-placing layers live) and the validator (checking a spec) share.

export type AutoPlacement = 'interleave' | 'first' | 'last'

/** Number of softmax layers for a ratio: round(ratio × n), at least 1 when ratio > 0. */
export function softmaxCount(nLayers: number, ratio: number): number {
  if (ratio <= 0) return 0
  return Math.min(nLayers, Math.max(1, Math.round(ratio * nLayers)))
}

/**
 * Layer indices that are softmax attention.
 * interleave: evenly spread, each softmax layer closing its group
 * (ratio 1/4 over 8 layers → [3, 7], as hybrids like Jamba place them).
 */
export function softmaxPositions(nLayers: number, ratio: number, placement: AutoPlacement): number[] {
  const m = softmaxCount(nLayers, ratio)
  if (m === 0) return []
  const all = Array.from({ length: nLayers }, (_, i) => i)
  switch (placement) {
    case 'first':
      return all.slice(0, m)
    case 'last':
      return all.slice(nLayers - m)
    case 'interleave':
      return all.filter((i) => Math.floor(((i + 1) * m) / nLayers) > Math.floor((i * m) / nLayers))
  }
}
