// The SwiGLU MLP of transformer blocks: down(silu(x W_gate) ⊙ x W_up).
import type { Ctx } from '../autograd/context'
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
    // Weights are (out, in), as PyTorch stores them.
    const proj = (input: Tensor, w: Tensor) => ctx.op('linear_fwd', { x: input, w }, { trans_w: true }).y
    const h = ctx.op('swiglu_fwd', { gate: proj(x, this.gate), up: proj(x, this.up) }).y
    return proj(h, this.down)
  }
}
