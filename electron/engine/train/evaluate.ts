// Evaluation on a task's fixed sets: accuracy (or bits per byte) over the
// labelled positions, and accuracy per tag bucket (e.g. MQAR query distance).
import type { BucketStats, EvalSetResult } from '../../api/runs'
import { Ctx, type ComputeDType } from '../autograd/context'
import type { Backend } from '../backend'
import type { Model } from '../model/model'
import type { EvalSet, TaskGenerator } from '../tasks/types'
import { disposeBatch, toDevice } from './device-batch'

export type { BucketStats, EvalSetResult }

export async function evaluate(model: Model, backend: Backend, dtype: ComputeDType, task: TaskGenerator, sets: EvalSet[]): Promise<EvalSetResult[]> {
  const results: EvalSetResult[] = []
  for (const set of sets) {
    let correct = 0
    let nllSum = 0
    let count = 0
    const byTag: Record<string, Record<string, BucketStats>> = {}
    for (const batch of set.batches) {
      const db = toDevice(backend, batch)
      const ctx = new Ctx(backend, dtype, false)
      try {
        const out = model.loss(ctx, db)
        const hits = await out.correct.read()
        const nll = await out.nll.read()
        for (let m = 0; m < db.count; m++) {
          correct += hits[m]!
          nllSum += nll[m]!
          for (const [tag, values] of Object.entries(batch.tags)) {
            const value = values[db.hostRows[m]!]!
            if (value < 0) continue
            const label = task.tags[tag]?.bucketLabel(value) ?? String(value)
            const buckets = (byTag[tag] ??= {})
            const b = (buckets[label] ??= { correct: 0, count: 0 })
            b.correct += hits[m]!
            b.count += 1
          }
        }
        count += db.count
      } finally {
        ctx.dispose()
        disposeBatch(db)
      }
    }
    const loss = nllSum / Math.max(count, 1)
    results.push({ name: set.name, seqLen: set.seqLen, accuracy: correct / Math.max(count, 1), loss, bitsPerByte: loss / Math.LN2, count, byTag })
  }
  return results
}
