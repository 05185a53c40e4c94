import { describe, expect, it } from 'vitest'
import type { MetricsLine } from '../../../../electron/api/runs'
import { MQAR_KEY_IN_NOISE_LABELS, type TrainSpec } from '../../../../electron/api/train-spec'
import {
  describeDevices,
  evalSetLabel,
  evalSetPoints,
  headlineName,
  headlinePoints,
  keyInNoisePoints,
  logEntries,
  lossPoints,
  lossPointsBy,
  mergeMetrics,
  progressStep,
  runProgress,
} from '../../../../renderer/src/runs/metrics'
import { defaultTrainSpec } from '../../../../renderer/src/runs/train-form'

const step = (n: number, loss = 5 - n / 10): MetricsLine => ({
  type: 'train',
  step: n,
  steps: 10,
  loss,
  lr: 1e-3,
  gradNorm: 1,
  tokensPerSecond: 1000,
  elapsedSeconds: n,
  memoryBytes: 1 << 20,
  peakMemoryBytes: 2 << 20,
})
const evalAt = (n: number, acc: number, sets = [{ name: 'train', seqLen: 32, accuracy: acc }]): MetricsLine => ({
  type: 'eval',
  step: n,
  headline: acc,
  headlineName: 'accuracy',
  sets: sets.map((s) => ({ ...s, loss: 1, bitsPerByte: 0, count: 10, byTag: {} })),
})

describe('run metrics', () => {
  it('merge a file read with live lines: the overlap counted once, in order', () => {
    const read = [step(1), step(2), step(3)]
    // the read already holds the first two buffered lines
    expect(mergeMetrics(read, [step(2), step(3), step(4)]).map((l) => (l as { step: number }).step)).toEqual([1, 2, 3, 4])
    // no overlap: the buffer came after the read
    expect(mergeMetrics(read, [step(4)])).toHaveLength(4)
    // the buffer entirely inside the read
    expect(mergeMetrics(read, [step(3)])).toHaveLength(3)
    expect(mergeMetrics([], [step(1)])).toHaveLength(1)
  })

  it('do not mistake an equal-looking line elsewhere in the read for the overlap', () => {
    const read = [step(1, 2), step(2, 2)]
    const live = [step(3, 2)]
    expect(mergeMetrics(read, live)).toHaveLength(3)
  })

  it('give loss per step and the eval headline per eval, per set', () => {
    const lines = [
      step(1),
      step(2),
      evalAt(2, 0.25, [
        { name: 'train', seqLen: 32, accuracy: 0.25 },
        { name: 'long', seqLen: 64, accuracy: 0.125 },
      ]),
      step(3),
    ]
    expect(lossPoints(lines)).toEqual([
      [1, 4.9],
      [2, 4.8],
      [3, 4.7],
    ])
    expect(headlinePoints(lines)).toEqual([[2, 0.25]])
    expect(headlineName(lines)).toBe('accuracy')
    expect(headlineName([step(1)])).toBeNull()
    expect(evalSetPoints(lines)).toEqual([
      { name: 'train (T=32)', points: [[2, 0.25]] },
      { name: 'long (T=64)', points: [[2, 0.125]] },
    ])
  })

  it('names an eval set by its length once when its name is the length', () => {
    // Sequence tasks name their sets "T=<length>": the label must not say it twice.
    expect(evalSetLabel({ name: 'T=64', seqLen: 64 })).toBe('T=64')
    expect(evalSetLabel({ name: 'T=64', seqLen: 128 })).toBe('T=64 (T=128)')
    expect(evalSetLabel({ name: 'valid', seqLen: 256 })).toBe('valid (T=256)')
    expect(evalSetPoints([evalAt(2, 0.5, [{ name: 'T=64', seqLen: 64, accuracy: 0.5 }])]).map((s) => s.name)).toEqual(['T=64'])
  })

  it('log status changes, evals, checkpoints and failures, not training steps', () => {
    const lines: MetricsLine[] = [
      { type: 'status', status: 'running', atMs: 1 },
      step(1),
      evalAt(1, 0.5),
      { type: 'checkpoint', step: 1, path: 'checkpoints/step-0000001.safetensors' },
      step(2),
      { type: 'status', status: 'failed', atMs: 2, failure: 'loss is NaN at step 2' },
    ]
    expect(logEntries(lines).map((e) => [e.kind, e.text])).toEqual([
      ['status', 'status: running'],
      ['eval', 'eval at step 1: accuracy 50.0%'],
      ['checkpoint', 'checkpoint at step 1: checkpoints/step-0000001.safetensors'],
      ['status', 'status: failed'],
      ['failure', 'failed: loss is NaN at step 2'],
    ])
    expect(logEntries(lines).at(-1)!.step).toBe(2)
  })

  it("progress: the last train line's step, ahead of the record; the record's without lines", () => {
    // the record is rewritten at most once a second: it says 3 while the lines say 5
    expect(progressStep([step(4), step(5), { type: 'status', status: 'completed', atMs: 1 }], { steps: 3 })).toBe(5)
    expect(progressStep([], { steps: 7 })).toBe(7)
    expect(progressStep([{ type: 'status', status: 'running', atMs: 1 }], { steps: 2 })).toBe(2)
    expect(progressStep([], null)).toBe(0)
  })

  it('progress runs to the step the run stops at: max_steps when set, so a run stopped early ends at 100 %', () => {
    const spec = (over: Partial<TrainSpec>): TrainSpec => ({ ...defaultTrainSpec(), steps: 300, ...over })
    expect(runProgress([step(40)], { steps: 40, trainSpec: spec({ max_steps: 40 }) })).toEqual({ step: 40, total: 40, fraction: 1 })
    expect(runProgress([step(10)], { steps: 5, trainSpec: spec({ max_steps: 40 }) })).toEqual({ step: 10, total: 40, fraction: 0.25 })
    expect(runProgress([step(30)], { steps: 30, trainSpec: spec({}) })).toEqual({ step: 30, total: 300, fraction: 0.1 })
    expect(runProgress([], null)).toEqual({ step: 0, total: 0, fraction: 0 })
  })

  it("split MQAR accuracy by key in noise, from the first set's byTag, per label, leaving out buckets without queries", () => {
    const [only, noise] = MQAR_KEY_IN_NOISE_LABELS
    const withSplit = (n: number, split: Record<string, { correct: number; count: number }>): MetricsLine => {
      const l = evalAt(n, 0.5) as Extract<MetricsLine, { type: 'eval' }>
      return { ...l, sets: [{ ...l.sets[0]!, byTag: { distance: { '0': { correct: 1, count: 1 } }, key_in_noise: split } }] }
    }
    const lines = [
      step(1),
      withSplit(10, { [only]: { correct: 6, count: 8 }, [noise]: { correct: 1, count: 4 } }),
      withSplit(20, { [only]: { correct: 8, count: 8 }, [noise]: { correct: 0, count: 0 } }),
    ]
    expect(keyInNoisePoints(lines)).toEqual([
      {
        label: only,
        points: [
          [10, 0.75],
          [20, 1],
        ],
      },
      { label: noise, points: [[10, 0.25]] },
    ])
    // no split: other tasks, records from before the tag
    expect(keyInNoisePoints([step(1), evalAt(10, 0.5)])).toEqual([])
    expect(keyInNoisePoints([])).toEqual([])
  })

  it('read the split of a metrics file as untrusted: byTag missing or malformed gives no points, not an error', () => {
    const [only] = MQAR_KEY_IN_NOISE_LABELS
    const evalWith = (set: object) =>
      ({
        type: 'eval',
        step: 5,
        headline: 0.5,
        headlineName: 'accuracy',
        sets: [{ name: 'train', seqLen: 32, accuracy: 0.5, loss: 1, bitsPerByte: 0, count: 4, ...set }],
      }) as unknown as MetricsLine
    const broken = [
      evalWith({}),
      evalWith({ byTag: null }),
      evalWith({ byTag: { key_in_noise: 'x' } }),
      evalWith({ byTag: { key_in_noise: { [only]: { correct: '3', count: 4 } } } }),
      evalWith({ byTag: { key_in_noise: { [only]: { correct: 3, count: -1 } } } }),
      evalWith({ byTag: Object.create({ key_in_noise: { [only]: { correct: 1, count: 1 } } }) as object }),
      { type: 'eval', step: 6, headline: 0.5, headlineName: 'accuracy', sets: [] } as MetricsLine,
    ]
    expect(keyInNoisePoints(broken)).toEqual([])
  })
})

describe('lossPointsBy', () => {
  it('puts the loss against steps, tokens seen (step x batch x length) or wall time', () => {
    const spec = defaultTrainSpec()
    const lines = [step(1), step(2)]
    const tokensPerStep = spec.batch_size * (spec.task as { seq_len: number }).seq_len
    expect(lossPointsBy(lines, 'step', { trainSpec: spec })).toEqual(lossPoints(lines))
    expect(lossPointsBy(lines, 'tokens', { trainSpec: spec }).map(([x]) => x)).toEqual([tokensPerStep, 2 * tokensPerStep])
    expect(lossPointsBy([{ ...step(3), elapsedSeconds: 7.5 } as MetricsLine], 'time', { trainSpec: spec })).toEqual([[7.5, 5 - 0.3]])
  })
})

describe('describeDevices', () => {
  it('one line per device of a data-parallel step, each with its share of the tokens/s; none for one device', () => {
    const one = step(3) as Extract<MetricsLine, { type: 'train' }>
    expect(describeDevices(one)).toEqual([])
    expect(describeDevices(undefined)).toEqual([])
    const two = {
      ...one,
      tokensPerSecond: 102400,
      devices: [
        { rank: 0, device: 'cuda:0', memoryBytes: 3 * 2 ** 30, peakMemoryBytes: 4 * 2 ** 30 },
        { rank: 1, device: 'cuda:1', memoryBytes: 2 ** 30, peakMemoryBytes: 2 * 2 ** 30 },
      ],
    }
    expect(describeDevices(two)).toEqual(['cuda:0: 3.0 GiB (peak 4.0 GiB), 51,200 tokens/s', 'cuda:1: 1.0 GiB (peak 2.0 GiB), 51,200 tokens/s'])
  })
})
