// AdamW over the model's trainable parameters, one fused adamw_step op per
// parameter (decoupled weight decay as in PyTorch), with the global-norm
// gradient clip computed on the device from the step's sum of squared
// gradients, so a training step never waits for the GPU.
import type { Backend } from '../backend'
import type { Param } from '../model/params'
import type { HostArray, Tensor } from '../tensor'

export interface AdamWSettings {
  beta1: number
  beta2: number
  eps: number
  weightDecay: number
}

export class AdamW {
  readonly m = new Map<string, Tensor>()
  readonly v = new Map<string, Tensor>()

  constructor(
    private readonly backend: Backend,
    private readonly params: Param[],
    private readonly settings: AdamWSettings,
  ) {
    for (const p of params) {
      this.m.set(p.name, backend.zeros(p.tensor.shape, p.tensor.dtype))
      this.v.set(p.name, backend.zeros(p.tensor.shape, p.tensor.dtype))
    }
  }

  /**
   * The sum of squares of every gradient, as a [1] tensor on the device in the
   * weights' dtype: nothing is read, so the host does not wait for the step.
   */
  gradSqSum(grads: Map<string, Tensor>): Tensor {
    const total = this.backend.zeros([1], this.params[0]?.tensor.dtype ?? 'f32')
    for (const g of grads.values()) {
      const squares = this.backend.run('sum_squares', { x: g }).y!
      this.backend.run('accumulate', { dst: total, src: squares }, { alpha: 1 })
      squares.dispose()
    }
    return total
  }

  /** The global L2 norm from gradSqSum's tensor, as read to the host. */
  static norm(gradSqSum: HostArray): number {
    return Math.sqrt(gradSqSum[0]!)
  }

  /**
   * One step at learning rate lr (step is 1-based). The global-norm clip runs
   * on the device from `clip.gradSqSum` (gradSqSum's tensor): gradients are
   * scaled by maxNorm / norm when the norm is over maxNorm > 0, and a step
   * whose norm is not finite updates nothing. gradScale multiplies every
   * gradient first (1 / the loss scale of an f16 pass, whose maxNorm is then
   * the threshold times the scale: both norms are of the scaled gradients).
   */
  step(grads: Map<string, Tensor>, lr: number, step: number, clip: { gradSqSum: Tensor; maxNorm: number; gradScale?: number }): void {
    const s = this.settings
    for (const p of this.params) {
      const grad = grads.get(p.name)
      if (!grad) continue // a parameter the loss does not reach this step
      this.backend.run(
        'adamw_step',
        { param: p.tensor, grad, m: this.m.get(p.name)!, v: this.v.get(p.name)!, grad_sq_sum: clip.gradSqSum },
        {
          lr,
          beta1: s.beta1,
          beta2: s.beta2,
          eps: s.eps,
          weight_decay: p.decay ? s.weightDecay : 0,
          step,
          max_norm: clip.maxNorm,
          grad_scale: clip.gradScale ?? 1,
        },
      )
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose()
    this.m.clear()
    this.v.clear()
  }
}
