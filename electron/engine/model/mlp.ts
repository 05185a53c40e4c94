// The SwiGLU MLP of transformer blocks: down(silu(x W_gate) ⊙ x W_up).
import type { Ctx } from '../autograd/context'
import { linear, swiglu } from '../autograd/functions'
import type { Tensor } from '../tensor'
import { init, type ParamStore } from './params'

export class SwiGluMlp {
  private readonly gate: Tensor
  private readonly up: Tensor
  private readonly down: Tensor

  constructor(prefix: string, dModel: number, hidden: number, outStd: number, store: ParamStore) {
    this.gate = store.create(`${prefix}.gate_proj`, [hidden, dModel], init.normal(0.02))
    this.up = store.create(`${prefix}.up_proj`, [hidden, dModel], init.normal(0.02))
    this.down = store.create(`${prefix}.down_proj`, [dModel, hidden], init.normal(outStd))
  }

  forward(ctx: Ctx, x: Tensor): Tensor {
    const h = swiglu(ctx, linear(ctx, x, this.gate, undefined, true), linear(ctx, x, this.up, undefined, true))
    return linear(ctx, h, this.down, undefined, true)
  }
}
