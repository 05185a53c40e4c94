// Byte-level language modelling on a file the user picks: vocabulary 256,
// next-byte prediction, headline bits per byte.
//
// The file of N bytes is split once: the last floor(N · valid_fraction) bytes
// are validation, the rest training. With T = seq_len, a window is T + 1
// consecutive bytes w; inputs = w[0..T), labels = w[1..T].
//   train: row r of step s starts uniformly in the training part (its own Rng,
//          seeds.ts), so windows may overlap each other but never validation
//   eval:  one set "valid" of consecutive windows starting at validation byte
//          0, T, 2T, …: each window's last byte is the next one's first input,
//          so every validation byte after the first is predicted exactly once.
//          The set holds min(windows, batchesPerSet · batchSize) windows; the
//          last batch is smaller when they do not fill it.
import { readFileSync } from 'node:fs'
import type { Task } from '../../api/train-spec'
import { emptyBatch } from './batch'
import { checkArg, checkInt } from './params'
import { rowRng, TRAIN_STREAM } from './seeds'
import { TaskError, type Batch, type EvalSet, type TaskGenerator } from './types'

const BYTE_VOCAB = 256

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path)
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e)
    throw new TaskError(`task.path: '${path}' cannot be read: ${reason}`)
  }
}

export function createBytes(task: Extract<Task, { kind: 'bytes' }>, seed: number): TaskGenerator {
  const seqLen = checkInt('seq_len', task.seq_len, 1)
  const fraction = task.valid_fraction
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1))
    throw new TaskError(`task.valid_fraction: ${String(fraction)} is not valid; must be a number in (0, 1)`)
  if (typeof task.path !== 'string' || task.path === '') throw new TaskError(`task.path: missing; expected a file path`)
  const path = task.path
  const data = readBytes(path)
  const window = seqLen + 1
  if (data.length === 0) throw new TaskError(`task.path: '${path}' is empty`)
  if (data.length < 2 * window)
    throw new TaskError(`task.path: '${path}' has ${data.length} bytes; seq_len ${seqLen} needs at least ${2 * window} (two windows of seq_len + 1)`)

  const { trainBytes, validBytes } = bytesSplit(data.length, fraction)
  if (validBytes < window)
    throw new TaskError(
      `task.valid_fraction: ${fraction} of '${path}' (${data.length} bytes) is ${validBytes} bytes; one validation window needs seq_len + 1 = ${window}`,
    )
  const train = data.subarray(0, trainBytes)
  const valid = data.subarray(trainBytes)
  const validWindows = Math.floor((validBytes - 1) / seqLen)

  function copyWindow(source: Uint8Array, start: number, out: Batch, row: number): void {
    const offset = row * seqLen
    for (let t = 0; t < seqLen; t++) {
      out.inputs[offset + t] = source[start + t]!
      out.labels[offset + t] = source[start + t + 1]!
    }
  }

  return {
    kind: 'bytes',
    vocabSize: BYTE_VOCAB,
    seqLen,
    tags: {},
    headline: 'bits_per_byte',
    trainBatch(step: number, batchSize: number): Batch {
      checkArg('step', step, 0)
      checkArg('batchSize', batchSize, 1)
      const out = emptyBatch(batchSize, seqLen, [])
      for (let r = 0; r < batchSize; r++) copyWindow(train, rowRng(seed, TRAIN_STREAM, step, r).int(trainBytes - seqLen), out, r)
      return out
    },
    evalSets(batchSize: number, batchesPerSet: number): EvalSet[] {
      checkArg('batchSize', batchSize, 1)
      checkArg('batchesPerSet', batchesPerSet, 1)
      const used = Math.min(validWindows, batchesPerSet * batchSize)
      const batches: Batch[] = []
      for (let first = 0; first < used; first += batchSize) {
        const rows = Math.min(batchSize, used - first)
        const out = emptyBatch(rows, seqLen, [])
        for (let r = 0; r < rows; r++) copyWindow(valid, (first + r) * seqLen, out, r)
        batches.push(out)
      }
      return [{ name: 'valid', seqLen, batches }]
    },
  }
}

/** Where the split falls, for reports and tests. */
export function bytesSplit(fileBytes: number, validFraction: number): { trainBytes: number; validBytes: number } {
  const validBytes = Math.floor(fileBytes * validFraction)
  return { trainBytes: fileBytes - validBytes, validBytes }
}
