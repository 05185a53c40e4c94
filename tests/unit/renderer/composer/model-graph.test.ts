// The model graph's data: identical consecutive layers fold into one group
// (unless expanded), and validation messages land on the group of their layer.
import { describe, expect, it } from 'vitest'
import { achievableRatios, graphGroups } from '../../../../renderer/src/composer/model-graph'

const linear = { kind: 'linear', feature_map: 'identity', gate: 'vector', heads: 2 }
const softmax = { kind: 'softmax', window: 0, rotary: true, heads: 2 }

describe('graphGroups', () => {
  it('folds identical runs, keeps a hybrid pattern visible, and unfolds on request', () => {
    const layers = [linear, linear, linear, softmax, linear, linear, linear, softmax]
    const groups = graphGroups(layers, [])
    expect(groups.map((g) => [g.first, g.last, g.kind])).toEqual([
      [0, 2, 'linear'],
      [3, 3, 'softmax'],
      [4, 6, 'linear'],
      [7, 7, 'softmax'],
    ])
    const open = graphGroups(layers, [], new Set([0, 1, 2]))
    expect(open.slice(0, 3).map((g) => [g.first, g.last])).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ])
  })

  it('puts each validation message on the group holding its layer', () => {
    const bad = { ...linear, input_gate: 'sigmoid', delta_rule: 'on' }
    const groups = graphGroups([linear, bad, linear], [{ path: 'layers[1].input_gate', message: "'sigmoid' does not combine with the delta rule" }])
    expect(groups.map((g) => g.problems.length)).toEqual([0, 1, 0])
    expect(groups[1]!.problems[0]).toContain('does not combine with the delta rule')
  })

  it('keeps 500 identical layers as one block', () => {
    expect(
      graphGroups(
        Array.from({ length: 500 }, () => linear),
        [],
      ),
    ).toHaveLength(1)
  })
})

describe('achievableRatios', () => {
  it('gives k / n for k = 0..n', () => {
    expect(achievableRatios(4)).toEqual([0, 0.25, 0.5, 0.75, 1])
  })
})
