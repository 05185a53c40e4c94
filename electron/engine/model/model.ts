// The model of a ModelSpec: embedding, pre-norm blocks (mixer or softmax
// attention, then a SwiGLU MLP in transformer blocks), final norm and the LM
// head, evaluated only at the labelled positions.
//
// ids (B, T) i32 -> hidden (B, T, d) -> rows at labelled positions (M, d) -> logits (M, vocab)
import { headDims, type ModelSpec } from '../../api/model-spec'
import type { Ctx } from '../autograd/context'
import { binary, crossEntropyLoss, embedding, gatherRows, linear, norm, reshape, type CrossEntropy } from '../autograd/functions'
import type { Backend } from '../backend'
import { Rng } from '../random'
import type { FloatDType, Tensor } from '../tensor'
import { inScope } from '../profile/scope'
import { LinearMixerLayer } from './linear-mixer'
import { SwiGluMlp } from './mlp'
import { init, ParamStore } from './params'
import { SoftmaxAttentionLayer } from './softmax-layer'

interface Block {
  norm1: Tensor
  mixer: LinearMixerLayer | SoftmaxAttentionLayer
  norm2?: Tensor
  mlp?: SwiGluMlp
}

/** Token ids and labels of a batch on the backend, labels gathered at labelled rows. */
export interface DeviceBatch {
  ids: Tensor // (B, T) i32
  rows: Tensor // (M) i32: flat positions b·T + t that carry a label
  labels: Tensor // (M) i32
  count: number // M
}

export class Model {
  readonly params: ParamStore
  private readonly embed: Tensor
  private readonly blocks: Block[] = []
  private readonly finalNorm: Tensor
  private readonly head: Tensor

  /** With materialize false, parameters are shapes only (for estimates). */
  constructor(
    readonly spec: ModelSpec,
    readonly backend: Backend,
    readonly dtype: FloatDType,
    seed: number,
    materialize = true,
  ) {
    this.params = new ParamStore(backend, dtype, new Rng(seed), materialize)
    const d = spec.d_model
    const n = spec.layers.length
    // GPT-2: residual-stream output projections scaled by 1/sqrt(2 · layers)
    const outStd = 0.02 / Math.sqrt(2 * n)
    const store = this.params
    this.embed = store.create('embed.weight', [spec.vocab_size, d], init.normal(0.02))
    spec.layers.forEach((layer, i) => {
      const prefix = `layers.${i}`
      const norm1 = store.create(`${prefix}.norm1.weight`, [d], init.constant(1), { decay: false })
      const dims = headDims(spec, layer)
      const mixer =
        layer.kind === 'linear'
          ? new LinearMixerLayer(layer, `${prefix}.mixer`, d, dims, outStd, store)
          : new SoftmaxAttentionLayer(layer, `${prefix}.attn`, d, dims.dk, outStd, store)
      const block: Block = { norm1, mixer }
      if (spec.block === 'transformer' && spec.mlp_expansion > 0) {
        block.norm2 = store.create(`${prefix}.norm2.weight`, [d], init.constant(1), { decay: false })
        block.mlp = new SwiGluMlp(`${prefix}.mlp`, d, Math.max(1, Math.round(spec.mlp_expansion * d)), outStd, store)
      }
      this.blocks.push(block)
    })
    this.finalNorm = store.create('final_norm.weight', [d], init.constant(1), { decay: false })
    this.head = spec.tie_embeddings ? this.embed : store.create('lm_head.weight', [spec.vocab_size, d], init.normal(0.02))
  }

  /** Hidden states after every block, for inspection; the last is after the final norm. */
  hidden(ctx: Ctx, ids: Tensor, onBlock?: (index: number, h: Tensor) => void): Tensor {
    let h = inScope('embedding', () => embedding(ctx, ids, this.embed))
    this.blocks.forEach((b, i) => {
      const kind = b.mixer instanceof LinearMixerLayer ? 'mixer' : 'attention'
      h = inScope(`layers.${i}.${kind}`, () => binary(ctx, h, b.mixer.forward(ctx, norm(ctx, h, b.norm1, 'rms')), 'add'))
      if (b.mlp) h = inScope(`layers.${i}.mlp`, () => binary(ctx, h, b.mlp!.forward(ctx, norm(ctx, h, b.norm2, 'rms')), 'add'))
      onBlock?.(i, h)
    })
    return inScope('head', () => norm(ctx, h, this.finalNorm, 'rms'))
  }

  /** Logits (M, vocab) at the batch's labelled rows. */
  logits(ctx: Ctx, batch: DeviceBatch, onBlock?: (index: number, h: Tensor) => void): Tensor {
    const h = this.hidden(ctx, batch.ids, onBlock)
    const [B, T, d] = h.shape as [number, number, number]
    return inScope('head', () => linear(ctx, gatherRows(ctx, reshape(ctx, h, [B * T, d]), batch.rows), this.head, undefined, true))
  }

  /** Mean cross-entropy over labelled rows; records its backward when ctx records. */
  loss(ctx: Ctx, batch: DeviceBatch, onBlock?: (index: number, h: Tensor) => void): CrossEntropy & { logits: Tensor } {
    const logits = this.logits(ctx, batch, onBlock)
    return { ...inScope('loss', () => crossEntropyLoss(ctx, logits, batch.labels, 1 / Math.max(1, batch.count))), logits }
  }

  /** The mixer of each layer, in order (the inspector sets their taps). */
  mixers(): (LinearMixerLayer | SoftmaxAttentionLayer)[] {
    return this.blocks.map((b) => b.mixer)
  }

  dispose(): void {
    this.params.dispose()
  }
}
