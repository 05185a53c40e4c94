import { describe, expect, it } from 'vitest'
import { joinRuns } from '../../../bench/mqar-recall-runs'

const row = (preset: string, status: string, steps: number, seed = 0) => ({ preset, seed, status, steps, best_accuracy: steps / 1e4 })

describe('joining recall runs from several files', () => {
  it('keeps distinct runs as they come, seeds apart', () => {
    const rows = [row('gla 64 256', 'completed', 10000), row('gla 64 256', 'completed', 10000, 1), row('based 64 256', 'early_stopped', 2000)]
    expect(joinRuns(rows)).toEqual(rows)
  })

  it("a finished run replaces the same run cut off by another call's limit, in either order", () => {
    const cut = row('gla 64 256', 'cut_off', 2999)
    const done = row('gla 64 256', 'early_stopped', 3500)
    expect(joinRuns([cut, row('deltanet 64 256', 'early_stopped', 1500), done])).toEqual([done, row('deltanet 64 256', 'early_stopped', 1500)])
    expect(joinRuns([done, cut])).toEqual([done])
  })

  it('of two cut-off rows of one run, keeps the one that trained longer', () => {
    const short = row('mamba2 64 512', 'cut_off', 1800)
    const long = row('mamba2 64 512', 'cut_off', 4200)
    expect(joinRuns([short, long])).toEqual([long])
    expect(joinRuns([long, short])).toEqual([long])
  })

  it('refuses a run that finished in two files, naming it', () => {
    expect(() => joinRuns([row('gla 64 256', 'completed', 10000), row('gla 64 256', 'early_stopped', 3000)])).toThrow(
      'gla 64 256 seed 0 finished in more than one file (statuses completed and early_stopped)',
    )
  })
})
