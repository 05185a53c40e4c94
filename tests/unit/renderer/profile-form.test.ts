// The Profile form names every wrong field at once, in the form's words.
import { describe, expect, it } from 'vitest'
import { profileSettingsProblems } from '../../../renderer/src/runs/profile-form'

describe('profileSettingsProblems', () => {
  it('lists every wrong field at once, named by its label', () => {
    const problems = profileSettingsProblems({ batchSize: 0, seqLen: 1.5, sweepLengths: [256, Number.NaN], sweepBudgetSeconds: 10 }, '256, x')
    expect(problems).toEqual([
      "sweep lengths: '256, x' must be positive integers, e.g. 256, 512, 1024",
      'batch: 0 is too small; valid: >= 1',
      expect.stringMatching(/^T: 1\.5 is not/),
    ])
  })

  it('accepts good settings', () => {
    expect(profileSettingsProblems({ batchSize: 2, seqLen: 128, sweepLengths: [128, 256], sweepBudgetSeconds: 10 }, '128, 256')).toEqual([])
    expect(profileSettingsProblems({ batchSize: 2, seqLen: 512, labelsPerSequence: 64, sweepLengths: [512], sweepBudgetSeconds: 10 }, '512')).toEqual([])
  })

  it('names labels per sequence that are not a positive integer', () => {
    const settings = { batchSize: 2, seqLen: 512, labelsPerSequence: 0, sweepLengths: [512], sweepBudgetSeconds: 10 }
    expect(profileSettingsProblems(settings, '512')).toEqual(['labels: 0 is too small; valid: >= 1'])
  })
})
