// The autograd context of one forward (and backward) pass: the backend, a
// tape of backward closures, the gradients found so far, and a scope that
// owns every intermediate tensor so a step frees them all at once.
//
// Ops record their backward as a closure over their inputs and outputs; the
// backward pass runs the closures in reverse and accumulates input gradients.
import type { Backend } from '../backend'
import { inPhase, inScope, scope } from '../profile/scope'
import type { FloatDType, Tensor } from '../tensor'

type BackwardFn = () => void

export class GradientError extends Error {}

export class Ctx {
  private readonly tape: BackwardFn[] = []
  private readonly grads = new Map<Tensor, Tensor>()
  private readonly owned = new Set<Tensor>()
  /** Tensors that outlive the pass (parameters, their gradients, optimizer state). */
  private readonly kept = new Set<Tensor>()

  constructor(
    readonly backend: Backend,
    readonly dtype: FloatDType,
    /** False for evaluation: nothing is recorded. */
    readonly recording: boolean,
  ) {}

  /** Registers a tensor created in this pass; it is freed by dispose(). */
  own<T extends Tensor | undefined>(t: T): T {
    if (t) this.owned.add(t)
    return t
  }

  /** Marks tensors that must survive dispose() (e.g. parameters). */
  keep(...tensors: Tensor[]): void {
    for (const t of tensors) this.kept.add(t)
  }

  /** Records a backward closure; it runs in the scope the forward op ran in. */
  record(fn: BackwardFn): void {
    if (!this.recording) return
    const where = scope()
    this.tape.push(() => inScope(where, fn))
  }

  /** The gradient of `t` found so far, if any. */
  grad(t: Tensor): Tensor | undefined {
    return this.grads.get(t)
  }

  /** Adds `g` to the gradient of `t` (takes ownership of g). */
  accumulate(t: Tensor, g: Tensor | undefined): void {
    if (!g) return
    const existing = this.grads.get(t)
    if (!existing) {
      this.grads.set(t, this.own(g))
      return
    }
    this.backend.run('accumulate', { dst: existing, src: g }, { alpha: 1 })
    g.dispose()
    this.owned.delete(g)
  }

  /** Seeds d(loss)/d(t) and runs the tape backwards. */
  backward(seeds: [Tensor, Tensor][]): void {
    if (!this.recording) throw new GradientError('backward() on a context that did not record a tape')
    inPhase('backward', () => {
      for (const [t, g] of seeds) this.accumulate(t, g)
      for (let i = this.tape.length - 1; i >= 0; i--) this.tape[i]!()
    })
    this.tape.length = 0
  }

  /** Frees every tensor of the pass except the kept ones. */
  dispose(): void {
    for (const t of this.owned) if (!this.kept.has(t)) t.dispose()
    this.owned.clear()
    this.grads.clear()
    this.tape.length = 0
  }
}
