// The TaskGenerator shared by the synthetic tasks: each task writes one row
// from its own Rng (seeds.ts); this file turns rows into training batches and
// evaluation sets.
import type { Rng } from '../random'
import type { Task } from '../../api/train-spec'
import { emptyBatch } from './batch'
import { checkArg } from './params'
import { EVAL_STREAM, rowRng, TRAIN_STREAM, type Stream } from './seeds'
import type { Batch, EvalSet, TagInfo, TaskGenerator } from './types'

/** One sequence of a batch: views of length seqLen; labels and tags arrive filled with -1. */
export interface Row<Tag extends string> {
  seqLen: number
  inputs: Int32Array
  labels: Int32Array
  tags: Record<Tag, Int32Array>
}

export interface SequenceTaskSpec<Tag extends string> {
  kind: Task['kind']
  vocabSize: number
  seqLen: number
  /** Evaluation lengths; the training length is always evaluated, first. */
  evalSeqLens: readonly number[]
  tags: Record<Tag, TagInfo>
  /** Fills one row; must draw every random number from rng. */
  writeRow(rng: Rng, row: Row<Tag>): void
}

export function sequenceTask<Tag extends string>(spec: SequenceTaskSpec<Tag>, seed: number): TaskGenerator {
  const tagNames = Object.keys(spec.tags) as Tag[]
  const evalLens = [...new Set([spec.seqLen, ...spec.evalSeqLens])]

  // Row r of a batch comes from the Rng at coordinates (a, firstRow + r).
  function batch(stream: Stream, a: number, firstRow: number, batchSize: number, seqLen: number): Batch {
    const out = emptyBatch(batchSize, seqLen, tagNames)
    for (let r = 0; r < batchSize; r++) {
      const start = r * seqLen
      const end = start + seqLen
      const tags = {} as Record<Tag, Int32Array>
      for (const name of tagNames) tags[name] = out.tags[name]!.subarray(start, end)
      const row = { seqLen, inputs: out.inputs.subarray(start, end), labels: out.labels.subarray(start, end), tags }
      spec.writeRow(rowRng(seed, stream, a, firstRow + r), row)
    }
    return out
  }

  return {
    kind: spec.kind,
    vocabSize: spec.vocabSize,
    seqLen: spec.seqLen,
    tags: spec.tags,
    headline: 'accuracy',
    trainBatch(step: number, batchSize: number): Batch {
      checkArg('step', step, 0)
      checkArg('batchSize', batchSize, 1)
      return batch(TRAIN_STREAM, step, 0, batchSize, spec.seqLen)
    },
    // Evaluation rows are numbered across the set, so the sequences do not
    // depend on how the set is cut into batches.
    evalSets(batchSize: number, batchesPerSet: number): EvalSet[] {
      checkArg('batchSize', batchSize, 1)
      checkArg('batchesPerSet', batchesPerSet, 1)
      return evalLens.map((len) => ({
        name: `T=${len}`,
        seqLen: len,
        batches: Array.from({ length: batchesPerSet }, (_, b) => batch(EVAL_STREAM, len, b * batchSize, batchSize, len)),
      }))
    },
  }
}
