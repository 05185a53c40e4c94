// AdamW over the model's trainable parameters, one fused adamw_step op per
// parameter (decoupled weight decay as in PyTorch), with the global-norm
// gradient clip folded in as a gradient scale.
import type { Backend } from '../backend'
import type { Param } from '../model/params'
import type { Tensor } from '../tensor'

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

  /** Global L2 norm of the gradients (accumulated in double by the op). */
  async gradNorm(grads: Map<string, Tensor>): Promise<number> {
    // All ops first, then the reads: the ops run in one synchronous stretch.
    const squares = [...grads.values()].map((g) => this.backend.run('sum_squares', { x: g }).y!)
    let sum = 0
    for (const s of squares) {
      sum += (await s.read())[0]!
      s.dispose()
    }
    return Math.sqrt(sum)
  }

  /** One step at learning rate lr; step is 1-based; gradScale multiplies every gradient (clipping). */
  step(grads: Map<string, Tensor>, lr: number, step: number, gradScale: number): void {
    const s = this.settings
    for (const p of this.params) {
      const grad = grads.get(p.name)
      if (!grad) continue // a parameter the loss does not reach this step
      this.backend.run(
        'adamw_step',
        { param: p.tensor, grad, m: this.m.get(p.name)!, v: this.v.get(p.name)! },
        { lr, beta1: s.beta1, beta2: s.beta2, eps: s.eps, weight_decay: p.decay ? s.weightDecay : 0, step, grad_scale: gradScale },
      )
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose()
    this.m.clear()
    this.v.clear()
  }
}
