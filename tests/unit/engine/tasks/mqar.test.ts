import { describe, expect, it } from 'vitest'
import type { Task } from '../../../../electron/api/train-spec'
import { createTask, TaskError } from '../../../../electron/engine/tasks'
import { labelledPositions, log2Bucket, rowsOf, trainRows, type RowView } from './rows'

type Mqar = Extract<Task, { kind: 'mqar' }>
const mqar = (o: Partial<Mqar> = {}): Mqar => ({ kind: 'mqar', seq_len: 256, num_kv_pairs: 16, power_a: 0.01, vocab_size: 512, ...o })

/** Checks one row against the MQAR rules from its inputs alone. */
function checkRow(row: RowView, t: Mqar): void {
  const { inputs, labels } = row
  const n = t.num_kv_pairs
  const half = Math.floor(t.vocab_size / 2)
  const T = t.seq_len
  expect(inputs.every((x) => x >= 0 && x < t.vocab_size)).toBe(true)

  const keys: number[] = []
  for (let i = 0; i < n; i++) {
    const k = inputs[2 * i]!
    const v = inputs[2 * i + 1]!
    expect(k >= 1 && k < half, `key ${k}`).toBe(true)
    expect(v >= half && v < t.vocab_size, `value ${v}`).toBe(true)
    keys.push(k)
  }
  expect(new Set(keys).size).toBe(n)

  const queried = labelledPositions(labels)
  expect(queried.length).toBe(n)
  const pairsSeen = new Set<number>()
  for (const p of queried) {
    // Queries start on slot boundaries of the query region.
    expect(p >= 2 * n && (p - 2 * n) % 2 === 0, `query at ${p}`).toBe(true)
    const j = keys.indexOf(inputs[p]!)
    expect(j, `query key ${inputs[p]} at ${p} is not a key of the prefix`).toBeGreaterThanOrEqual(0)
    expect(labels[p]).toBe(inputs[2 * j + 1])
    if (p + 1 < T) {
      expect(inputs[p + 1], 'the answer follows the query key').toBe(labels[p])
      expect(labels[p + 1], 'an answer slot is never a query').toBe(-1)
    }
    expect(row.tag('pair_index')[p]).toBe(j)
    expect(row.tag('distance')[p]).toBe(log2Bucket(p - 2 * j))
    // The key also occurs as a noise token between the pairs and this query.
    const earlierAsNoise = Array.from(inputs.subarray(2 * n, p)).includes(inputs[p]!)
    expect(row.tag('key_in_noise')[p], `key_in_noise at ${p}`).toBe(earlierAsNoise ? 1 : 0)
    pairsSeen.add(j)
  }
  expect(pairsSeen.size, 'every pair is queried once').toBe(n)
  const untagged = (name: string) => row.tag(name).every((v, p) => (labels[p] === -1) === (v === -1))
  expect(untagged('distance') && untagged('pair_index') && untagged('key_in_noise'), 'tags exactly at labelled positions').toBe(true)
}

/** 0-based slot of each pair's query, by pair index. */
function slotsOf(row: RowView, n: number): number[] {
  const slots = new Array<number>(n)
  for (const p of labelledPositions(row.labels)) slots[row.tag('pair_index')[p]!] = (p - 2 * n) / 2
  return slots
}

describe('MQAR', () => {
  it('reports its vocabulary, length, tags and headline', () => {
    const g = createTask(mqar(), 1)
    expect(g.kind).toBe('mqar')
    expect(g.vocabSize).toBe(512)
    expect(g.seqLen).toBe(256)
    expect(g.headline).toBe('accuracy')
    expect(Object.keys(g.tags).sort()).toEqual(['distance', 'key_in_noise', 'pair_index'])
    expect(g.tags.key_in_noise!.bucketLabel(0)).toBe('key only in its pair')
    expect(g.tags.key_in_noise!.bucketLabel(1)).toBe('key also earlier as noise')
    expect(g.tags.distance!.bucketLabel(3)).toBe('8–15')
    expect(g.tags.distance!.bucketLabel(0)).toBe('1')
  })

  it.each([
    mqar(),
    mqar({ seq_len: 64, num_kv_pairs: 4, vocab_size: 64 }),
    mqar({ seq_len: 33, num_kv_pairs: 8, vocab_size: 19 }), // odd length, 9 slots for 8 queries, keys 1..8 all used
    mqar({ seq_len: 2048, num_kv_pairs: 4, vocab_size: 8192, power_a: 0.3 }),
  ])('builds rows whose labels follow from the inputs: %o', (t) => {
    const g = createTask(t, 7)
    for (const row of trainRows(g, 4, 32)) checkRow(row, t)
    for (const set of g.evalSets(16, 2)) for (const b of set.batches) for (const row of rowsOf(b)) checkRow(row, t)
  })

  it('fills every slot when 4·n = seq_len, and may use the last slot whose answer is past the inputs', () => {
    const full = mqar({ seq_len: 32, num_kv_pairs: 8, vocab_size: 64 })
    for (const row of trainRows(createTask(full, 3), 2, 16)) {
      expect(labelledPositions(row.labels)).toEqual([16, 18, 20, 22, 24, 26, 28, 30])
    }
    const odd = mqar({ seq_len: 33, num_kv_pairs: 8, vocab_size: 64 })
    const lastUsed = trainRows(createTask(odd, 3), 4, 64).filter((row) => row.labels[32] !== -1)
    expect(lastUsed.length).toBeGreaterThan(0)
    for (const row of lastUsed) checkRow(row, odd)
  })

  it('draws keys over the whole lower half and values, with replacement, over the whole upper half', () => {
    const t = mqar({ seq_len: 64, num_kv_pairs: 4, vocab_size: 17 }) // keys 1..7, values 8..16
    const keys = new Set<number>()
    const values = new Set<number>()
    let repeatedValue = false
    for (const row of trainRows(createTask(t, 2), 4, 100)) {
      const rowValues = [1, 3, 5, 7].map((p) => row.inputs[p]!)
      ;[0, 2, 4, 6].forEach((p) => keys.add(row.inputs[p]!))
      rowValues.forEach((v) => values.add(v))
      repeatedValue ||= new Set(rowValues).size < 4
    }
    expect([...keys].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect([...values].sort((a, b) => a - b)).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16])
    expect(repeatedValue).toBe(true)
  })

  it('tags the queries whose key also occurs earlier as noise, a few percent of them at Zoology scale', () => {
    const t = mqar({ seq_len: 128, num_kv_pairs: 8, vocab_size: 512 })
    let tagged = 0
    let queries = 0
    for (const row of trainRows(createTask(t, 3), 8, 64))
      for (const p of labelledPositions(row.labels)) {
        queries++
        tagged += row.tag('key_in_noise')[p]!
      }
    // Each of ~100 noise tokens before a query hits its key with p = 1/512: about 1 − (511/512)^~60 ≈ 0.1 at most, ~0.04 on average.
    expect(tagged / queries).toBeGreaterThan(0.01)
    expect(tagged / queries).toBeLessThan(0.1)
  })

  it('has one evaluation set at the training length', () => {
    const sets = createTask(mqar(), 1).evalSets(8, 3)
    expect(sets.map((s) => [s.name, s.seqLen, s.batches.length])).toEqual([['T=256', 256, 3]])
  })

  describe('query gaps follow p(g) ∝ g^(a−1), without replacement', () => {
    function exactFirstAndSecond(space: number, a: number): { first: number[]; second: number[] } {
      const w = Array.from({ length: space }, (_, i) => (i + 1) ** (a - 1))
      const total = w.reduce((s, x) => s + x, 0)
      const first = w.map((x) => x / total)
      const second = w.map((x, g) => w.reduce((s, wj, j) => (j === g ? s : s + (wj / total) * (x / (total - wj))), 0))
      return { first, second }
    }

    function slotFrequencies(t: Mqar, rows: number, pair: number): number[] {
      const space = Math.floor((t.seq_len - 2 * t.num_kv_pairs + 1) / 2)
      const counts = new Array<number>(space).fill(0)
      for (const row of trainRows(createTask(t, 11), rows / 500, 500)) counts[slotsOf(row, t.num_kv_pairs)[pair]!]!++
      return counts.map((c) => c / rows)
    }

    /** Each frequency within 5 standard errors of its probability. */
    function expectClose(freq: number[], prob: number[], rows: number): void {
      freq.forEach((f, g) => {
        const se = Math.sqrt((prob[g]! * (1 - prob[g]!)) / rows) + 1e-4
        expect(Math.abs(f - prob[g]!), `slot ${g + 1}: ${f} vs ${prob[g]}`).toBeLessThan(5 * se)
      })
    }

    it('small gaps are much more frequent than large ones (a = 0.01, one pair)', () => {
      const t = mqar({ num_kv_pairs: 1 })
      const rows = 20000
      const freq = slotFrequencies(t, rows, 0)
      expectClose(freq, exactFirstAndSecond(freq.length, 0.01).first, rows)
      const small = freq.slice(0, 8).reduce((s, x) => s + x, 0)
      const large = freq.slice(-8).reduce((s, x) => s + x, 0)
      expect(small).toBeGreaterThan(10 * large)
    })

    it('first and second draws match successive sampling (a = 0.01, four pairs)', () => {
      const t = mqar({ seq_len: 64, num_kv_pairs: 4, vocab_size: 64 })
      const rows = 20000
      const exact = exactFirstAndSecond(Math.floor((64 - 8 + 1) / 2), 0.01)
      expectClose(slotFrequencies(t, rows, 0), exact.first, rows)
      expectClose(slotFrequencies(t, rows, 1), exact.second, rows)
    })

    it('a = 1 gives uniform gaps', () => {
      const t = mqar({ seq_len: 64, num_kv_pairs: 1, vocab_size: 64, power_a: 1 })
      const rows = 20000
      const freq = slotFrequencies(t, rows, 0)
      expectClose(freq, new Array<number>(freq.length).fill(1 / freq.length), rows)
    })

    it('distance tags fall off per unit of distance over many sequences', () => {
      const counts = new Map<number, number>()
      for (const row of trainRows(createTask(mqar({ seq_len: 1024, num_kv_pairs: 4, vocab_size: 256 }), 5), 10, 500))
        for (const p of labelledPositions(row.labels)) counts.set(row.tag('distance')[p]!, (counts.get(row.tag('distance')[p]!) ?? 0) + 1)
      // With p(g) ∝ g^(−0.99) each octave of distances holds about the same
      // mass, so compare counts per distance: bucket 3 spans 8 distances, bucket 9 spans 512.
      expect(counts.get(3)! / 8).toBeGreaterThan(16 * ((counts.get(9) ?? 0) / 512))
    })
  })

  it.each([
    [mqar({ seq_len: 60, num_kv_pairs: 16 }), 'task.num_kv_pairs: 16 pairs need seq_len >= 64'],
    [mqar({ num_kv_pairs: 16, vocab_size: 32 }), 'task.num_kv_pairs: 16 distinct keys do not fit in keys 1..15 of vocab_size 32'],
    [mqar({ power_a: 0 }), 'task.power_a: 0 is not valid'],
    [mqar({ power_a: 1.5 }), 'task.power_a: 1.5 is not valid'],
    [mqar({ vocab_size: 3, num_kv_pairs: 1 }), 'task.vocab_size: 3 is not valid'],
    [mqar({ num_kv_pairs: 0 }), 'task.num_kv_pairs: 0 is not valid'],
  ])('refuses %o', (t, message) => {
    expect(() => createTask(t, 1)).toThrow(TaskError)
    expect(() => createTask(t, 1)).toThrow(message)
  })
})
