// The contract between task generators and the training loop: batches of
// token ids with per-position targets and tags (shared MATH.md, "Tasks").
import type { Task } from '../../api/train-spec'
import { UserError } from '../../api/errors'

export interface Batch {
  batchSize: number
  seqLen: number
  /** Token ids, (batchSize, seqLen) row-major. */
  inputs: Int32Array
  /** Target id at each position, -1 where no loss is taken; (batchSize, seqLen). */
  labels: Int32Array
  /** Per-position integer tags for accuracy breakdowns, same layout; -1 where not applicable. */
  tags: Record<string, Int32Array>
}

export interface EvalSet {
  name: string
  seqLen: number
  batches: Batch[]
}

export interface TagInfo {
  description: string
  bucketLabel(value: number): string
}

export interface TaskGenerator {
  readonly kind: Task['kind']
  /** Smallest model vocabulary that holds every token the task uses. */
  readonly vocabSize: number
  /** The training sequence length. */
  readonly seqLen: number
  /** The same (seed, step, batchSize) always gives the same batch. */
  trainBatch(step: number, batchSize: number): Batch
  /** Fixed evaluation sets from a stream disjoint from training; one per evaluation length. */
  evalSets(batchSize: number, batchesPerSet: number): EvalSet[]
  readonly tags: Record<string, TagInfo>
  /** The headline metric: accuracy over labelled positions, or bits per byte. */
  readonly headline: 'accuracy' | 'bits_per_byte'
}

/** A task that cannot be built (bad parameter, unreadable file); the message names the field, value or path. */
export class TaskError extends UserError {
  override name = 'TaskError'
}
