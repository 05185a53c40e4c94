// The four answers a profile exists for, in one sentence each: where the
// time goes, where the memory goes, how it scales, how close it is to the
// hardware. Shared by the Profile screen and the report's first page.
import { formatBytes } from './format'
import type { OpProfile, ProfileResult, SweepSeries } from './profile'

const num = (x: number, digits = 3) => (Number.isFinite(x) ? Number(x.toPrecision(digits)).toLocaleString('en-US') : '–')
const pct = (x: number) => `${num(100 * x, 2)}%`

/** Which ceiling bounds an op at its arithmetic intensity (FLOP/byte), and the share of it the op reached. */
export function ceilingUse(
  o: Pick<OpProfile, 'flops' | 'bytes' | 'ms'>,
  p: Pick<ProfileResult, 'ceilings'>,
): { bound: 'compute' | 'memory'; fraction: number } {
  const intensity = o.flops / Math.max(o.bytes, 1)
  const bound = p.ceilings.bandwidthBytesPerSecond * intensity < p.ceilings.flopsPerSecond ? 'memory' : 'compute'
  const seconds = o.ms / 1000
  const fraction = bound === 'compute' ? o.flops / seconds / p.ceilings.flopsPerSecond : o.bytes / seconds / p.ceilings.bandwidthBytesPerSecond
  return { bound, fraction }
}

export interface ProfileAnswers {
  time: string
  memory: string
  scaling: string
  hardware: string
}

function largest<K>(entries: Iterable<[K, number]>): [K, number] | undefined {
  let best: [K, number] | undefined
  for (const e of entries) if (!best || e[1] > best[1]) best = e
  return best
}

function scalingOf(s: SweepSeries): string {
  const slope = s.slopes.trainStep
  return slope === null ? `${s.name}: too few lengths for a slope` : `${s.name} grows as T^${slope.toFixed(2)}`
}

export function profileAnswers(p: ProfileResult): ProfileAnswers {
  const opsMs = p.ops.reduce((n, o) => n + o.ms, 0) || 1e-9
  const byScope = new Map<string, number>()
  const byOp = new Map<string, number>()
  for (const o of p.ops) {
    byScope.set(o.scope, (byScope.get(o.scope) ?? 0) + o.ms)
    byOp.set(o.op, (byOp.get(o.op) ?? 0) + o.ms)
  }
  const part = largest(byScope)
  const op = largest(byOp)
  const time =
    `A training step takes ${num(p.step.totalMs)} ms (forward ${pct(p.step.forwardMs / p.step.totalMs)}, backward ${pct(p.step.backwardMs / p.step.totalMs)}, ` +
    `optimizer ${pct(p.step.optimizerMs / p.step.totalMs)}), ${num(p.step.tokensPerSecond)} tokens/s` +
    (part && op ? `; the largest part is ${part[0]} (${pct(part[1] / opsMs)} of op time), the largest op ${op[0]} (${pct(op[1] / opsMs)}).` : '.')

  const categories: [string, number][] = [
    ['parameters', p.memory.parameters],
    ['gradients', p.memory.gradients],
    ['optimizer state', p.memory.optimizerState],
    ['activations saved for backward', p.memory.activations],
    ['workspace', p.memory.workspace],
  ]
  const held = categories.reduce((n, [, b]) => n + b, 0) || 1
  const top = largest(categories)!
  const memory = `Peak ${formatBytes(p.memory.peak)}; the largest share is ${top[0]}, ${formatBytes(top[1])} (${pct(top[1] / held)} of what a step holds); inference state per sequence ${formatBytes(p.memory.recurrentState)}.`

  const m = p.sweep.model
  const t = p.sweep.transformer
  let scaling = `${scalingOf(m)}, ${scalingOf(t)} in training-step time`
  const common = m.points.filter((a) => t.points.some((b) => b.seqLen === a.seqLen)).at(-1)
  if (common) {
    const other = t.points.find((b) => b.seqLen === common.seqLen)!
    const ratio = other.trainStepMs / common.trainStepMs
    scaling += `; at T=${common.seqLen} a training step is ${ratio >= 1 ? `${num(ratio, 2)}× faster` : `${num(1 / ratio, 2)}× slower`} than the Transformer's`
  }
  const stops = [m, t].filter((s) => s.stopped).map((s) => `${s.name}: ${s.stopped}`)
  scaling += stops.length ? ` (${stops.join('; ')}).` : '.'

  const measured = p.ops.filter((o) => o.ms > 0 && (o.flops > 0 || o.bytes > 0))
  const weighted = measured.reduce((n, o) => n + ceilingUse(o, p).fraction * o.ms, 0) / (measured.reduce((n, o) => n + o.ms, 0) || 1)
  const heaviest = [...measured].sort((a, b) => b.ms - a.ms)[0]
  const hardware = heaviest
    ? `Weighted by time, ops reach ${pct(weighted)} of their roofline ceiling (${num(p.ceilings.flopsPerSecond / 1e9)} GFLOP/s, ${num(p.ceilings.bandwidthBytesPerSecond / 1e9)} GB/s measured); ` +
      `the heaviest, ${heaviest.op} in ${heaviest.scope} (${heaviest.phase}), is ${ceilingUse(heaviest, p).bound}-bound at ${pct(ceilingUse(heaviest, p).fraction)}.`
    : 'No op had counted work to compare with the ceilings.'
  return { time, memory, scaling, hardware }
}
