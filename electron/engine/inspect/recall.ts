// MQAR recall of a checkpoint: accuracy over a grid of (number of key-value
// pairs × query distance bucket) and (pairs × query position bucket), on the
// task's held-out stream, and per number of pairs split by whether the
// query's key also occurs earlier as noise. Which queries a model misses, and
// how that changes as the state has more to hold and the key lies further back.
import type { RecallAnalysis, RecallCell } from '../../api/inspect'
import type { Task } from '../../api/train-spec'
import { Ctx } from '../autograd/context'
import type { Backend } from '../backend'
import type { Model } from '../model/model'
import { floorLog2, positionTag } from '../tasks/batch'
import { createTask } from '../tasks'
import { KEY_IN_NOISE_LABELS } from '../tasks/mqar'
import { TaskError } from '../tasks/types'
import type { FloatDType } from '../tensor'
import { disposeBatch, toDevice } from '../train/device-batch'
import { sequencesPerPass } from './pass-size'

type MqarTask = Extract<Task, { kind: 'mqar' }>

/** Most pairs an MQAR sequence of this task can hold: 4n <= T and n distinct keys. */
export function maxPairs(task: MqarTask): number {
  return Math.min(Math.floor(task.seq_len / 4), Math.floor(task.vocab_size / 2) - 1)
}

/** The trained number of pairs and powers of two up to what the task can hold. */
export function defaultPairsGrid(task: MqarTask): number[] {
  const grid = new Set<number>([task.num_kv_pairs])
  for (let n = 1; n <= maxPairs(task); n *= 2) grid.add(n)
  return [...grid].sort((a, b) => a - b)
}

/** Sequences per pass at most (fewer for long sequences or wide models: sequencesPerPass). */
const BATCH = 32

export async function recallAnalysis(
  model: Model,
  backend: Backend,
  dtype: FloatDType,
  task: MqarTask,
  seed: number,
  numKvPairs: readonly number[],
  examples: number,
  progress?: (fraction: number) => void,
): Promise<RecallAnalysis> {
  const T = task.seq_len
  for (const n of numKvPairs)
    if (n < 1 || n > maxPairs(task))
      throw new TaskError(`recall.numKvPairs: ${n} does not fit this task (seq_len ${T}, vocab_size ${task.vocab_size}); valid: 1..${maxPairs(task)}`)
  const distanceCount = floorLog2(Math.max(1, T - 1)) + 1
  const positionCount = floorLog2(T) + 1
  const grid = (cols: number): RecallCell[][] => numKvPairs.map(() => Array.from({ length: cols }, () => ({ correct: 0, count: 0 })))
  const byDistance = grid(distanceCount)
  const byPosition = grid(positionCount)
  const byKeyInNoise = grid(KEY_IN_NOISE_LABELS.length)
  const perPass = sequencesPerPass(model.spec, dtype, T, Math.min(BATCH, examples))
  const batches = Math.ceil(examples / perPass)
  let distanceLabel: (b: number) => string = String
  for (const [j, n] of numKvPairs.entries()) {
    const gen = createTask({ ...task, num_kv_pairs: n }, seed)
    distanceLabel = (b) => gen.tags.distance!.bucketLabel(b)
    const set = gen.evalSets(perPass, batches)[0]!
    for (const [b, batch] of set.batches.entries()) {
      const db = toDevice(backend, batch)
      const ctx = new Ctx(backend, dtype, false)
      try {
        const hits = await model.loss(ctx, db).correct.read()
        for (let m = 0; m < db.count; m++) {
          const row = db.hostRows[m]!
          if (Math.floor(row / T) + b * perPass >= examples) continue
          const d = batch.tags.distance![row]!
          const cellD = byDistance[j]![d]!
          cellD.correct += hits[m]!
          cellD.count++
          const cellP = byPosition[j]![floorLog2((row % T) + 1)]!
          cellP.correct += hits[m]!
          cellP.count++
          const cellN = byKeyInNoise[j]![batch.tags.key_in_noise![row]!]!
          cellN.correct += hits[m]!
          cellN.count++
        }
      } finally {
        ctx.dispose()
        disposeBatch(db)
      }
      progress?.((j + (b + 1) / batches) / numKvPairs.length)
    }
  }
  const accuracy = byDistance.map((row) => {
    const c = row.reduce((s, x) => s + x.correct, 0)
    const n = row.reduce((s, x) => s + x.count, 0)
    return n ? c / n : 0
  })
  return {
    numKvPairs: [...numKvPairs],
    trainedNumKvPairs: task.num_kv_pairs,
    examples,
    distanceBuckets: Array.from({ length: distanceCount }, (_, b) => distanceLabel(b)),
    byDistance,
    positionBuckets: Array.from({ length: positionCount }, (_, b) => positionTag.bucketLabel(b)),
    byPosition,
    accuracy,
    byKeyInNoise,
    keyInNoiseBuckets: [...KEY_IN_NOISE_LABELS],
  }
}
