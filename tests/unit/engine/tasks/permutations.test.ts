import { describe, expect, it } from 'vitest'
import { lexicographicPermutations, permutationGroup } from '../../../../electron/engine/tasks/permutations'
import { createTask } from '../../../../electron/engine/tasks'
import { rowsOf, trainRows } from './rows'

/** Lexicographic permutations by the next-permutation algorithm (independent of the code under test). */
function permutationsByNext(n: number): number[][] {
  const out: number[][] = []
  const a = Array.from({ length: n }, (_, i) => i)
  for (;;) {
    out.push([...a])
    let i = n - 2
    while (i >= 0 && a[i]! > a[i + 1]!) i--
    if (i < 0) return out
    let j = n - 1
    while (a[j]! < a[i]!) j--
    ;[a[i], a[j]] = [a[j]!, a[i]!]
    a.splice(i + 1, n - i - 1, ...a.slice(i + 1).reverse())
  }
}

const apply = (a: number[], b: number[]): number[] => b.map((bi) => a[bi]!)

describe('permutation groups', () => {
  it.each([
    ['s3', 3, 6],
    ['s5', 5, 120],
  ] as const)('%s has its elements in lexicographic order and a closed, associative composition', (name, degree, order) => {
    const g = permutationGroup(name)
    expect(g.order).toBe(order)
    const reference = permutationsByNext(degree)
    expect(g.elements.map((e) => Array.from(e))).toEqual(reference)
    expect(new Set(reference.map((e) => e.join())).size).toBe(order)
    expect(Array.from(g.elements[g.identity]!)).toEqual(Array.from({ length: degree }, (_, i) => i))

    const index = new Map(reference.map((e, i) => [e.join(), i]))
    const c = (a: number, b: number) => g.compose[a * order + b]!
    for (let a = 0; a < order; a++) {
      expect(c(g.identity, a)).toBe(a)
      expect(c(a, g.identity)).toBe(a)
      for (let b = 0; b < order; b++) expect(c(a, b)).toBe(index.get(apply(reference[a]!, reference[b]!).join()))
    }
    let associative = true
    for (let a = 0; a < order; a++) for (let b = 0; b < order; b++) for (let d = 0; d < order; d++) if (c(c(a, b), d) !== c(a, c(b, d))) associative = false
    expect(associative).toBe(true)
  })

  it('s3 is not commutative, so the composition order matters', () => {
    const g = permutationGroup('s3')
    expect(g.compose[1 * 6 + 2]).not.toBe(g.compose[2 * 6 + 1])
  })

  it('lists permutations of small degrees', () => {
    expect(lexicographicPermutations(1).map((e) => Array.from(e))).toEqual([[0]])
    expect(lexicographicPermutations(4)).toHaveLength(24)
  })
})

describe('permutation composition task', () => {
  it.each(['s3', 's5'] as const)('%s: label_t = index of x_t ∘ … ∘ x_0', (group) => {
    const degree = group === 's3' ? 3 : 5
    const elements = permutationsByNext(degree)
    const index = new Map(elements.map((e, i) => [e.join(), i]))
    const g = createTask({ kind: 'permutation', group, seq_len: 40, eval_seq_lens: [100] }, 9)
    expect(g.vocabSize).toBe(elements.length)
    const rows = trainRows(g, 2, 16)
    for (const set of g.evalSets(8, 1)) rows.push(...rowsOf(set.batches[0]!))
    for (const row of rows) {
      let state: number[] = []
      row.inputs.forEach((x, t) => {
        expect(x >= 0 && x < elements.length).toBe(true)
        state = t === 0 ? elements[x]! : apply(elements[x]!, state)
        expect(row.labels[t], `t = ${t}`).toBe(index.get(state.join()))
      })
    }
  })
})
