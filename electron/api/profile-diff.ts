// Two profiles compared: per step phase, model part and op, the time in each,
// the difference (b − a) and the ratio, and whether the difference is past
// the noise (the repeats' interquartile ranges do not overlap). Pure: the
// Profile screen's difference table.
import type { OpProfile, ProfileResult, Spread } from './profile'

export type DiffLevel = 'step' | 'part' | 'op'

export interface DiffRow {
  level: DiffLevel
  /** What the row is: "step total", "layers.0.mixer (forward)", "mixer_fwd in layers.0.mixer (forward)". */
  label: string
  key: string
  /** Median ms per step in each profile; undefined where that profile has no such row. */
  a?: number
  b?: number
  /** b − a, ms. */
  delta?: number
  /** b / a. */
  ratio?: number
  /** The middle halves of the two profiles' repeats do not overlap (undefined without spreads on both sides). */
  beyondSpread?: boolean
}

interface Timed {
  ms: number
  spread?: Spread
}

function validSpread(s: Spread | undefined): s is Spread {
  return !!s && Number.isFinite(s.q1) && Number.isFinite(s.q3)
}

function row(level: DiffLevel, key: string, label: string, a: Timed | undefined, b: Timed | undefined): DiffRow {
  const r: DiffRow = { level, key, label, a: a?.ms, b: b?.ms }
  if (a && b) {
    r.delta = b.ms - a.ms
    r.ratio = a.ms > 0 ? b.ms / a.ms : undefined
    if (validSpread(a.spread) && validSpread(b.spread)) r.beyondSpread = a.spread.q3 < b.spread.q1 || b.spread.q3 < a.spread.q1
  }
  return r
}

/** Per (scope, phase) sums of the op rows: for profiles written before parts were kept. */
function partsOf(p: ProfileResult): Map<string, Timed & { scope: string; phase: string }> {
  const out = new Map<string, Timed & { scope: string; phase: string }>()
  if (Array.isArray(p.parts) && p.parts.length) {
    for (const x of p.parts) out.set(`${x.scope}|${x.phase}`, { scope: x.scope, phase: x.phase, ms: x.ms, spread: x.spread })
    return out
  }
  for (const o of p.ops) {
    const k = `${o.scope}|${o.phase}`
    const e = out.get(k) ?? { scope: o.scope, phase: o.phase, ms: 0 }
    e.ms += o.ms
    out.set(k, e)
  }
  return out
}

const opKey = (o: Pick<OpProfile, 'scope' | 'phase' | 'op'>) => `${o.scope}|${o.phase}|${o.op}`

/** Keys of both maps: a's order first, then b's own. */
function union<V>(a: Map<string, V>, b: Map<string, V>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])]
}

/**
 * The difference table of b against a: the step's phases first (in order),
 * then model parts and then ops, each by the size of the difference, largest
 * first (rows only one profile has last among their level).
 */
export function profileDiff(a: ProfileResult, b: ProfileResult): DiffRow[] {
  const step: DiffRow[] = (['forwardMs', 'backwardMs', 'optimizerMs', 'totalMs'] as const).map((k) =>
    row('step', `step|${k}`, `step ${k.replace('Ms', '')}`, { ms: a.step[k], spread: a.step.spread?.[k] }, { ms: b.step[k], spread: b.step.spread?.[k] }),
  )
  const bySize = (x: DiffRow, y: DiffRow) =>
    (y.delta === undefined ? -1 : 0) - (x.delta === undefined ? -1 : 0) || Math.abs(y.delta ?? 0) - Math.abs(x.delta ?? 0)
  const pa = partsOf(a)
  const pb = partsOf(b)
  const parts = union(pa, pb)
    .map((k) => {
      const x = pa.get(k) ?? pb.get(k)!
      return row('part', `part|${k}`, `${x.scope} (${x.phase})`, pa.get(k), pb.get(k))
    })
    .sort(bySize)
  const oa = new Map(a.ops.map((o) => [opKey(o), o]))
  const ob = new Map(b.ops.map((o) => [opKey(o), o]))
  const ops = union(oa, ob)
    .map((k) => {
      const x = oa.get(k) ?? ob.get(k)!
      return row('op', `op|${k}`, `${x.op} in ${x.scope} (${x.phase})`, oa.get(k), ob.get(k))
    })
    .sort(bySize)
  return [...step, ...parts, ...ops]
}
