// The Inspect screen's diagnosis: sentences from an InspectResult's numbers.
// Every result here is built in the test with the pattern the sentence is
// about (or the pattern it must not be confused with).
import { describe, expect, it } from 'vitest'
import type {
  AttentionStats,
  HeadCapture,
  InspectInput,
  InspectResult,
  LayerCapture,
  LengthCurve,
  RecallAnalysis,
  StateSnapshot,
} from '../../../electron/api/inspect'
import {
  diagnose,
  diagnoseAttention,
  diagnoseExample,
  diagnoseGates,
  diagnoseKeyInNoise,
  diagnoseLengths,
  diagnoseRecallCapacity,
  diagnoseRecallDistance,
  diagnoseState,
  halfLife,
  MAX_PER_TOPIC,
  queryOutcomes,
  uniformAttentionStats,
} from '../../../renderer/src/inspect/diagnose'
import { modelSpec, trainSpec } from '../../fixtures/specs'

const DISTANCE_BUCKETS = ['1', '2–3', '4–7', '8–15', '16–31', '32–63']

/** A recall grid whose rows (one per number of pairs) have these accuracies per distance bucket, `count` queries per cell. */
function recall(numKvPairs: number[], accuracies: number[][], trained = numKvPairs[0]!, count = 100): RecallAnalysis {
  const cells = accuracies.map((row) => row.map((a) => ({ correct: Math.round(a * count), count })))
  return {
    numKvPairs,
    trainedNumKvPairs: trained,
    examples: 256,
    distanceBuckets: DISTANCE_BUCKETS.slice(0, accuracies[0]!.length),
    byDistance: cells,
    positionBuckets: [],
    byPosition: numKvPairs.map(() => []),
    accuracy: accuracies.map((row) => row.reduce((a, b) => a + b, 0) / row.length),
  }
}

function stats(s: Partial<AttentionStats>): AttentionStats {
  return { entropy: 1, sinkMass: 0.05, localMass: 0.3, window: 16, ...s }
}

function layer(index: number, heads: Partial<HeadCapture>[], kind: 'linear' | 'softmax' = 'linear', dk = 16, dv = 16): LayerCapture {
  return { index, kind, label: kind, dk, dv, heads: heads.map((h, i) => ({ head: i, outputNorm: [], ...h })) }
}

function snapshots(ranks: number[], steps: number[]): StateSnapshot[] {
  return ranks.map((r, i) => ({ t: steps[i]!, dk: 16, dv: 16, values: [], singular: [], effectiveRank: r }))
}

function mqarInput(queries: { key: number; query: number; expected: number; predicted: number }[], T = 64): InspectInput {
  const labels = Array<number>(T).fill(-1)
  const predicted = Array<number>(T).fill(-1)
  for (const q of queries) {
    labels[q.query] = q.expected
    predicted[q.query] = q.predicted
  }
  return {
    tokens: Array.from({ length: T }, (_, t) => t % 50),
    labels,
    predicted,
    pairs: queries.map((q) => ({ key: q.key, value: q.key + 1, query: q.query })),
  }
}

function result(parts: Partial<InspectResult>): InspectResult {
  return {
    format: 'linea.inspect/1',
    name: 'step-0000100-example-0',
    createdMs: 0,
    runId: 'r',
    runName: 'r',
    checkpoint: 'checkpoints/step-0000100.safetensors',
    step: 100,
    modelSpec: modelSpec(),
    task: trainSpec().task,
    request: { runId: 'r', input: { kind: 'task', example: 0 }, maxAttentionT: 256, localWindow: 16, lengthExamples: 128 },
    backend: 'cpu',
    input: { tokens: [1, 2], labels: [-1, -1], predicted: [-1, -1] },
    layers: [],
    seconds: 1,
    ...parts,
  }
}

describe('recall against distance', () => {
  it('names the distance where recall falls: the state forgets long-range pairs', () => {
    const r = recall([4], [[0.95, 0.95, 0.95, 0.95, 0.1, 0.1]])
    expect(diagnoseRecallDistance(r)).toEqual([
      {
        topic: 'recall',
        severity: 'problem',
        text: 'Recall falls from 0.95 at distance ≤15 to 0.10 beyond 15 (4 pairs, as trained): the state forgets long-range pairs',
      },
    ])
  })

  it('reads the trained row, not the hardest one', () => {
    const r = recall(
      [1, 4, 16],
      [
        [1, 1, 1],
        [0.96, 0.96, 0.96],
        [0.9, 0.2, 0.1],
      ],
      4,
    )
    expect(diagnoseRecallDistance(r)[0]!.text).toBe('Recall is 0.96 at every query–key distance (4 pairs, as trained)')
  })

  it('says so when recall is low everywhere, and ignores cells with too few queries', () => {
    const r = recall([4], [[0.2, 0.25, 0.2, 0.2]])
    r.byDistance[0]![3] = { correct: 0, count: 2 } // two queries: noise, not a drop
    const [f] = diagnoseRecallDistance(r)
    expect(f!.severity).toBe('problem')
    expect(f!.text).toMatch(/^Recall is 0\.22 whether the key is near or far/)
  })

  it('pools every row when the trained number of pairs was not measured', () => {
    const r = recall(
      [1, 2],
      [
        [1, 0],
        [1, 0],
      ],
      8,
    )
    expect(diagnoseRecallDistance(r)[0]!.text).toContain('(all pair counts)')
  })
})

describe('queries whose key also occurs earlier as noise', () => {
  const split = (clean: number, noisy: number, count = 100) => ({
    ...recall([4], [[0.9]]),
    byKeyInNoise: [
      [
        { correct: Math.round(clean * count), count },
        { correct: Math.round(noisy * count), count },
      ],
    ],
    keyInNoiseBuckets: ['key only in its pair', 'key also earlier as noise'],
  })

  it('names the gap, and learned positions when the model has none', () => {
    expect(diagnoseKeyInNoise(split(0.99, 0.5), 'none')).toEqual([
      {
        topic: 'recall',
        severity: 'problem',
        text: "Queries whose key also occurs earlier as noise are recalled at 0.50, the others at 0.99 (100 and 100 queries): the model cannot tell which occurrence of a key holds its value; learned positions (this model's position is 'none') tell them apart",
      },
    ])
    expect(diagnoseKeyInNoise(split(0.99, 0.5), 'learned')[0]!.text).toMatch(/holds its value$/)
  })

  it('stays quiet for a small gap, too few queries, or an inspection without the split', () => {
    expect(diagnoseKeyInNoise(split(0.99, 0.95), 'none')).toEqual([])
    expect(diagnoseKeyInNoise(split(0.99, 0.2, 4), 'none')).toEqual([])
    expect(diagnoseKeyInNoise(recall([4], [[0.9]]), 'none')).toEqual([])
  })
})

describe('recall against the number of pairs', () => {
  it('reports the state running out of room, with the count where it halves', () => {
    const r = recall([1, 2, 4, 8], [[0.96], [0.9], [0.5], [0.2]], 4)
    expect(diagnoseRecallCapacity(r)).toEqual([
      {
        topic: 'capacity',
        severity: 'problem',
        text: 'Recall drops from 0.96 with 1 pair to 0.20 with 8 (trained on 4; below 0.58 from 4): the state runs out of room',
      },
    ])
  })

  it('stays quiet when more pairs cost little', () => {
    expect(diagnoseRecallCapacity(recall([1, 2, 4, 8], [[0.99], [0.98], [0.95], [0.8]]))).toEqual([])
  })
})

describe('the example', () => {
  it('counts right queries and lists the misses with their distance', () => {
    const input = mqarInput([
      { key: 0, query: 40, expected: 7, predicted: 7 },
      { key: 2, query: 50, expected: 9, predicted: 3 },
    ])
    expect(queryOutcomes(input).map((q) => q.right)).toEqual([true, false])
    expect(diagnoseExample(input)).toEqual([
      { topic: 'example', severity: 'problem', text: 'This example: 1 of 2 queries right; missed at 50 (key at 2, 48 back) said 3 for 9' },
    ])
  })

  it('counts labelled positions when the task has no pairs', () => {
    const input: InspectInput = { tokens: [1, 0, 1], labels: [1, 1, 0], predicted: [1, 1, 0] }
    expect(diagnoseExample(input)).toEqual([{ topic: 'example', severity: 'note', text: 'This example: 3 of 3 labelled positions right' }])
  })
})

describe('attention', () => {
  it('compares with what an even spread gives', () => {
    const u = uniformAttentionStats(2, 1) // query 1 only: keys 0 and 1
    expect(u.sinkMass).toBeCloseTo(0.5)
    expect(u.localMass).toBeCloseTo(0.5)
    expect(u.entropy).toBeCloseTo(Math.log(2))
  })

  it('finds an attention sink, but not where few keys make token 0 heavy anyway', () => {
    const layers = [layer(2, [{ attentionStats: stats({ sinkMass: 0.61, entropy: 0.5 }) }], 'softmax')]
    expect(diagnoseAttention(layers, 64)).toEqual([
      { topic: 'attention', severity: 'note', text: 'Layer 2 head 0 puts 61% of its mass on the first token (attention sink)' },
    ])
    // T = 4: an even spread already puts 36% on token 0
    expect(diagnoseAttention(layers, 4)).toEqual([])
  })

  it('finds local heads and heads that spread out', () => {
    const T = 128
    const even = uniformAttentionStats(T, 8).entropy
    const layers = [
      layer(0, [
        { attentionStats: stats({ localMass: 0.95, window: 8 }) },
        { attentionStats: stats({ entropy: 0.95 * even, window: 8 }) },
        { attentionStats: stats({ entropy: 0.5 * even, window: 8 }) },
      ]),
    ]
    const found = diagnoseAttention(layers, T)
    expect(found.map((f) => f.text)).toEqual([
      'Layer 0 head 0 keeps 95% of its mass within the last 8 tokens: it looks locally',
      `Layer 0 head 1 spreads its attention almost evenly (entropy ${(0.95 * even).toFixed(2)} of ${even.toFixed(2)} nats for uniform rows): it does not pick out keys`,
    ])
    expect(found[1]!.severity).toBe('problem')
  })
})

describe('state', () => {
  const steps = [9, 19, 39, 59, 79]

  it('finds the step where the effective rank saturates', () => {
    const found = diagnoseState([layer(1, [{ snapshots: snapshots([3, 8, 11.5, 12, 12], steps) }])])
    expect(found).toEqual([
      {
        topic: 'state',
        severity: 'problem',
        text: 'Layer 1 head 0: state effective rank saturates at 12.0 of 16 by step 39; later pairs must overwrite earlier ones',
      },
    ])
  })

  it('tells a rank still growing at the end from a saturated one', () => {
    expect(diagnoseState([layer(0, [{ snapshots: snapshots([2, 4, 6, 8, 10], steps) }])])[0]!.text).toBe(
      'Layer 0 head 0: state effective rank is still growing at the last step (10.0 of 16 at step 79)',
    )
  })

  it('notes a state that uses few directions, and says nothing of a mid-range one', () => {
    expect(diagnoseState([layer(0, [{ snapshots: snapshots([1, 1.5, 2, 2, 2], steps) }])])[0]!.text).toBe(
      'Layer 0 head 0: state uses few directions (effective rank at most 2.0 of 16)',
    )
    expect(diagnoseState([layer(0, [{ snapshots: snapshots([2, 4, 6, 7, 7], steps) }])])).toEqual([])
  })
})

describe('gates', () => {
  it('half-life of the mean gate', () => {
    expect(halfLife(0.5)).toBeCloseTo(1)
    expect(halfLife(Math.SQRT1_2)).toBeCloseTo(2)
    expect(halfLife(1)).toBe(Infinity)
  })

  it('flags decay too fast for how far back the keys are, and β above 1', () => {
    const input = mqarInput([
      { key: 0, query: 16, expected: 1, predicted: 1 },
      { key: 2, query: 18, expected: 1, predicted: 1 },
    ])
    const layers = [layer(0, [{ decay: [0.5, 0.5, 0.5] }, { decay: [0.99, 0.99] }, { beta: [0.5, 1.8, 1.2] }])]
    expect(diagnoseGates(layers, input).map((f) => [f.severity, f.text])).toEqual([
      ['problem', 'Layer 0 head 0 decays fast: mean gate 0.50, a half-life of 1.0 tokens, while queries come ~16 tokens after their keys'],
      ['note', 'Layer 0 head 2: β reaches 1.80 (> 1), so its state transitions have negative eigenvalues'],
    ])
  })
})

describe('accuracy against length', () => {
  const curve = (acc: number[], lengths = [32, 64, 128, 256, 512]): LengthCurve => ({
    trainedLength: 64,
    points: lengths.map((seqLen, i) => ({ seqLen, accuracy: acc[i]!, count: 128 })),
  })

  it('holds to 2× the trained length then drops', () => {
    expect(diagnoseLengths(curve([0.99, 0.99, 0.98, 0.7, 0.5]))).toEqual([
      { topic: 'length', severity: 'problem', text: 'Accuracy holds to 2× the trained length then drops (0.98 at 128, 0.70 at 256)' },
    ])
  })

  it('holds at every length measured', () => {
    expect(diagnoseLengths(curve([1, 1, 0.99, 0.98, 0.97]))[0]!.text).toBe('Accuracy holds to 8× the trained length (0.97 at 512, 1.00 at 64)')
  })

  it('drops right past the trained length (points in any order)', () => {
    const c = curve([0.6, 0.55, 0.5, 0.97, 0.95], [256, 512, 128, 64, 32])
    expect(diagnoseLengths(c)[0]!.text).toBe('Accuracy drops right past the trained length: 0.97 at 64, 0.50 at 128, 0.55 at 512')
  })
})

describe('diagnose', () => {
  it('puts the example first and keeps each topic short', () => {
    const sinks = layer(
      1,
      Array.from({ length: 5 }, () => ({ attentionStats: stats({ sinkMass: 0.7 }) })),
      'softmax',
    )
    const r = result({
      input: mqarInput([{ key: 0, query: 40, expected: 7, predicted: 3 }]),
      layers: [sinks],
      recall: recall([4], [[0.95, 0.95, 0.95, 0.95, 0.1, 0.1]], 4),
    })
    const found = diagnose(r)
    expect(found[0]!.topic).toBe('example')
    expect(found[1]!.topic).toBe('recall')
    const attention = found.filter((f) => f.topic === 'attention')
    expect(attention).toHaveLength(MAX_PER_TOPIC + 1)
    expect(attention.at(-1)!.text).toBe('…and 2 more attention findings like these')
  })

  it('says nothing it has no numbers for', () => {
    expect(diagnose(result({}))).toEqual([])
  })
})
