// The templates of workspace-templates/: each expands into valid runs.
import { describe, expect, it } from 'vitest'
import { expandTemplate, loadTemplates, TemplateError } from '../../../electron/workspace/templates'

describe('workspace templates', () => {
  const templates = loadTemplates()

  it('are the four ready experiments', () => {
    expect(templates.map((t) => t.id).sort()).toEqual(['byte-lm', 'hybrid-ratio-sweep', 'mqar-recall-sweep', 'state-tracking'])
  })

  it('expand into the grid of their sweep, every spec valid', () => {
    const byId = Object.fromEntries(templates.map((t) => [t.id, t]))
    const mqar = expandTemplate(byId['mqar-recall-sweep']!)
    expect(mqar).toHaveLength(6 * 2)
    expect(mqar.map((r) => r.name)).toContain('gated-deltanet 128')
    expect(new Set(mqar.map((r) => r.modelSpec.d_model))).toEqual(new Set([64, 128]))
    const hybrid = expandTemplate(byId['hybrid-ratio-sweep']!)
    expect(hybrid.map((r) => r.modelSpec.layers.filter((l) => l.kind === 'softmax').length)).toEqual([0, 1, 2, 4, 8])
    const state = expandTemplate(byId['state-tracking']!)
    expect(state.map((r) => r.name)).toEqual(['deltanet parity', 'deltanet S5', 'deltanet-negative-eigen parity', 'deltanet-negative-eigen S5'])
    expect(state.every((r) => 'eval_seq_lens' in r.trainSpec.task && r.trainSpec.task.eval_seq_lens.length > 0)).toBe(true)
  })

  it('ask for their inputs, and take overrides for every run', () => {
    const bytes = templates.find((t) => t.id === 'byte-lm')!
    expect(() => expandTemplate(bytes)).toThrow(TemplateError)
    expect(() => expandTemplate(bytes)).toThrow('template byte-lm needs text file (train.task.path)')
    expect(() => expandTemplate(bytes, { 'train.task.path': '/tmp/some.txt' }, { 'train.steps': 10 })).toThrow(
      'schedule.warmup_steps: 100 exceeds steps 10',
    )
    const [run] = expandTemplate(bytes, { 'train.task.path': '/tmp/some.txt' }, { 'train.steps': 10, 'train.schedule.warmup_steps': 2 })
    expect(run!.trainSpec.task).toMatchObject({ kind: 'bytes', path: '/tmp/some.txt' })
    expect(run!.trainSpec.steps).toBe(10)
  })

  it('refuse an override that makes a spec invalid, naming the field', () => {
    const mqar = templates.find((t) => t.id === 'mqar-recall-sweep')!
    expect(() => expandTemplate(mqar, {}, { 'train.steps': 0 })).toThrow(/steps: 0 is too small/)
  })

  it('refuse an override of a swept field (it would replace every run value under the sweep names)', () => {
    const mqar = templates.find((t) => t.id === 'mqar-recall-sweep')!
    expect(() => expandTemplate(mqar, {}, { 'model.d_model': 32 })).toThrow(/override model.d_model: the template sweeps model.d_model over 64, 128/)
    expect(() => expandTemplate(mqar, {}, { model: { preset: 'gla' } })).toThrow(/override model: the template sweeps model\./)
    // a field beside the sweep is fine
    expect(expandTemplate(mqar, {}, { 'model.n_layers': 1 }).every((r) => r.modelSpec.layers.length === 1)).toBe(true)
  })
})
