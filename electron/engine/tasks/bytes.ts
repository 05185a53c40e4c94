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
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs'
import type { Task } from '../../api/train-spec'
import { emptyBatch } from './batch'
import { checkArg, checkInt } from './params'
import { rowRng, TRAIN_STREAM } from './seeds'
import { TaskError, type Batch, type EvalSet, type TaskGenerator } from './types'

const BYTE_VOCAB = 256

/** The largest task file read: 2 GiB (the whole file is held in memory). */
export const MAX_TASK_FILE_BYTES = 2 * 1024 ** 3

function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  if (st.isDirectory()) return 'a directory'
  return 'not a file'
}

/**
 * The file's bytes, if it is a regular file of at most `limit` bytes. A FIFO
 * or a device would block the engine forever (or fill its memory, /dev/zero),
 * with no step boundary for a cancel to land on: opened non-blocking (opening
 * a FIFO then returns at once), checked with fstat on that descriptor (what
 * was opened, not a path that could be swapped), and read to at most
 * limit + 1 bytes whatever size it claims (/proc files claim 0).
 */
function readBytes(path: string, limit = MAX_TASK_FILE_BYTES): Uint8Array {
  const cannot = (e: unknown) => new TaskError(`task.path: '${path}' cannot be read: ${e instanceof Error ? e.message : String(e)}`)
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  } catch (e) {
    throw cannot(e)
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new TaskError(`task.path: '${path}' is ${fileKind(st)}, not a regular file; choose a text file`)
    const tooBig = (size: number) =>
      new TaskError(
        `task.path: '${path}' has ${size} bytes (${(size / 1024 ** 3).toFixed(2)} GiB); the limit is ${limit} bytes (${limit / 1024 ** 3} GiB): use a smaller file`,
      )
    if (st.size > limit) throw tooBig(st.size)
    const cap = limit + 1
    let buf = Buffer.allocUnsafe(Math.min(cap, Math.max(st.size + 1, 1 << 16)))
    let total = 0
    for (;;) {
      if (total === buf.length) {
        if (buf.length >= cap) break
        const grown = Buffer.allocUnsafe(Math.min(cap, 2 * buf.length))
        buf.copy(grown, 0, 0, total)
        buf = grown
      }
      let n: number
      try {
        n = readSync(fd, buf, total, buf.length - total, null)
      } catch (e) {
        throw cannot(e)
      }
      if (n === 0) break
      total += n
    }
    if (total > limit) throw tooBig(total)
    return buf.subarray(0, total)
  } finally {
    closeSync(fd)
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
