// Multi-query associative recall (Zoology, Arora et al. 2023,
// zoology/data/associative_recall.py: multiquery_ar).
//
// Vocabulary V: token 0 reserved (never a key or value), keys 1..V/2−1,
// values V/2..V−1 (V/2 = floor(V / 2)). With n pairs and T = seq_len, a raw
// sequence of T + 1 tokens is built:
//
//   raw[0 .. 2n)      k_0 v_0 k_1 v_1 …   keys distinct, values with replacement
//   raw[2n .. T]      query region, cut into slots of two raw positions:
//                     slot g (g = 1..space) is raw[2n + 2(g−1)] and the one after
//                     space = floor((T − 2n + 1) / 2), so every slot's key lies in
//                     raw[0..T) and its answer in raw[0..T]
//
// Pair i is queried in slot g_i, where (g_0, g_1, …) are n distinct slots drawn
// in order with p(g) ∝ g^(a−1) (numpy choice without replacement, as Zoology).
// Slot g_i holds k_i, then v_i. One query per slot, so two queries never
// overlap, and a key and its answer are always adjacent. Every raw position
// not written above is a uniform token from 0..V−1 (noise may repeat a key;
// Zoology does the same, and such positions carry no label).
//
// inputs = raw[0..T), labels[p] = v_i at p = the query position of pair i
// (the next token), −1 elsewhere. The answer of a query in the last slot may
// be raw[T], which is a label but not an input.
//
// Tags per query: `distance` (query minus key position, log2 buckets),
// `pair_index`, and `key_in_noise`: 1 when the query's key also occurs as a
// noise token between the pairs and the query. Such a query asks which
// occurrence of the key holds the value (the first, in the pairs), a skill
// apart from recall itself: a model without a position signal tends to read
// the token after the latest occurrence instead.
//
// Differences from Zoology: its values are drawn without replacement, and the
// input after a query key is noise, not the value; this layout follows the
// Linea brief (values with replacement, value after the query key).
import { MQAR_KEY_IN_NOISE_LABELS, type Task } from '../../api/train-spec'
import { distanceTag, floorLog2, indexTag } from './batch'
import { checkInt, checkNumber } from './params'
import { DistinctSampler, WeightedSampler } from './sampling'
import { sequenceTask } from './sequence-task'
import { TaskError, type TagInfo, type TaskGenerator } from './types'

type MqarTask = Extract<Task, { kind: 'mqar' }>

/** Query slots of an MQAR sequence: space = floor((T − 2n + 1) / 2). */
export function mqarQuerySlots(seqLen: number, numKvPairs: number): number {
  return Math.floor((seqLen - 2 * numKvPairs + 1) / 2)
}

/** p(g) ∝ g^(a−1) for g = 1..space, unnormalized; index g−1. */
export function mqarGapWeights(space: number, powerA: number): Float64Array {
  const w = new Float64Array(space)
  for (let g = 1; g <= space; g++) w[g - 1] = g ** (powerA - 1)
  return w
}

/** Bucket labels of the key_in_noise tag (defined with the TrainSpec, so the renderer reads them too). */
export const KEY_IN_NOISE_LABELS = MQAR_KEY_IN_NOISE_LABELS

export const KEY_IN_NOISE_TAG: TagInfo = {
  description: "whether the query's key also occurs as a noise token between the pairs and the query",
  bucketLabel: (v) => KEY_IN_NOISE_LABELS[v] ?? String(v),
}

/**
 * 1 when the key queried at position `query` also occurs between the pairs
 * (which end at 2·numKvPairs) and the query, else 0. Keys are distinct and
 * answers are values, so any such occurrence is a noise token.
 */
export function keyInNoise(inputs: ArrayLike<number>, numKvPairs: number, query: number): 0 | 1 {
  const key = inputs[query]
  for (let p = 2 * numKvPairs; p < query; p++) if (inputs[p] === key) return 1
  return 0
}

export function createMqar(task: MqarTask, seed: number): TaskGenerator {
  const seqLen = checkInt('seq_len', task.seq_len, 1)
  const vocabSize = checkInt('vocab_size', task.vocab_size, 4)
  const n = checkInt('num_kv_pairs', task.num_kv_pairs, 1)
  const powerA = checkNumber('power_a', task.power_a, 0, 1)
  if (4 * n > seqLen) throw new TaskError(`task.num_kv_pairs: ${n} pairs need seq_len >= ${4 * n} (2 tokens per pair, then a query per pair), got ${seqLen}`)
  const half = Math.floor(vocabSize / 2)
  const numKeys = half - 1
  if (n > numKeys) throw new TaskError(`task.num_kv_pairs: ${n} distinct keys do not fit in keys 1..${half - 1} of vocab_size ${vocabSize}; at most ${numKeys}`)

  const space = mqarQuerySlots(seqLen, n)
  const keySampler = new DistinctSampler(numKeys, n)
  const gapSampler = new WeightedSampler(mqarGapWeights(space, powerA), n)
  const keys = new Int32Array(n)
  const slots = new Int32Array(n) // 0-based: slot g is slots[i] + 1
  const kvEnd = 2 * n
  // Per token, its first position at or after the pairs in the row being written: key_in_noise
  // in one pass over the row instead of a scan per query (keyInNoise, the reference). A token's
  // entry counts only where seenInRow holds the row's stamp, so nothing is cleared between rows.
  const firstAt = new Int32Array(vocabSize)
  const seenInRow = new Int32Array(vocabSize)
  let rowStamp = 0

  return sequenceTask(
    {
      kind: 'mqar',
      vocabSize,
      seqLen,
      evalSeqLens: [],
      tags: {
        distance: distanceTag('query position minus key position, bucketed by floor(log2)'),
        pair_index: indexTag('which key-value pair was queried (0 = first in the sequence)'),
        key_in_noise: KEY_IN_NOISE_TAG,
      },
      writeRow(rng, { inputs, labels, tags }) {
        keySampler.draw(rng, n, keys)
        for (let i = 0; i < n; i++) {
          inputs[2 * i] = 1 + keys[i]!
          inputs[2 * i + 1] = half + rng.int(vocabSize - half)
        }
        gapSampler.draw(rng, n, slots)
        for (let p = kvEnd; p < seqLen; p++) inputs[p] = rng.int(vocabSize)
        for (let i = 0; i < n; i++) {
          const q = kvEnd + 2 * slots[i]!
          const value = inputs[2 * i + 1]!
          inputs[q] = inputs[2 * i]!
          if (q + 1 < seqLen) inputs[q + 1] = value
          labels[q] = value
          tags.distance[q] = floorLog2(q - 2 * i)
          tags.pair_index[q] = i
        }
        // After every query is written, so other queries and answers are in place. The query
        // itself holds its key, so firstAt[key] <= q; an earlier occurrence is a noise token
        // (keys are distinct, answers are values): keyInNoise's rule.
        if (rowStamp === 0x7fffffff) {
          seenInRow.fill(0)
          rowStamp = 0
        }
        const stamp = ++rowStamp
        for (let p = kvEnd; p < seqLen; p++) {
          const token = inputs[p]!
          if (seenInRow[token] !== stamp) {
            seenInRow[token] = stamp
            firstAt[token] = p
          }
        }
        for (let i = 0; i < n; i++) {
          const q = kvEnd + 2 * slots[i]!
          tags.key_in_noise[q] = firstAt[inputs[q]!]! < q ? 1 : 0
        }
      },
    },
    seed,
  )
}
