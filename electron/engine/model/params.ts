// Parameters: named tensors on a backend, created from host values drawn
// by the initializers below (deterministic from the model's Rng). Linear
// weights are stored as PyTorch does, (out, in), so checkpoints load there.
import type { Backend } from '../backend'
import { markNoGrad } from '../autograd/no-grad'
import { Rng } from '../random'
import { Tensor, type FloatDType, type HostArray } from '../tensor'

export interface Param {
  name: string
  tensor: Tensor
  /** Decoupled weight decay applies (matrices), or not (norms, biases, gates' scalars). */
  decay: boolean
  /** False for fixed buffers (e.g. RetNet's decays): no gradient, no optimizer step. */
  trainable: boolean
}

export type Init = (rng: Rng, n: number, shape: readonly number[]) => number[] | Float64Array

export const init = {
  normal:
    (std: number): Init =>
    (rng, n) => {
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) out[i] = rng.normal() * std
      return out
    },
  /** Xavier-uniform with a gain, for a (out, in) matrix. */
  xavier:
    (gain: number): Init =>
    (rng, n, shape) => {
      const fanOut = shape[0] ?? 1
      const fanIn = shape[1] ?? 1
      const a = gain * Math.sqrt(6 / (fanIn + fanOut))
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) out[i] = (rng.uniform() * 2 - 1) * a
      return out
    },
  constant:
    (value: number): Init =>
    (_rng, n) =>
      new Float64Array(n).fill(value),
  values:
    (values: number[]): Init =>
    () =>
      values,
  /** Uniform in [lo, hi), then mapped by f (e.g. log for A_log). */
  uniform:
    (lo: number, hi: number, f: (x: number) => number = (x) => x): Init =>
    (rng, n) => {
      const out = new Float64Array(n)
      for (let i = 0; i < n; i++) out[i] = f(lo + (hi - lo) * rng.uniform())
      return out
    },
}

export class ParamStore {
  readonly params = new Map<string, Param>()

  /**
   * With `materialize` false the store only records names and shapes (tensors
   * without memory): estimates count parameters with the very code that builds
   * the model, at no cost.
   */
  constructor(
    readonly backend: Backend,
    readonly dtype: FloatDType,
    private readonly rng: Rng,
    private readonly materialize = true,
  ) {}

  create(name: string, shape: readonly number[], initializer: Init, options: { decay?: boolean; trainable?: boolean } = {}): Tensor {
    if (this.params.has(name)) throw new Error(`parameter ${name} is created twice`)
    const n = shape.reduce((a, b) => a * b, 1)
    if (!this.materialize) {
      const tensor = new Tensor(this.backend, undefined, [...shape], this.dtype)
      this.params.set(name, { name, tensor, decay: options.decay ?? shape.length >= 2, trainable: options.trainable ?? true })
      return tensor
    }
    const values = initializer(this.rng, n, shape)
    if (values.length !== n) throw new Error(`initializer of ${name} gave ${values.length} values for shape [${shape.join(', ')}]`)
    const host: HostArray = this.dtype === 'f32' ? Float32Array.from(values) : Float64Array.from(values)
    const tensor = this.backend.upload(host, shape)
    const trainable = options.trainable ?? true
    if (!trainable) markNoGrad(tensor)
    this.params.set(name, { name, tensor, decay: options.decay ?? shape.length >= 2, trainable })
    return tensor
  }

  get(name: string): Param {
    const p = this.params.get(name)
    if (!p) throw new Error(`no parameter named ${name}`)
    return p
  }

  list(): Param[] {
    return [...this.params.values()]
  }

  trainable(): Param[] {
    return this.list().filter((p) => p.trainable)
  }

  count(): number {
    return this.trainable().reduce((n, p) => n + p.tensor.size, 0)
  }

  dispose(): void {
    if (this.materialize) for (const p of this.params.values()) p.tensor.dispose()
    this.params.clear()
  }
}
