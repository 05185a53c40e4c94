// The SwiGLU MLP of transformer blocks: down(silu(x W_gate) ⊙ x W_up).
import type { Ctx } from '../autograd/context'
import type { Tensor } from '../tensor'
import { weightInit, type InitContext } from './init-scheme'
import type { ParamStore } from './params'

export class SwiGluMlp {
  private readonly gate: Tensor
  private readonly up: Tensor
  private readonly down: Tensor

  constructor(prefix: string, dModel: number, hidden: number, initCtx: InitContext, store: ParamStore) {
    this.gate = store.create(`${prefix}.gate_proj`, [hidden, dModel], weightInit(initCtx, 'proj', dModel))
    this.up = store.create(`${prefix}.up_proj`, [hidden, dModel], weightInit(initCtx, 'proj', dModel))
    this.down = store.create(`${prefix}.down_proj`, [dModel, hidden], weightInit(initCtx, 'out_proj', hidden))
  }

  forward(ctx: Ctx, x: Tensor): Tensor {
    // Weights are (out, in), as PyTorch stores them.
    const proj = (input: Tensor, w: Tensor) => ctx.op('linear_fwd', { x: input, w }, { trans_w: true }).y
    const h = ctx.op('swiglu_fwd', { gate: proj(x, this.gate), up: proj(x, this.up) }).y
    return proj(h, this.down)
  }
}
