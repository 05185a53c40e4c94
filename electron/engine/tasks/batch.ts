// Batch allocation and the tag buckets shared by several tasks.
import type { Batch, TagInfo } from './types'

/** A batch with labels and every tag set to -1 (no loss, not applicable). */
export function emptyBatch(batchSize: number, seqLen: number, tagNames: readonly string[]): Batch {
  const size = batchSize * seqLen
  const tags: Record<string, Int32Array> = {}
  for (const name of tagNames) tags[name] = new Int32Array(size).fill(-1)
  return { batchSize, seqLen, inputs: new Int32Array(size), labels: new Int32Array(size).fill(-1), tags }
}

/** floor(log2(n)) for integers 1 <= n < 2^31. */
export function floorLog2(n: number): number {
  return 31 - Math.clz32(n)
}

function span(lo: number, hi: number): string {
  return lo === hi ? String(lo) : `${lo}–${hi}`
}

/** Tag value floor(log2(d)) for a distance d >= 1: bucket b holds d in [2^b, 2^(b+1) − 1]. */
export function distanceTag(description: string): TagInfo {
  return { description, bucketLabel: (b) => span(2 ** b, 2 ** (b + 1) - 1) }
}

/** Tag value floor(log2(t + 1)) for a position t >= 0: bucket b holds t in [2^b − 1, 2^(b+1) − 2]. */
export const positionTag: TagInfo = {
  description: 'position t in the sequence, bucketed by floor(log2(t + 1))',
  bucketLabel: (b) => span(2 ** b - 1, 2 ** (b + 1) - 2),
}

/** A tag whose value is its own label (an index). */
export function indexTag(description: string): TagInfo {
  return { description, bucketLabel: (v) => String(v) }
}
