// A softmax-attention layer for hybrids: projections, rotary positions,
// causal (optionally sliding-window) attention, output projection.
// x: (B, T, d_model) -> (B, T, d_model).
import type { SoftmaxLayer } from '../../api/model-spec'
import type { Ctx } from '../autograd/context'
import type { Tensor } from '../tensor'
import { weightInit, type InitContext } from './init-scheme'
import type { ParamStore } from './params'
import type { SoftmaxTap } from './taps'

export class SoftmaxAttentionLayer {
  private readonly p: Record<string, Tensor> = {}
  /** Set by the inspector: receives the attention's inputs (after rotary) and output on every forward. */
  tap?: (t: SoftmaxTap) => void

  constructor(
    private readonly spec: SoftmaxLayer,
    readonly prefix: string,
    dModel: number,
    private readonly headDim: number,
    initCtx: InitContext,
    store: ParamStore,
  ) {
    const inner = spec.heads * headDim
    for (const name of ['q_proj', 'k_proj', 'v_proj']) this.p[name] = store.create(`${prefix}.${name}`, [inner, dModel], weightInit(initCtx, 'proj', dModel))
    this.p.o_proj = store.create(`${prefix}.o_proj`, [dModel, inner], weightInit(initCtx, 'out_proj', inner))
  }

  forward(ctx: Ctx, x: Tensor): Tensor {
    const [B, T] = x.shape as [number, number, number]
    const heads = (t: Tensor) => ctx.view(t, [B, T, this.spec.heads, this.headDim])
    // Weights are (out, in), as PyTorch stores them.
    const proj = (input: Tensor, w: Tensor) => ctx.op('linear_fwd', { x: input, w }, { trans_w: true }).y
    let q = heads(proj(x, this.p.q_proj!))
    let k = heads(proj(x, this.p.k_proj!))
    const v = heads(proj(x, this.p.v_proj!))
    if (this.spec.rotary) {
      q = ctx.op('rotary_fwd', { x: q }).y
      k = ctx.op('rotary_fwd', { x: k }).y
    }
    const window = this.spec.window ?? 0
    const o = ctx.op('softmax_attn_fwd', { q, k, v }, { window }).o
    this.tap?.({ kind: 'softmax', q, k, v, o, window })
    return proj(ctx.view(o, [B, T, this.spec.heads * this.headDim]), this.p.o_proj!)
  }
}
