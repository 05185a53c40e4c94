import { describe, expect, it } from 'vitest'
import type { Task } from '../../../../electron/api/train-spec'
import { createTask, TaskError } from '../../../../electron/engine/tasks'
import { labelledPositions, rowsOf, trainRows, type RowView } from './rows'

type SelectiveCopy = Extract<Task, { kind: 'selective_copy' }>
const selectiveCopy = (o: Partial<SelectiveCopy> = {}): SelectiveCopy => ({ kind: 'selective_copy', seq_len: 64, num_tokens: 8, vocab_size: 12, ...o })

function checkRow(row: RowView, t: SelectiveCopy): void {
  const prefix = t.seq_len - t.num_tokens
  const data: number[] = []
  row.inputs.subarray(0, prefix).forEach((x) => {
    if (x !== 0) data.push(x)
  })
  expect(data).toHaveLength(t.num_tokens)
  expect(data.every((x) => x >= 2 && x < t.vocab_size)).toBe(true)
  expect(Array.from(row.inputs.subarray(prefix))).toEqual(new Array(t.num_tokens).fill(1))
  expect(labelledPositions(row.labels)).toEqual(Array.from({ length: t.num_tokens }, (_, k) => prefix + k))
  expect(Array.from(row.labels.subarray(prefix))).toEqual(data)
  const copyIndex = row.tag('copy_index')
  expect(Array.from(copyIndex.subarray(prefix))).toEqual(data.map((_, k) => k))
  expect(copyIndex.subarray(0, prefix).every((v) => v === -1)).toBe(true)
}

describe('selective copying', () => {
  it('scatters the data tokens in noise and asks for them, in order, after the markers', () => {
    for (const t of [selectiveCopy(), selectiveCopy({ seq_len: 33, num_tokens: 16, vocab_size: 4 }), selectiveCopy({ seq_len: 256, num_tokens: 1 })]) {
      const g = createTask(t, 4)
      expect([g.vocabSize, g.seqLen, g.headline]).toEqual([t.vocab_size, t.seq_len, 'accuracy'])
      for (const row of trainRows(g, 3, 32)) checkRow(row, t)
      const sets = g.evalSets(8, 2)
      expect(sets.map((s) => s.name)).toEqual([`T=${t.seq_len}`])
      for (const b of sets[0]!.batches) for (const row of rowsOf(b)) checkRow(row, t)
    }
  })

  it('draws data tokens over all of 2..V−1', () => {
    const seen = new Set<number>()
    for (const row of trainRows(createTask(selectiveCopy(), 3), 2, 50)) row.labels.forEach((x) => x !== -1 && seen.add(x))
    expect([...seen].sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
  })

  it('places data tokens at uniformly random positions of the prefix', () => {
    const t = selectiveCopy()
    const counts = new Array<number>(56).fill(0)
    const rows = trainRows(createTask(t, 5), 10, 400)
    for (const row of rows) row.inputs.subarray(0, 56).forEach((x, p) => (counts[p]! += x !== 0 ? 1 : 0))
    const expected = (rows.length * 8) / 56
    for (const c of counts) expect(Math.abs(c - expected)).toBeLessThan(5 * Math.sqrt(expected))
  })

  it.each([
    [selectiveCopy({ num_tokens: 32 }), 'task.num_tokens: 32 is not valid for seq_len 64; must be below seq_len / 2 = 32'],
    [selectiveCopy({ vocab_size: 2 }), 'task.vocab_size: 2 is not valid; needs >= 3'],
    [selectiveCopy({ num_tokens: 0 }), 'task.num_tokens: 0 is not valid'],
  ])('refuses %o', (t, message) => {
    expect(() => createTask(t, 1)).toThrow(TaskError)
    expect(() => createTask(t, 1)).toThrow(message)
  })
})
