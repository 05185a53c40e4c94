// Deterministic random numbers for data and initialization: the same seed
// gives the same numbers on every platform (no Math.random anywhere).

/** splitmix32: small, fast, and good enough for synthetic data. */
export class Rng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** Uniform in [0, 2^32). */
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0
    let z = this.state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n)
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    let u = this.uniform()
    while (u === 0) u = this.uniform()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform())
  }

  fillNormal<A extends Float32Array | Float64Array>(out: A, std = 1): A {
    for (let i = 0; i < out.length; i++) out[i] = this.normal() * std
    return out
  }
}
