// Permutation composition in S3 (solvable: a constant-depth circuit exists)
// and S5 (not solvable: tracking it exactly needs a true state).
//
// Elements are the permutations of 0..n−1 in lexicographic order; the token
// of an element is its index, so the identity is token 0. With
// (a ∘ b)[i] = a[b[i]]:
//   x_t uniform over the group; state_0 = x_0; state_t = x_t ∘ state_{t−1}
//   label_t = index of state_t
// Tag `position` as for the other state-tracking tasks.
import type { Task } from '../../api/train-spec'
import { checkOneOf } from './params'
import { sequenceTask } from './sequence-task'
import { stateTrackingLengths, stateTrackingTags, writePositionTags } from './state-tracking'
import type { TaskGenerator } from './types'

export const GROUPS = { s3: 3, s5: 5 } as const
export type GroupName = keyof typeof GROUPS

export interface PermutationGroup {
  /** Permutations of 0..degree−1, lexicographic; element i is token i. */
  elements: Int32Array[]
  order: number
  /** compose[a * order + b] = index of a ∘ b. */
  compose: Int32Array
  identity: number
}

/** All permutations of 0..n−1 in lexicographic order. */
export function lexicographicPermutations(n: number): Int32Array[] {
  const out: Int32Array[] = []
  const current: number[] = []
  const used = new Array<boolean>(n).fill(false)
  const extend = (): void => {
    if (current.length === n) {
      out.push(Int32Array.from(current))
      return
    }
    for (let v = 0; v < n; v++) {
      if (used[v]) continue
      used[v] = true
      current.push(v)
      extend()
      current.pop()
      used[v] = false
    }
  }
  extend()
  return out
}

export function permutationGroup(name: GroupName): PermutationGroup {
  const elements = lexicographicPermutations(GROUPS[name])
  const order = elements.length
  const indexOf = new Map(elements.map((e, i) => [e.join(','), i]))
  const compose = new Int32Array(order * order)
  for (let a = 0; a < order; a++) {
    for (let b = 0; b < order; b++) {
      const pa = elements[a]!
      const product = elements[b]!.map((bi) => pa[bi]!)
      compose[a * order + b] = indexOf.get(product.join(','))!
    }
  }
  return { elements, order, compose, identity: 0 }
}

export function createPermutation(task: Extract<Task, { kind: 'permutation' }>, seed: number): TaskGenerator {
  const group = permutationGroup(checkOneOf('group', task.group, Object.keys(GROUPS) as GroupName[]))
  const { order, compose } = group
  return sequenceTask(
    {
      kind: 'permutation',
      vocabSize: order,
      ...stateTrackingLengths(task),
      tags: stateTrackingTags,
      writeRow(rng, { inputs, labels, tags }) {
        let state = -1
        for (let t = 0; t < inputs.length; t++) {
          const x = rng.int(order)
          inputs[t] = x
          state = t === 0 ? x : compose[x * order + state]!
          labels[t] = state
        }
        writePositionTags(tags.position)
      },
    },
    seed,
  )
}
