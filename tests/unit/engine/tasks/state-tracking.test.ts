import { describe, expect, it } from 'vitest'
import type { Task } from '../../../../electron/api/train-spec'
import { createTask, TaskError, type TaskGenerator } from '../../../../electron/engine/tasks'
import { log2Bucket, rowsOf, trainRows, type RowView } from './rows'

/** Every row of training and evaluation, with the length it was made at. */
function allRows(g: TaskGenerator): RowView[] {
  const rows = trainRows(g, 3, 16)
  for (const set of g.evalSets(8, 2)) for (const b of set.batches) rows.push(...rowsOf(b))
  return rows
}

function expectPositionTags(row: RowView): void {
  const position = row.tag('position')
  expect(Array.from(position, (_, t) => log2Bucket(t + 1))).toEqual(Array.from(position))
}

describe('parity', () => {
  const task: Task = { kind: 'parity', seq_len: 64, eval_seq_lens: [128, 256] }

  it('labels each position with the parity of the prefix including it', () => {
    const g = createTask(task, 1)
    expect(g.vocabSize).toBe(2)
    for (const row of allRows(g)) {
      let ones = 0
      const expected = Array.from(row.inputs, (x) => {
        expect(x === 0 || x === 1).toBe(true)
        ones += x
        return ones % 2
      })
      expect(Array.from(row.labels)).toEqual(expected)
      expectPositionTags(row)
    }
  })

  it('draws both bits about equally often', () => {
    const rows = trainRows(createTask(task, 2), 10, 100)
    const ones = rows.reduce((s, r) => s + r.inputs.reduce((a, x) => a + x, 0), 0)
    expect(Math.abs(ones / (rows.length * 64) - 0.5)).toBeLessThan(0.01)
  })
})

describe('modular addition', () => {
  it('labels each position with the prefix sum mod m', () => {
    const g = createTask({ kind: 'modular_addition', modulus: 7, seq_len: 50, eval_seq_lens: [100] }, 1)
    expect(g.vocabSize).toBe(7)
    const seen = new Set<number>()
    for (const row of allRows(g)) {
      let sum = 0
      const expected = Array.from(row.inputs, (x) => {
        seen.add(x)
        sum += x
        return sum % 7
      })
      expect(Array.from(row.labels)).toEqual(expected)
      expectPositionTags(row)
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6])
  })
})

describe('evaluation lengths of state-tracking tasks', () => {
  it('evaluates at the training length, then each longer length once', () => {
    const g = createTask({ kind: 'permutation', group: 's3', seq_len: 64, eval_seq_lens: [256, 64, 128, 256] }, 1)
    const sets = g.evalSets(4, 2)
    expect(sets.map((s) => s.name)).toEqual(['T=64', 'T=256', 'T=128'])
    for (const s of sets) {
      expect(s.batches).toHaveLength(2)
      for (const b of s.batches) expect([b.batchSize, b.seqLen, b.inputs.length]).toEqual([4, s.seqLen, 4 * s.seqLen])
    }
  })

  it('buckets positions by floor(log2(t + 1))', () => {
    const { position } = createTask({ kind: 'parity', seq_len: 8, eval_seq_lens: [] }, 1).tags
    expect([0, 1, 2, 3].map((b) => position!.bucketLabel(b))).toEqual(['0', '1–2', '3–6', '7–14'])
  })

  it.each([
    [{ kind: 'parity', seq_len: 0, eval_seq_lens: [] }, 'task.seq_len: 0 is not valid; must be an integer >= 1'],
    [{ kind: 'parity', seq_len: 16, eval_seq_lens: [32, 0] }, 'task.eval_seq_lens[1]: 0 is not valid'],
    [{ kind: 'parity', seq_len: 16.5, eval_seq_lens: [] }, 'task.seq_len: 16.5 is not valid'],
    [{ kind: 'modular_addition', modulus: 1, seq_len: 16, eval_seq_lens: [] }, 'task.modulus: 1 is not valid; must be an integer >= 2'],
    [{ kind: 'permutation', group: 's4', seq_len: 16, eval_seq_lens: [] }, "task.group: 's4' is not valid; valid: s3, s5"],
  ] as [Task, string][])('refuses %o', (t, message) => {
    expect(() => createTask(t, 1)).toThrow(TaskError)
    expect(() => createTask(t, 1)).toThrow(message)
  })
})
