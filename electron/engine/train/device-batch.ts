// A task's host batch on the backend: token ids, and the labels gathered at
// the positions that carry one (the LM head and the loss run only there).
import type { Backend } from '../backend'
import type { DeviceBatch } from '../model/model'
import type { Batch } from '../tasks/types'

export interface LabelledBatch extends DeviceBatch {
  /** Flat positions (b · T + t) of the labels, on the host, for per-tag breakdowns. */
  hostRows: Int32Array
}

/** `lossCount`: the labels the loss is a mean over, when more than this batch's (DeviceBatch.lossCount). */
export function toDevice(backend: Backend, batch: Batch, lossCount?: number): LabelledBatch {
  const rows: number[] = []
  for (let n = 0; n < batch.labels.length; n++) if (batch.labels[n]! >= 0) rows.push(n)
  if (rows.length === 0) throw new Error('a batch without any labelled position cannot be trained or evaluated')
  const hostRows = Int32Array.from(rows)
  const labels = Int32Array.from(rows, (n) => batch.labels[n]!)
  return {
    ids: backend.upload(batch.inputs, [batch.batchSize, batch.seqLen]),
    rows: backend.upload(hostRows, [hostRows.length]),
    labels: backend.upload(labels, [labels.length]),
    count: rows.length,
    lossCount,
    hostRows,
  }
}

export function disposeBatch(b: LabelledBatch): void {
  b.ids.dispose()
  b.rows.dispose()
  b.labels.dispose()
}
