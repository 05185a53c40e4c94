// The run's own task as token data for the exported train.py (Linea's token
// format, export-recipe.ts): the training batches Linea would draw (same
// generator, same seed, steps 0, 1, ...) and its evaluation sets, written as
//
//   data/meta.json   {"format": "linea.tokens/1", "vocab_size", "splits": {name: {file, rows, seq_len}}}
//   data/<name>.bin  rows x seq_len int32 inputs, then rows x seq_len int32 labels (-1: no loss)
import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import { endianness } from 'node:os'
import { join } from 'node:path'
import { UserError } from '../api/errors'
import type { TrainSpec } from '../api/train-spec'
import { createTask, type Batch } from '../engine/tasks'
import { makeDirs } from '../platform/make-dirs'
import { TOKENS_FORMAT } from './export-recipe'

/** At most this many training sequences (a run's data is a benchmark's, not a corpus). */
export const MAX_DATA_SEQUENCES = 10_000_000
/** At most this many tokens in all (4 GiB of int32 inputs and labels). */
const MAX_DATA_TOKENS = 1 << 29

/** A --data request that cannot be met; the message names the value and what is valid. */
export class TaskDataError extends UserError {
  override name = 'TaskDataError'
}

/** Checks a --data count before anything is written. */
export function checkDataSequences(sequences: number): void {
  if (!Number.isSafeInteger(sequences) || sequences < 1 || sequences > MAX_DATA_SEQUENCES)
    throw new TaskDataError(`--data ${sequences}: the number of training sequences must be a whole number from 1 to ${MAX_DATA_SEQUENCES}`)
}

export interface TaskDataSplit {
  file: string
  rows: number
  seq_len: number
}

export interface TaskData {
  vocab_size: number
  splits: Record<string, TaskDataSplit>
}

/** Stacks batches of one length into (rows, T) inputs and labels, the first `rows` rows. */
function stack(batches: Batch[], rows: number): { inputs: Int32Array; labels: Int32Array; seqLen: number } {
  const seqLen = batches[0]!.seqLen
  const inputs = new Int32Array(rows * seqLen)
  const labels = new Int32Array(rows * seqLen)
  let at = 0
  for (const b of batches) {
    const take = Math.min(b.batchSize, rows - at) * seqLen
    inputs.set(b.inputs.subarray(0, take), at * seqLen)
    labels.set(b.labels.subarray(0, take), at * seqLen)
    at += take / seqLen
    if (at === rows) break
  }
  return { inputs, labels, seqLen }
}

function writeSplit(dir: string, name: string, split: { inputs: Int32Array; labels: Int32Array; seqLen: number }): TaskDataSplit {
  const file = `${name}.bin`
  const tmp = join(dir, `.${file}.${process.pid}.tmp`)
  const fd = openSync(tmp, 'wx')
  try {
    for (const a of [split.inputs, split.labels]) writeSync(fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, join(dir, file))
  return { file, rows: split.inputs.length / split.seqLen, seq_len: split.seqLen }
}

/** Writes `sequences` training sequences and the evaluation sets of the TrainSpec's task into `<outDir>/data`. */
export function writeTaskData(outDir: string, trainSpec: TrainSpec, sequences: number): TaskData {
  checkDataSequences(sequences)
  // The .bin files are little-endian int32; typed arrays are the host's order.
  if (endianness() !== 'LE') throw new Error('writing token data needs a little-endian machine')
  const task = createTask(trainSpec.task, trainSpec.seed)
  if (sequences * task.seqLen > MAX_DATA_TOKENS)
    throw new TaskDataError(`--data ${sequences}: ${sequences} sequences of ${task.seqLen} tokens exceed ${MAX_DATA_TOKENS} tokens; ask for fewer`)
  const dir = join(outDir, 'data')
  makeDirs(dir)
  const batch = trainSpec.batch_size
  const batches: Batch[] = []
  for (let step = 0; batches.length * batch < sequences; step++) batches.push(task.trainBatch(step, batch))
  const splits: Record<string, TaskDataSplit> = { train: writeSplit(dir, 'train', stack(batches, sequences)) }
  for (const set of task.evalSets(batch, trainSpec.eval.batches)) {
    const rows = set.batches.reduce((n, b) => n + b.batchSize, 0)
    const name = `eval-${set.name.replace(/[^A-Za-z0-9_-]+/g, '-')}`
    splits[name] = writeSplit(dir, name, stack(set.batches, rows))
  }
  const data: TaskData = { vocab_size: task.vocabSize, splits }
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ format: TOKENS_FORMAT, ...data }, null, 2) + '\n')
  return data
}
