import { describe, expect, it } from 'vitest'
import { bestOverLearningRates, joinRuns, stillToRun, withoutPerRunSettings } from '../../../bench/mqar-recall-runs'

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

describe('the best of a learning-rate sweep per cell', () => {
  const cellRun = (cell: string, lr: number, first: number | null, best: number, seed = 0) => ({
    preset: `${cell} lr${lr}`,
    cell,
    lr,
    seed,
    first_step_at_0_99: first,
    best_accuracy: best,
  })

  it('ranks reaching 0.99 first, then fewer steps, then the higher best accuracy', () => {
    const rows = [
      cellRun('gla 128 256', 0.003, null, 0.0004),
      cellRun('gla 128 256', 0.001, 4250, 0.9921),
      cellRun('deltanet 64 256', 0.003, 1500, 0.9921),
      cellRun('deltanet 64 256', 0.001, 3250, 0.9907),
      cellRun('retnet 64 256', 0.003, null, 0.0244),
      cellRun('retnet 64 256', 0.001, null, 0.0771),
    ]
    const best = bestOverLearningRates(rows)
    expect(best.map((c) => [c.cell, c.best.lr])).toEqual([
      ['gla 128 256', 0.001],
      ['deltanet 64 256', 0.003],
      ['retnet 64 256', 0.001],
    ])
    expect(best[0]!.runs.map((r) => r.lr)).toEqual([0.001, 0.003])
  })

  it('ranks each seed on its own, and takes rows without a cell as cells of their own', () => {
    const rows = [
      cellRun('mamba2 64 256', 0.003, null, 0.0004),
      cellRun('mamba2 64 256', 0.001, 6250, 0.99),
      cellRun('mamba2 64 256', 0.003, 5000, 0.991, 1),
      { preset: 'gla 64 256', seed: 0, first_step_at_0_99: null, best_accuracy: 0.96 },
    ]
    const best = bestOverLearningRates(rows)
    expect(best.map((c) => [c.cell, c.seed, c.best.preset])).toEqual([
      ['mamba2 64 256', 0, 'mamba2 64 256 lr0.001'],
      ['mamba2 64 256', 1, 'mamba2 64 256 lr0.003'],
      ['gla 64 256', 0, 'gla 64 256'],
    ])
  })
})

describe("a diagnosis's --set over the template's per-run settings", () => {
  const template = {
    id: 't',
    sweep: [
      {
        path: 'model.preset',
        values: ['gated-deltanet', 'hybrid', 'gla'],
        with: [{ 'model.linear.output_gate': 'none' }, { 'model.window': 16, 'model.linear.output_gate': 'none' }, {}],
      },
      { path: 'train.optimizer.lr', values: [0.003] },
    ],
  }

  it('drops the per-run entries at, under or above a --set path and keeps the rest', () => {
    const out = withoutPerRunSettings(template, ['model.linear.output_gate'])
    expect(out.sweep[0]!.with).toEqual([{}, { 'model.window': 16 }, {}])
    expect(withoutPerRunSettings(template, ['model.linear']).sweep[0]!.with).toEqual([{}, { 'model.window': 16 }, {}])
    expect(withoutPerRunSettings(template, ['model.linear.output_gate.x']).sweep[0]!.with![0]).toEqual({})
    // the template itself is untouched, and an axis without `with` stays as it is
    expect(template.sweep[0]!.with![0]).toEqual({ 'model.linear.output_gate': 'none' })
    expect(out.sweep[1]).toBe(template.sweep[1])
  })

  it('leaves a path no run sets alone', () => {
    expect(withoutPerRunSettings(template, ['train.optimizer.lr', 'model.d_model']).sweep[0]!.with).toEqual(template.sweep[0]!.with)
  })
})

describe('the runs a grid file still needs', () => {
  it('lists the template runs without a finished row, cut-off ones included, in template order', () => {
    const rows = [
      { preset: 'gla 64 512 lr1e-3', seed: 0, status: 'completed', steps: 10000 },
      { preset: 'gla 128 512 lr1e-3', seed: 0, status: 'cut_off', steps: 2000 },
      { preset: 'mamba2 64 512 lr1e-3', seed: 0, status: 'early_stopped', steps: 3000 },
    ]
    const expected = ['gla 64 512 lr1e-3', 'gla 128 512 lr1e-3', 'gla 256 512 lr1e-3', 'mamba2 64 512 lr1e-3']
    expect(stillToRun(expected, rows)).toEqual(['gla 128 512 lr1e-3', 'gla 256 512 lr1e-3'])
    expect(stillToRun(expected, [])).toEqual(expected)
  })
})
