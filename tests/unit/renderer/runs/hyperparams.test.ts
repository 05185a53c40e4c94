import { describe, expect, it } from 'vitest'
import { flattenSpec, formatFlatValue, hyperparamRows, runHyperparams } from '../../../../renderer/src/runs/hyperparams'
import { glaLayer, modelSpec, softmaxLayer, trainSpec } from '../../../fixtures/specs'

describe('hyperparameters', () => {
  it('flatten nested specs to paths, layers by index, lists of plain values as one leaf', () => {
    const flat = flattenSpec({ a: { b: 1, c: [2, 3] }, layers: [{ heads: 4 }, { heads: 2, window: null }], s: 'x' })
    expect([...flat]).toEqual([
      ['a.b', 1],
      ['a.c', '[2, 3]'],
      ['layers[0].heads', 4],
      ['layers[1].heads', 2],
      ['layers[1].window', null],
      ['s', 'x'],
    ])
  })

  it("hold a run's model and train fields, without format tags or the model's display name", () => {
    const hp = runHyperparams({ modelSpec: modelSpec(), trainSpec: trainSpec() })
    expect(hp.get('model.d_model')).toBe(128)
    expect(hp.get('model.layers[1].forget_gate')).toBe('vector')
    expect(hp.get('train.optimizer.lr')).toBe(1e-3)
    expect(hp.get('train.task.kind')).toBe('mqar')
    expect(hp.has('model.format')).toBe(false)
    expect(hp.has('train.format')).toBe(false)
    expect(hp.has('model.name')).toBe(false)
  })

  it('mark the rows that differ, and show only those when asked', () => {
    const a = { modelSpec: modelSpec(), trainSpec: trainSpec() }
    const b = { modelSpec: modelSpec({ d_model: 64, name: 'other' }), trainSpec: trainSpec({ seed: 3 }) }
    const all = hyperparamRows([a, b])
    expect(all.find((r) => r.path === 'model.vocab_size')).toEqual({ path: 'model.vocab_size', values: [256, 256], differs: false })
    const diff = hyperparamRows([a, b], true)
    expect(diff.map((r) => r.path)).toEqual(['model.d_model', 'train.seed'])
    expect(diff[0]!.values).toEqual([128, 64])
  })

  it('treat a field one run lacks as a difference (a softmax layer against a linear one)', () => {
    const a = { modelSpec: modelSpec({ layers: [glaLayer(), glaLayer()] }), trainSpec: trainSpec() }
    const b = { modelSpec: modelSpec({ layers: [glaLayer(), softmaxLayer()] }), trainSpec: trainSpec() }
    const diff = hyperparamRows([a, b], true)
    const paths = diff.map((r) => r.path)
    expect(paths).toContain('model.layers[1].kind')
    expect(paths).toContain('model.layers[1].rotary')
    const rotary = diff.find((r) => r.path === 'model.layers[1].rotary')!
    expect(rotary.values).toEqual([undefined, true])
    expect(formatFlatValue(rotary.values[0])).toBe('—')
    expect(formatFlatValue(null)).toBe('null')
    // a single run differs from nothing
    expect(hyperparamRows([a], true)).toEqual([])
  })
})
