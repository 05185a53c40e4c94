import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Task } from '../../../../electron/api/train-spec'
import { createTask, type Batch } from '../../../../electron/engine/tasks'
import { Rng } from '../../../../electron/engine/random'

const dir = mkdtempSync(join(tmpdir(), 'linea-tasks-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const textPath = join(dir, 'text.bin')
const rng = new Rng(3)
writeFileSync(
  textPath,
  Uint8Array.from({ length: 20000 }, () => rng.int(256)),
)

const tasks: Task[] = [
  { kind: 'mqar', seq_len: 128, num_kv_pairs: 8, power_a: 0.01, vocab_size: 256 },
  { kind: 'parity', seq_len: 64, eval_seq_lens: [128] },
  { kind: 'modular_addition', modulus: 5, seq_len: 64, eval_seq_lens: [] },
  { kind: 'permutation', group: 's5', seq_len: 64, eval_seq_lens: [] },
  { kind: 'selective_copy', seq_len: 64, num_tokens: 8, vocab_size: 16 },
  { kind: 'induction_heads', seq_len: 64, vocab_size: 16 },
  { kind: 'bytes', path: textPath, seq_len: 64, valid_fraction: 0.2 },
]

const same = (a: Batch, b: Batch) => a.inputs.every((x, i) => x === b.inputs[i]) && a.labels.every((x, i) => x === b.labels[i])

/** Row r of a batch as a plain array of its inputs. */
const row = (b: Batch, r: number) => Array.from(b.inputs.subarray(r * b.seqLen, (r + 1) * b.seqLen))

describe.each(tasks.map((t) => [t.kind, t] as const))('%s determinism', (_, task) => {
  it('gives the same batch for the same seed, step and batch size, whatever came before', () => {
    const a = createTask(task, 12)
    const b = createTask(task, 12)
    const first = a.trainBatch(5, 8)
    b.trainBatch(0, 3)
    b.evalSets(2, 1)
    expect(b.trainBatch(5, 8)).toEqual(first)
    expect(a.trainBatch(5, 8)).toEqual(first)
  })

  it('gives different batches for a different step or seed', () => {
    const g = createTask(task, 12)
    expect(same(g.trainBatch(5, 8), g.trainBatch(6, 8))).toBe(false)
    expect(same(g.trainBatch(5, 8), createTask(task, 13).trainBatch(5, 8))).toBe(false)
  })

  it('keeps rows when the batch size changes', () => {
    const g = createTask(task, 12)
    const small = g.trainBatch(2, 4)
    const large = g.trainBatch(2, 8)
    for (let r = 0; r < 4; r++) expect(row(large, r)).toEqual(row(small, r))
  })

  it('draws evaluation sets from a stream apart from training, the same every time', () => {
    const g = createTask(task, 12)
    const sets = g.evalSets(4, 2)
    expect(createTask(task, 12).evalSets(4, 2)).toEqual(sets)
    const evalRows = new Set(sets.flatMap((s) => s.batches.flatMap((b) => Array.from({ length: b.batchSize }, (_, r) => row(b, r).join()))))
    for (let step = 0; step < 50; step++) {
      const b = g.trainBatch(step, 4)
      for (let r = 0; r < 4; r++) expect(evalRows.has(row(b, r).join())).toBe(false)
    }
  })

  it('does not change evaluation sequences when the set is cut into other batch sizes', () => {
    const g = createTask(task, 12)
    const byFour = g.evalSets(4, 2)[0]!.batches
    const byEight = g.evalSets(8, 1)[0]!.batches
    const rowsOf = (bs: Batch[]) => bs.flatMap((b) => Array.from({ length: b.batchSize }, (_, r) => row(b, r)))
    expect(rowsOf(byFour)).toEqual(rowsOf(byEight))
  })
})

describe('batch arguments', () => {
  it('refuses a negative step or an empty batch', () => {
    const g = createTask(tasks[1]!, 1)
    expect(() => g.trainBatch(-1, 4)).toThrow('step: -1 is not valid')
    expect(() => g.trainBatch(0, 0)).toThrow('batchSize: 0 is not valid')
    expect(() => g.evalSets(4, 0)).toThrow('batchesPerSet: 0 is not valid')
    expect(() => createTask(tasks[1]!, -1)).toThrow('seed: -1 is not valid')
  })
})
