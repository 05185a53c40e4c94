// Which training runs overlapped a profile in time, from the runs' records.
import { describe, expect, it } from 'vitest'
import { competingRunsWarning, runsDuringProfile } from '../../../renderer/src/profile/competing-runs'

const run = (id: string, status: 'completed' | 'running' | 'queued' | 'failed', startedMs?: number, endedMs?: number) => ({
  id,
  name: id,
  status,
  startedMs,
  endedMs,
})

describe('runs during a profile', () => {
  const profile = { createdMs: 100, endedMs: 200 }
  it('takes runs whose training overlaps the profile, running ones up to now', () => {
    const runs = [
      run('before', 'completed', 10, 99),
      run('overlaps-start', 'completed', 50, 120),
      run('inside', 'failed', 150, 160),
      run('overlaps-end', 'completed', 190, 400),
      run('after', 'completed', 201, 300),
      run('never-started', 'queued'),
      run('running', 'running', 20),
      run('runner-says-running', 'queued', 30),
    ]
    expect(runsDuringProfile(profile, runs, 'runner-says-running', 1000).map((r) => r.id)).toEqual([
      'overlaps-start',
      'inside',
      'overlaps-end',
      'running',
      'runner-says-running',
    ])
    // a profile under way: up to now
    expect(runsDuringProfile({ createdMs: 250 }, runs, null, 260).map((r) => r.id)).toEqual(['overlaps-end', 'after', 'running'])
  })

  it('says nothing without such runs, and names them with it', () => {
    expect(competingRunsWarning(profile, [run('before', 'completed', 10, 99)], null, 1000)).toBeUndefined()
    expect(competingRunsWarning(profile, [run('r1', 'completed', 150, 160)], null, 1000)).toMatch(/active while this profile ran \(r1 \(r1\)\)/)
  })
})
