// Training runs that ran while a profile measured: the job runner's own
// record of each run (started, ended, or running now) against the profile's
// time span. They compete for the same device, so the profile's times are
// suspect; the Profile screen says so beside the profile (the profile's own
// CPU-load warning covers what the engine saw; this names the runs).
import type { ProfileRecord } from '../../../electron/api/labapi'
import { activeRunsWarning } from '../../../electron/api/profile-stats'
import type { RunRecord } from '../../../electron/api/runs'

type RunTimes = Pick<RunRecord, 'id' | 'name' | 'status' | 'startedMs' | 'endedMs'>

/** Runs whose time training overlaps the profile's (from its creation to its end, or now while it runs). */
export function runsDuringProfile(
  profile: Pick<ProfileRecord, 'createdMs' | 'endedMs'>,
  runs: readonly RunTimes[],
  runningId: string | null,
  nowMs: number,
): RunTimes[] {
  const from = profile.createdMs
  const to = profile.endedMs ?? nowMs
  return runs.filter((r) => {
    if (r.startedMs === undefined) return false
    const running = r.id === runningId || r.status === 'running'
    const end = running ? nowMs : (r.endedMs ?? r.startedMs)
    return r.startedMs <= to && end >= from
  })
}

/** The warning for a profile, naming the runs that trained while it measured, or undefined. */
export function competingRunsWarning(
  profile: Pick<ProfileRecord, 'createdMs' | 'endedMs'>,
  runs: readonly RunTimes[],
  runningId: string | null,
  nowMs: number,
): string | undefined {
  return activeRunsWarning(runsDuringProfile(profile, runs, runningId, nowMs).map((r) => `${r.name} (${r.id})`))
}
