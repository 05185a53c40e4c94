import { describe, expect, it } from 'vitest'
import type { Task } from '../../../../electron/api/train-spec'
import { createTask, TaskError } from '../../../../electron/engine/tasks'
import { labelledPositions, log2Bucket, rowsOf, trainRows, type RowView } from './rows'

type InductionHeads = Extract<Task, { kind: 'induction_heads' }>
const inductionHeads = (o: Partial<InductionHeads> = {}): InductionHeads => ({ kind: 'induction_heads', seq_len: 64, vocab_size: 16, ...o })

/** Returns the position of the first trigger. */
function checkRow(row: RowView, t: InductionHeads): number {
  const T = t.seq_len
  const triggers = labelledPositions(row.inputs.map((x) => (x === 1 ? 1 : -1)))
  expect(triggers).toHaveLength(2)
  const [p, last] = triggers as [number, number]
  expect(last).toBe(T - 1)
  expect(p).toBeLessThanOrEqual(T - 3)
  expect(row.inputs.every((x) => x === 1 || (x >= 2 && x < t.vocab_size))).toBe(true)
  expect(labelledPositions(row.labels)).toEqual([T - 1])
  expect(row.labels[T - 1]).toBe(row.inputs[p + 1])
  const distance = row.tag('distance')
  expect(distance[T - 1]).toBe(log2Bucket(T - 1 - p))
  expect(distance.subarray(0, T - 1).every((v) => v === -1)).toBe(true)
  return p
}

describe('induction heads', () => {
  it('plants the trigger twice and labels the last position with the token after the first', () => {
    for (const t of [inductionHeads(), inductionHeads({ seq_len: 3, vocab_size: 4 }), inductionHeads({ seq_len: 500, vocab_size: 100 })]) {
      const g = createTask(t, 6)
      expect([g.vocabSize, g.seqLen, g.headline]).toEqual([t.vocab_size, t.seq_len, 'accuracy'])
      for (const row of trainRows(g, 3, 32)) checkRow(row, t)
      const sets = g.evalSets(8, 2)
      expect(sets.map((s) => s.name)).toEqual([`T=${t.seq_len}`])
      for (const b of sets[0]!.batches) for (const row of rowsOf(b)) checkRow(row, t)
    }
  })

  it('draws answers and other tokens over all of 2..V−1', () => {
    const answers = new Set<number>()
    const tokens = new Set<number>()
    for (const row of trainRows(createTask(inductionHeads(), 3), 4, 100)) {
      answers.add(row.labels[63]!)
      row.inputs.forEach((x) => tokens.add(x))
    }
    const ordinary = Array.from({ length: 14 }, (_, i) => i + 2)
    expect([...answers].sort((a, b) => a - b)).toEqual(ordinary)
    expect([...tokens].sort((a, b) => a - b)).toEqual([1, ...ordinary])
  })

  it('puts the first trigger anywhere in 0..T−3', () => {
    const t = inductionHeads({ seq_len: 16 })
    const seen = new Set(trainRows(createTask(t, 2), 4, 100).map((row) => checkRow(row, t)))
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 14 }, (_, i) => i))
  })

  it('refuses a sequence too short for two triggers and an answer', () => {
    expect(() => createTask(inductionHeads({ seq_len: 2 }), 1)).toThrow(TaskError)
    expect(() => createTask(inductionHeads({ seq_len: 2 }), 1)).toThrow('task.seq_len: 2 is not valid; must be an integer >= 3')
    expect(() => createTask(inductionHeads({ vocab_size: 2 }), 1)).toThrow('task.vocab_size: 2 is not valid')
  })
})
