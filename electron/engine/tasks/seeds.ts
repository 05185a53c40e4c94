// One independent Rng per (run seed, stream, a, b), where (a, b) is
// (step, row) for training and (sequence length, row) for evaluation.
//
// Why per row: a row's tokens depend only on its own coordinates, so a batch
// is reproducible from (seed, step, batchSize) whatever was generated before,
// and an evaluation set does not change when it is cut into other batch sizes.
//
// The mixing hash absorbs seed, stream and a (each a 53-bit integer, as two
// 32-bit words) through the murmur3 finalizer. The row b goes in last through
// a bijection of 31 bits, so the rows b < 2^31 of one step or set always get
// distinct seeds. The top bit of the seed is the stream (0 train, 1 eval): a
// training Rng and an evaluation Rng never start from the same seed.
//
// Limit: Rng is splitmix32, a 2^32-long cycle that every seed enters at some
// point; distinct seeds give distinct but not provably non-overlapping
// streams, and very long runs draw a sizeable part of the cycle.
import { Rng } from '../random'

export const TRAIN_STREAM = 0
export const EVAL_STREAM = 1
export type Stream = typeof TRAIN_STREAM | typeof EVAL_STREAM

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Absorbs a non-negative integer below 2^53 (low word, then high word). */
function absorb(h: number, word: number): number {
  const lo = word >>> 0
  const hi = Math.floor(word / 4294967296) >>> 0
  h = fmix32((Math.imul(h ^ lo, 0xcc9e2d51) + 0x9e3779b9) >>> 0)
  return fmix32((Math.imul(h ^ hi, 0xcc9e2d51) + 0x9e3779b9) >>> 0)
}

/** murmur3's finalizer cut to 31 bits: each step is a bijection of [0, 2^31). */
function fmix31(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) & 0x7fffffff
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) & 0x7fffffff
  h ^= h >>> 16
  return h
}

const MAX_ROW = 0x7fffffff

/** The 32-bit Rng seed for row b of one stream; top bit = stream. */
export function mixSeed(seed: number, stream: Stream, a: number, b: number): number {
  if (!(b >= 0 && b <= MAX_ROW)) throw new RangeError(`row ${b} is not valid; rows run from 0 to ${MAX_ROW}`)
  let h = 0x243f6a88 // digits of pi: any fixed start works
  h = absorb(h, seed)
  h = absorb(h, stream)
  h = absorb(h, a)
  return (fmix31((h ^ b) & 0x7fffffff) | (stream << 31)) >>> 0
}

export function rowRng(seed: number, stream: Stream, a: number, b: number): Rng {
  return new Rng(mixSeed(seed, stream, a, b))
}
