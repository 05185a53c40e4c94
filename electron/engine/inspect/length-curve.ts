// Accuracy against sequence length (length generalization): the checkpoint
// evaluated on the task's held-out stream at each length, the trained one
// marked. For state tracking (parity, modular addition, permutations) this
// shows whether the model carries the state exactly past what it saw.
import type { LengthCurve } from '../../api/inspect'
import type { Task } from '../../api/train-spec'
import type { Backend } from '../backend'
import type { Model } from '../model/model'
import { createTask } from '../tasks'
import { TaskError } from '../tasks/types'
import type { FloatDType } from '../tensor'
import { evaluate } from '../train/evaluate'
import { sequencesPerPass } from './pass-size'

export const STATE_TRACKING_KINDS: readonly Task['kind'][] = ['parity', 'modular_addition', 'permutation']

/** The trained length × ½, 1, 2, 4, 8 and the task's own evaluation lengths, up to `max`. */
export function defaultLengths(task: Task, max: number): number[] {
  const T = task.seq_len
  const extra = 'eval_seq_lens' in task ? task.eval_seq_lens : []
  return [...new Set([...[0.5, 1, 2, 4, 8].map((f) => Math.round(T * f)), ...extra])].filter((L) => L >= 2 && L <= max).sort((a, b) => a - b)
}

function atLength(task: Task, L: number): Task {
  if ('eval_seq_lens' in task) return { ...task, seq_len: L, eval_seq_lens: [] }
  if (task.kind === 'mqar' && 4 * task.num_kv_pairs > L)
    throw new TaskError(`lengths: ${L} is too short for ${task.num_kv_pairs} key-value pairs (needs >= ${4 * task.num_kv_pairs})`)
  return { ...task, seq_len: L }
}

export async function lengthCurve(
  model: Model,
  backend: Backend,
  dtype: FloatDType,
  task: Task,
  seed: number,
  lengths: readonly number[],
  examples: number,
  progress?: (fraction: number) => void,
): Promise<LengthCurve> {
  const points: LengthCurve['points'] = []
  for (const [j, L] of lengths.entries()) {
    const gen = createTask(atLength(task, L), seed)
    // Long sequences: fewer per pass, the same number of examples.
    const batch = sequencesPerPass(model.spec, dtype, L, examples)
    const set = gen.evalSets(batch, Math.ceil(examples / batch))[0]!
    const [r] = await evaluate(model, backend, dtype, gen, [set])
    points.push({ seqLen: L, accuracy: r!.accuracy, count: r!.count })
    progress?.((j + 1) / lengths.length)
  }
  return { trainedLength: task.seq_len, points }
}
