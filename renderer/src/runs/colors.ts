// A run's colour comes from its id alone, so a run keeps its colour whether
// it is compared with one run or with ten, and across reloads. The colours
// are a fixed palette of clearly different, saturated hues (a continuous hue
// from the hash put similar greens side by side too often); two runs share
// a colour with probability 1/RUN_PALETTE.length.

/** Tableau 10, then darker hues from Tableau 20b/20c: all readable on white, none pale. */
export const RUN_PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#393b79',
  '#637939',
  '#8c6d31',
  '#843c39',
  '#7b4173',
  '#006d6f',
] as const

/** FNV-1a, 32 bits: a stable, well-spread hash of a short string. */
export function hashString(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * MurmurHash3's finalizer: FNV's low bits depend only on the low bits of the
 * characters (multiplying keeps bit 0), so ids that differ in a few digits
 * would share a handful of palette slots without it.
 */
export function mix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** "#rrggbb" from the palette, picked by the id's hash. */
export function runColor(id: string): string {
  return RUN_PALETTE[mix32(hashString(id)) % RUN_PALETTE.length]!
}

/**
 * Colours for runs shown together: each run's own colour (runColor), except
 * that a run whose colour an earlier run of the set already has takes the
 * next palette colour no run of the set uses, so compared lines never share
 * a colour (up to the palette's 16 runs). `ids` in a stable order (the
 * selection's), so the same set always gets the same colours.
 */
export function distinctRunColors(ids: readonly string[]): Map<string, string> {
  const out = new Map<string, string>()
  const used = new Set<string>()
  for (const id of ids) {
    let color = runColor(id)
    if (used.has(color)) {
      const start = RUN_PALETTE.indexOf(color as (typeof RUN_PALETTE)[number])
      for (let k = 1; k < RUN_PALETTE.length; k++) {
        const next = RUN_PALETTE[(start + k) % RUN_PALETTE.length]!
        if (!used.has(next)) {
          color = next
          break
        }
      }
    }
    used.add(color)
    out.set(id, color)
  }
  return out
}
