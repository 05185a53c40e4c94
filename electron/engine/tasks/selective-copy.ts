// Selective copying (Mamba, Gu & Dao 2023, §4.1.1): remember a few tokens
// scattered among noise and reproduce them, in order, after the noise.
//
// Tokens: 0 = noise, 1 = copy marker, 2..V−1 data. With T = seq_len and
// K = num_tokens, L = T − K:
//   inputs[0 .. L)   noise, except K data tokens (uniform, with replacement)
//                    at K distinct uniform positions
//   inputs[L .. T)   the marker
//   labels[L + k]    the k-th data token in order of appearance; −1 elsewhere
// Tag `copy_index` = k at position L + k.
import type { Task } from '../../api/train-spec'
import { indexTag } from './batch'
import { checkInt } from './params'
import { DistinctSampler } from './sampling'
import { sequenceTask } from './sequence-task'
import { TaskError, type TaskGenerator } from './types'

export const NOISE_TOKEN = 0
export const COPY_MARKER = 1
export const FIRST_DATA_TOKEN = 2

export function createSelectiveCopy(task: Extract<Task, { kind: 'selective_copy' }>, seed: number): TaskGenerator {
  const seqLen = checkInt('seq_len', task.seq_len, 1)
  const numTokens = checkInt('num_tokens', task.num_tokens, 1)
  const vocabSize = checkInt('vocab_size', task.vocab_size, 1)
  if (numTokens >= seqLen / 2)
    throw new TaskError(`task.num_tokens: ${numTokens} is not valid for seq_len ${seqLen}; must be below seq_len / 2 = ${seqLen / 2}`)
  if (vocabSize < 3) throw new TaskError(`task.vocab_size: ${vocabSize} is not valid; needs >= 3 (noise, marker and at least one data token)`)

  const prefixLen = seqLen - numTokens
  const numData = vocabSize - FIRST_DATA_TOKEN
  const positionSampler = new DistinctSampler(prefixLen, numTokens)
  const positions = new Int32Array(numTokens)

  return sequenceTask(
    {
      kind: 'selective_copy',
      vocabSize,
      seqLen,
      evalSeqLens: [],
      tags: { copy_index: indexTag('which of the copied tokens (0 = first)') },
      writeRow(rng, { inputs, labels, tags }) {
        // inputs arrive as zeros, which is the noise token.
        positionSampler.draw(rng, numTokens, positions)
        for (let k = 0; k < numTokens; k++) inputs[positions[k]!] = FIRST_DATA_TOKEN + rng.int(numData)
        let k = 0
        for (let p = 0; p < prefixLen; p++) {
          if (inputs[p] === NOISE_TOKEN) continue
          labels[prefixLen + k] = inputs[p]!
          tags.copy_index[prefixLen + k] = k
          k++
        }
        inputs.fill(COPY_MARKER, prefixLen)
      },
    },
    seed,
  )
}
