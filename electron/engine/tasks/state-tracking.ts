// State tracking with a label at every position (shared MATH.md, "Tasks"):
// the label at t is a function of the whole prefix x_0..x_t, so a model must
// carry a state; evaluation at lengths beyond training tests whether it
// carries it exactly.
//
//   parity            x_t ∈ {0, 1} uniform; label_t = x_0 ⊕ … ⊕ x_t
//   modular_addition  x_t ∈ 0..m−1 uniform; label_t = (x_0 + … + x_t) mod m
//
// Tag `position` = floor(log2(t + 1)) at every position. Permutation
// composition, which shares this layout, is in permutations.ts.
import type { Task } from '../../api/train-spec'
import { floorLog2, positionTag } from './batch'
import { checkInt, checkIntList } from './params'
import { sequenceTask } from './sequence-task'
import type { TaskGenerator } from './types'

type StateTask = Extract<Task, { kind: 'parity' | 'modular_addition' | 'permutation' }>

/** The lengths every state-tracking task checks the same way. */
export function stateTrackingLengths(task: StateTask): { seqLen: number; evalSeqLens: number[] } {
  return { seqLen: checkInt('seq_len', task.seq_len, 1), evalSeqLens: checkIntList('eval_seq_lens', task.eval_seq_lens, 1) }
}

export const stateTrackingTags = { position: positionTag }

export function writePositionTags(position: Int32Array): void {
  for (let t = 0; t < position.length; t++) position[t] = floorLog2(t + 1)
}

/** Running sum mod m; parity is m = 2. */
function prefixSumTask(kind: 'parity' | 'modular_addition', modulus: number, task: StateTask, seed: number): TaskGenerator {
  return sequenceTask(
    {
      kind,
      vocabSize: modulus,
      ...stateTrackingLengths(task),
      tags: stateTrackingTags,
      writeRow(rng, { inputs, labels, tags }) {
        let sum = 0
        for (let t = 0; t < inputs.length; t++) {
          const x = rng.int(modulus)
          inputs[t] = x
          sum += x
          if (sum >= modulus) sum -= modulus
          labels[t] = sum
        }
        writePositionTags(tags.position)
      },
    },
    seed,
  )
}

export function createParity(task: Extract<Task, { kind: 'parity' }>, seed: number): TaskGenerator {
  return prefixSumTask('parity', 2, task, seed)
}

export function createModularAddition(task: Extract<Task, { kind: 'modular_addition' }>, seed: number): TaskGenerator {
  return prefixSumTask('modular_addition', checkInt('modulus', task.modulus, 2), task, seed)
}
