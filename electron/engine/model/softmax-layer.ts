// A softmax-attention layer for hybrids: projections, rotary positions,
// causal (optionally sliding-window) attention, output projection.
// x: (B, T, d_model) -> (B, T, d_model).
import type { SoftmaxLayer } from '../../api/model-spec'
import type { Ctx } from '../autograd/context'
import { linear, reshape, rotary, softmaxAttention } from '../autograd/functions'
import type { Tensor } from '../tensor'
import { init, type ParamStore } from './params'
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
    outStd: number,
    store: ParamStore,
  ) {
    const inner = spec.heads * headDim
    for (const name of ['q_proj', 'k_proj', 'v_proj']) this.p[name] = store.create(`${prefix}.${name}`, [inner, dModel], init.normal(0.02))
    this.p.o_proj = store.create(`${prefix}.o_proj`, [dModel, inner], init.normal(outStd))
  }

  forward(ctx: Ctx, x: Tensor): Tensor {
    const [B, T] = x.shape as [number, number, number]
    const heads = (t: Tensor) => reshape(ctx, t, [B, T, this.spec.heads, this.headDim])
    let q = heads(linear(ctx, x, this.p.q_proj!, undefined, true))
    let k = heads(linear(ctx, x, this.p.k_proj!, undefined, true))
    const v = heads(linear(ctx, x, this.p.v_proj!, undefined, true))
    if (this.spec.rotary) {
      q = rotary(ctx, q)
      k = rotary(ctx, k)
    }
    const window = this.spec.window ?? 0
    const o = softmaxAttention(ctx, q, k, v, window)
    this.tap?.({ kind: 'softmax', q, k, v, o, window })
    return linear(ctx, reshape(ctx, o, [B, T, this.spec.heads * this.headDim]), this.p.o_proj!, undefined, true)
  }
}
