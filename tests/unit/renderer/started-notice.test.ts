// The Train screen's notice about what it started: it follows the runs'
// status, so a queued run says queued and an ended one says how it ended.
import { describe, expect, it } from 'vitest'
import type { RunRecord, RunStatus } from '../../../electron/api/runs'
import { startedNotice } from '../../../renderer/src/runs/started-notice'

function run(name: string, status: RunStatus): RunRecord {
  return { id: name, name, status } as RunRecord
}

describe('startedNotice', () => {
  it('says queued, training, then how one run ended', () => {
    expect(startedNotice([run('a', 'queued')])).toBe('queued a')
    expect(startedNotice([run('a', 'running')])).toBe('training a')
    expect(startedNotice([run('a', 'cancelled')])).toBe('a cancelled')
    expect(startedNotice([run('a', 'completed')])).toBe('a completed')
  })

  it("counts a template's runs by status, and drops 'queued' once none waits", () => {
    const runs = [run('a', 'running'), run('b', 'queued'), run('c', 'queued')]
    expect(startedNotice(runs, 'sweep')).toBe('queued 3 runs of sweep: 2 queued, 1 training')
    expect(startedNotice([run('a', 'completed'), run('b', 'cancelled')], 'sweep')).toBe('2 runs of sweep: 1 completed, 1 cancelled')
  })

  it('says nothing before anything was started', () => {
    expect(startedNotice([])).toBe('')
  })
})
