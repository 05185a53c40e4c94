// MQAR accuracy split: a query whose key also occurs earlier as noise is
// tagged, and evaluation counts it apart from the others.
import { describe, expect, it } from 'vitest'
import { Ctx } from '../../../electron/engine/autograd/context'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { Model } from '../../../electron/engine/model/model'
import { createTask } from '../../../electron/engine/tasks'
import { KEY_IN_NOISE_LABELS, keyInNoise } from '../../../electron/engine/tasks/mqar'
import type { Batch } from '../../../electron/engine/tasks/types'
import { disposeBatch, toDevice } from '../../../electron/engine/train/device-batch'
import { evaluate } from '../../../electron/engine/train/evaluate'
import { smallModelSpec } from '../../fixtures/runs'

const cpu = nativeBackend('cpu')
const [T, PAIRS, VOCAB] = [16, 2, 64]
// keys 1..31, values 32..63
const [K1, V1, K2, V2] = [5, 40, 9, 50]

/**
 *   0  1  2  3 | 4  5  6  7  8  9 | 10 11 | 12 13 | 14 15
 *  k1 v1 k2 v2 | noise, k1 at 6   | k1 v1 | k2 v2 | noise
 * The query of k1 (at 10) has its key earlier as noise (at 6); the query of k2 (at 12) does not.
 */
function handMadeRow(): Int32Array {
  return Int32Array.from([K1, V1, K2, V2, 60, 3, K1, 33, 0, 17, K1, V1, K2, V2, 8, 2])
}

function handMadeBatch(rows: number): Batch {
  const row = handMadeRow()
  const inputs = new Int32Array(rows * T)
  const labels = new Int32Array(rows * T).fill(-1)
  const tags = { distance: new Int32Array(rows * T).fill(-1), pair_index: new Int32Array(rows * T).fill(-1), key_in_noise: new Int32Array(rows * T).fill(-1) }
  for (let r = 0; r < rows; r++) {
    inputs.set(row, r * T)
    for (const [q, pair, value] of [
      [10, 0, V1],
      [12, 1, V2],
    ] as const) {
      labels[r * T + q] = value
      tags.pair_index[r * T + q] = pair
      tags.distance[r * T + q] = 3
      tags.key_in_noise[r * T + q] = keyInNoise(row, PAIRS, q)
    }
  }
  return { batchSize: rows, seqLen: T, inputs, labels, tags }
}

describe('MQAR split accuracy', () => {
  it('tags a query whose key occurs earlier as noise, and only that one', () => {
    const row = handMadeRow()
    expect(keyInNoise(row, PAIRS, 10)).toBe(1)
    expect(keyInNoise(row, PAIRS, 12)).toBe(0)
    // The pairs themselves are not noise: with the noise token gone, the query of k1 is clean.
    const clean = row.slice()
    clean[6] = 0
    expect(keyInNoise(clean, PAIRS, 10)).toBe(0)
  })

  it("the generator's tags agree with the scan of keyInNoise on every query, whatever the row", () => {
    // A small vocabulary makes keys recur as noise often; the batches run through several rows
    // of one generator, whose per-token table is reused from row to row.
    for (const [seed, seqLen, pairs, vocab] of [
      [1, 64, 8, 20],
      [2, 128, 16, 40],
      [3, 512, 64, 8192],
    ] as const) {
      const task = createTask({ kind: 'mqar', seq_len: seqLen, num_kv_pairs: pairs, power_a: 0.01, vocab_size: vocab }, seed)
      let queries = 0
      let inNoise = 0
      for (let step = 0; step < 3; step++) {
        const b = task.trainBatch(step, 16)
        for (let r = 0; r < b.batchSize; r++) {
          const row = b.inputs.subarray(r * seqLen, (r + 1) * seqLen)
          for (let q = 0; q < seqLen; q++) {
            const tag = b.tags.key_in_noise![r * seqLen + q]!
            if (b.labels[r * seqLen + q]! < 0) {
              expect(tag).toBe(-1)
              continue
            }
            expect(tag, `seed ${seed} step ${step} row ${r} query ${q}`).toBe(keyInNoise(row, pairs, q))
            queries++
            inNoise += tag
          }
        }
      }
      expect(queries).toBeGreaterThan(0)
      // Both kinds occur in the small vocabularies, so the comparison saw both answers.
      if (vocab < 100) expect(inNoise).toBeGreaterThan(0)
      if (vocab < 100) expect(inNoise).toBeLessThan(queries)
    }
  })

  it('evaluation counts the two kinds of query apart, each with its own hits', async () => {
    const rows = 4
    const task = createTask({ kind: 'mqar', seq_len: T, num_kv_pairs: PAIRS, power_a: 0.01, vocab_size: VOCAB }, 0)
    const model = new Model({ ...smallModelSpec('gla'), vocab_size: VOCAB }, cpu, 'f32', 1)
    const batch = handMadeBatch(rows)
    const [result] = await evaluate(model, cpu, 'f32', task, [{ name: 'hand-made', seqLen: T, batches: [batch] }])
    const split = result!.byTag.key_in_noise!
    expect(Object.keys(split).sort()).toEqual([...KEY_IN_NOISE_LABELS].sort())
    expect(split[KEY_IN_NOISE_LABELS[1]]!.count).toBe(rows)
    expect(split[KEY_IN_NOISE_LABELS[0]]!.count).toBe(rows)

    // The hits per kind are the model's own at those positions.
    const db = toDevice(cpu, batch)
    const ctx = new Ctx(cpu, 'f32', false)
    const hits = await model.loss(ctx, db).correct.read()
    let noisy = 0
    let clean = 0
    db.hostRows.forEach((flat, m) => {
      if (flat % T === 10) noisy += hits[m]!
      else clean += hits[m]!
    })
    ctx.dispose()
    disposeBatch(db)
    expect(split[KEY_IN_NOISE_LABELS[1]]!.correct).toBe(noisy)
    expect(split[KEY_IN_NOISE_LABELS[0]]!.correct).toBe(clean)
    expect(result!.accuracy).toBe((noisy + clean) / (2 * rows))
    model.dispose()
  })
})
