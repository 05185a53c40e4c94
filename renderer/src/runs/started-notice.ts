// The Train screen's line about what it last started, from the runs' status
// now: "queued …" while a run waits, "training …" while it trains, and what
// became of it once it ended, so a run that was only queued and then
// cancelled never reads as "started".
import type { RunRecord, RunStatus } from '../../../electron/api/runs'

const WORDS: Record<RunStatus, string> = {
  queued: 'queued',
  running: 'training',
  completed: 'completed',
  early_stopped: 'stopped early (reached its accuracy)',
  cancelled: 'cancelled',
  failed: 'failed',
}

/** The notice for `runs` (one run, or a template's runs); '' when there is nothing to say. */
export function startedNotice(runs: readonly RunRecord[], template = ''): string {
  if (!runs.length) return ''
  if (!template && runs.length === 1) {
    const run = runs[0]!
    return run.status === 'queued' || run.status === 'running' ? `${WORDS[run.status]} ${run.name}` : `${run.name} ${WORDS[run.status]}`
  }
  const counts = new Map<RunStatus, number>()
  for (const r of runs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1)
  const parts = (Object.keys(WORDS) as RunStatus[]).filter((s) => counts.has(s)).map((s) => `${counts.get(s)} ${WORDS[s]}`)
  const what = `${runs.length} run${runs.length === 1 ? '' : 's'} of ${template}`
  const waiting = counts.has('queued') || counts.has('running')
  return `${waiting ? `queued ${what}` : what}: ${parts.join(', ')}`
}
