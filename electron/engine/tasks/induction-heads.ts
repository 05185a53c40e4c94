// Induction heads (Mamba, Gu & Dao 2023, §4.1.2; Olsson et al. 2022): after
// seeing "trigger, answer" once, recall the answer when the trigger returns.
//
// Tokens: 1 = trigger, 2..V−1 ordinary (token 0 is unused). With T = seq_len:
//   every position holds a uniform ordinary token, except
//   inputs[p] = trigger at a uniform p in 0..T−3, so inputs[p + 1] (an
//   ordinary token) is the answer, and inputs[T − 1] = trigger
//   labels[T − 1] = inputs[p + 1]; −1 elsewhere
// The trigger appears exactly twice. Tag `distance` = floor(log2(T − 1 − p))
// at T − 1.
import type { Task } from '../../api/train-spec'
import { distanceTag, floorLog2 } from './batch'
import { checkInt } from './params'
import { sequenceTask } from './sequence-task'
import type { TaskGenerator } from './types'

export const TRIGGER_TOKEN = 1
export const FIRST_ORDINARY_TOKEN = 2

export function createInductionHeads(task: Extract<Task, { kind: 'induction_heads' }>, seed: number): TaskGenerator {
  const seqLen = checkInt('seq_len', task.seq_len, 3)
  const vocabSize = checkInt('vocab_size', task.vocab_size, 3)
  const numOrdinary = vocabSize - FIRST_ORDINARY_TOKEN
  const last = seqLen - 1

  return sequenceTask(
    {
      kind: 'induction_heads',
      vocabSize,
      seqLen,
      evalSeqLens: [],
      tags: { distance: distanceTag('last position minus the first trigger position, bucketed by floor(log2)') },
      writeRow(rng, { inputs, labels, tags }) {
        for (let t = 0; t < seqLen; t++) inputs[t] = FIRST_ORDINARY_TOKEN + rng.int(numOrdinary)
        const p = rng.int(seqLen - 2)
        inputs[p] = TRIGGER_TOKEN
        inputs[last] = TRIGGER_TOKEN
        labels[last] = inputs[p + 1]!
        tags.distance[last] = floorLog2(last - p)
      },
    },
    seed,
  )
}
