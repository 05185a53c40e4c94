// Statistics a profile reports, pure: the spread of repeated timings and the
// load other processes put on the machine while it measured.
import type { Spread } from './profile'

/** Quantile q (0..1) of sorted values, linear between neighbours; NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN
  const at = (sorted.length - 1) * Math.min(1, Math.max(0, q))
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo)
}

export function spreadOf(samples: readonly number[]): Spread {
  const s = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  return { n: s.length, min: s[0] ?? NaN, q1: quantile(s, 0.25), median: quantile(s, 0.5), q3: quantile(s, 0.75), max: s.at(-1) ?? NaN }
}

/** Interquartile range over the median: 0.1 means the middle half of the repeats lies within 10% of the median. */
export function relativeIqr(s: Spread): number {
  return s.median > 0 ? (s.q3 - s.q1) / s.median : NaN
}

/** CPU time counters of the machine and of this process, in milliseconds (os.cpus() summed; process.cpuUsage()). */
export interface CpuSample {
  wallMs: number
  /** Busy time of every core together (user + nice + sys + irq). */
  machineBusyMs: number
  /** This process's CPU time (every thread). */
  ownMs: number
}

/** Cores other processes kept busy, on average, between two samples. */
export function othersBusyCores(a: CpuSample, b: CpuSample): number {
  const wall = b.wallMs - a.wallMs
  if (!(wall > 0)) return 0
  return Math.max(0, b.machineBusyMs - a.machineBusyMs - (b.ownMs - a.ownMs)) / wall
}

/** Other processes busier than this many cores on average make a profile's times suspect. */
export const COMPETING_CORES = 0.5

/** The warning a profile carries when other processes competed for the CPU while it measured, or undefined. */
export function competitionWarning(busyCores: number, cores: number): string | undefined {
  if (!(busyCores >= COMPETING_CORES)) return undefined
  return (
    `Other processes kept about ${busyCores.toFixed(1)} of ${cores} CPU cores busy while this profile measured (a training run or another job?): ` +
    `its times and ceilings may be slower and noisier than on an idle machine. Profile again when the machine is idle to compare.`
  )
}

/** The warning for training runs a job runner had active while the profile ran, or undefined. */
export function activeRunsWarning(runIds: readonly string[]): string | undefined {
  if (!runIds.length) return undefined
  return `A training run was active while this profile ran (${runIds.join(', ')}): it competes for the same device, so the times may be inflated.`
}
