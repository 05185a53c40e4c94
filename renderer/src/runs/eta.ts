// Time left in a run, from the rate of its recent steps. elapsedSeconds
// restarts at zero when a run resumes, so only the tail since the last
// restart counts.

export interface StepTime {
  step: number
  elapsedSeconds: number
}

/** Steps used for the rate: enough to even out evals and checkpoints between steps. */
export const ETA_WINDOW = 50

/** Seconds to reach totalSteps, or null while there is no rate to go on. */
export function etaSeconds(points: readonly StepTime[], totalSteps: number, window = ETA_WINDOW): number | null {
  const n = points.length
  if (n === 0) return null
  const last = points[n - 1]!
  if (last.step >= totalSteps) return 0
  let first = n - 1
  while (first > 0 && n - first < window) {
    const prev = points[first - 1]!
    const cur = points[first]!
    if (prev.step >= cur.step || prev.elapsedSeconds > cur.elapsedSeconds) break
    first--
  }
  const start = points[first]!
  const steps = last.step - start.step
  const seconds = last.elapsedSeconds - start.elapsedSeconds
  if (steps <= 0 || seconds <= 0) return null
  return ((totalSteps - last.step) * seconds) / steps
}

/** 42 → "42 s", 135 → "2 min 15 s", 7380 → "2 h 03 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—'
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`
}
