// Sampling without replacement, reusing buffers across rows. Neither sampler
// keeps state between draws that could change a result: each draw depends
// only on the Rng it is given.
import type { Rng } from '../random'

/**
 * k distinct integers from [0, n), uniformly, in random order: a partial
 * Fisher–Yates shuffle of an identity pool, undone afterwards so the pool is
 * the identity again for the next draw. O(k) per draw.
 */
export class DistinctSampler {
  private readonly pool: Int32Array
  private readonly swaps: Int32Array

  constructor(
    readonly n: number,
    readonly maxK: number,
  ) {
    this.pool = new Int32Array(n)
    for (let i = 0; i < n; i++) this.pool[i] = i
    this.swaps = new Int32Array(maxK)
  }

  /** Writes k draws to out[0..k). */
  draw(rng: Rng, k: number, out: Int32Array): void {
    const { pool, swaps, n } = this
    for (let i = 0; i < k; i++) {
      const j = i + rng.int(n - i)
      swaps[i] = j
      const picked = pool[j]!
      pool[j] = pool[i]!
      pool[i] = picked
      out[i] = picked
    }
    for (let i = k - 1; i >= 0; i--) {
      const j = swaps[i]!
      const t = pool[j]!
      pool[j] = pool[i]!
      pool[i] = t
    }
  }
}

/**
 * k distinct indices from [0, n) with P(i) ∝ weights[i], in draw order, as
 * numpy's choice(n, k, replace=False, p) draws them (successive sampling:
 * each draw is ∝ weight among those not yet drawn). Two exact methods; the
 * cheaper one for (weights, maxK) is fixed at construction:
 *
 * - Exponential races (Efraimidis–Spirakis): index i arrives at time
 *   Exp(1) / w_i; keep the k earliest, earliest first. The first arrival is i
 *   with probability w_i / Σw and, the exponential being memoryless, the
 *   rest race on among the others: successive sampling. O(n log k).
 * - Rejection: draw from all n by the cumulative weights, redraw when taken.
 *   Conditioning on "not taken" is successive sampling. Expected draws per
 *   pick <= 1 / (1 − m), m the largest mass k indices can hold, so it is
 *   used only when m <= 1/2 and k·log2(n) is well below n (long sequences).
 */
export class WeightedSampler {
  readonly method: 'races' | 'rejection'
  private readonly invWeights: Float64Array
  private readonly cumulative: Float64Array
  private readonly heapTime: Float64Array
  private readonly heapIndex: Int32Array
  /** taken[i] === drawId marks i as drawn in the current draw. */
  private readonly taken: Int32Array
  private drawId = 0

  constructor(weights: Float64Array, maxK: number) {
    const n = weights.length
    this.invWeights = weights.map((w) => 1 / w)
    this.cumulative = new Float64Array(n)
    let sum = 0
    for (let i = 0; i < n; i++) this.cumulative[i] = sum += weights[i]!
    const topMass =
      [...weights]
        .sort((x, y) => y - x)
        .slice(0, maxK)
        .reduce((s, w) => s + w, 0) / sum
    this.method = topMass <= 0.5 && 8 * maxK * Math.log2(n + 1) < n ? 'rejection' : 'races'
    this.heapTime = new Float64Array(maxK)
    this.heapIndex = new Int32Array(maxK)
    this.taken = new Int32Array(this.method === 'rejection' ? n : 0)
  }

  get n(): number {
    return this.invWeights.length
  }

  /** Writes k draws to out[0..k), first drawn first. */
  draw(rng: Rng, k: number, out: Int32Array): void {
    if (this.method === 'rejection') this.drawByRejection(rng, k, out)
    else this.drawByRaces(rng, k, out)
  }

  private drawByRejection(rng: Rng, k: number, out: Int32Array): void {
    const { cumulative, taken } = this
    if (this.drawId === 0x7fffffff) {
      taken.fill(0)
      this.drawId = 0
    }
    const id = ++this.drawId
    const total = cumulative[cumulative.length - 1]!
    for (let i = 0; i < k; i++) {
      let picked: number
      do {
        // First index whose cumulative weight exceeds x.
        const x = rng.uniform() * total
        let lo = 0
        let hi = cumulative.length - 1
        while (lo < hi) {
          const mid = (lo + hi) >> 1
          if (cumulative[mid]! > x) hi = mid
          else lo = mid + 1
        }
        picked = lo
      } while (taken[picked] === id)
      taken[picked] = id
      out[i] = picked
    }
  }

  private drawByRaces(rng: Rng, k: number, out: Int32Array): void {
    const { invWeights, heapTime, heapIndex } = this
    let size = 0
    for (let i = 0; i < invWeights.length; i++) {
      // 1 − u is in (0, 1], so the time is finite and >= 0.
      const time = -Math.log(1 - rng.uniform()) * invWeights[i]!
      if (size < k) {
        // Sift up: the root holds the latest of the k kept so far.
        let c = size++
        while (c > 0) {
          const p = (c - 1) >> 1
          if (heapTime[p]! >= time) break
          heapTime[c] = heapTime[p]!
          heapIndex[c] = heapIndex[p]!
          c = p
        }
        heapTime[c] = time
        heapIndex[c] = i
      } else if (time < heapTime[0]!) {
        siftDown(heapTime, heapIndex, size, time, i)
      }
    }
    // Pop the latest first, filling out from the back: out is earliest first.
    for (let last = size - 1; last >= 0; last--) {
      out[last] = heapIndex[0]!
      siftDown(heapTime, heapIndex, last, heapTime[last]!, heapIndex[last]!)
    }
  }
}

/** Puts (time, index) at the root of a max-heap of `size` and sifts it down. */
function siftDown(heapTime: Float64Array, heapIndex: Int32Array, size: number, time: number, index: number): void {
  let c = 0
  for (;;) {
    let child = 2 * c + 1
    if (child >= size) break
    if (child + 1 < size && heapTime[child + 1]! > heapTime[child]!) child++
    if (heapTime[child]! <= time) break
    heapTime[c] = heapTime[child]!
    heapIndex[c] = heapIndex[child]!
    c = child
  }
  heapTime[c] = time
  heapIndex[c] = index
}
