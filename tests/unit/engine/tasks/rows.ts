// Test helpers: one row of a batch as plain views, tags by name (missing tag = failure).
import type { Batch, TaskGenerator } from '../../../../electron/engine/tasks'

export interface RowView {
  inputs: Int32Array
  labels: Int32Array
  tag(name: string): Int32Array
}

export function rowsOf(batch: Batch): RowView[] {
  const out: RowView[] = []
  for (let r = 0; r < batch.batchSize; r++) {
    const start = r * batch.seqLen
    const end = start + batch.seqLen
    out.push({
      inputs: batch.inputs.subarray(start, end),
      labels: batch.labels.subarray(start, end),
      tag(name) {
        const t = batch.tags[name]
        if (!t) throw new Error(`batch has no tag '${name}'`)
        return t.subarray(start, end)
      },
    })
  }
  return out
}

/** Rows of `steps` training batches. */
export function trainRows(task: TaskGenerator, steps: number, batchSize: number): RowView[] {
  const out: RowView[] = []
  for (let s = 0; s < steps; s++) out.push(...rowsOf(task.trainBatch(s, batchSize)))
  return out
}

export function labelledPositions(labels: Int32Array): number[] {
  const out: number[] = []
  labels.forEach((l, p) => {
    if (l !== -1) out.push(p)
  })
  return out
}

/** floor(log2(d)), written independently of the code under test. */
export function log2Bucket(d: number): number {
  let b = 0
  while (2 ** (b + 1) <= d) b++
  return b
}
