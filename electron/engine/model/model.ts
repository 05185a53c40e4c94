// The model of a ModelSpec: embedding (plus learned positions when the spec
// asks), pre-norm blocks (mixer or softmax attention, then a SwiGLU MLP in
// transformer blocks), final norm and the LM head, evaluated only at the
// labelled positions.
//
// ids (B, T) i32 -> hidden (B, T, d) -> rows at labelled positions (M, d) -> logits (M, vocab)
import { UserError } from '../../api/errors'
import { headDims, modelInit, modelPosition, type ModelSpec } from '../../api/model-spec'
import type { Ctx } from '../autograd/context'
import type { Backend } from '../backend'
import { Rng } from '../random'
import type { FloatDType, Tensor } from '../tensor'
import { inScope } from '../profile/scope'
import { LinearMixerLayer } from './linear-mixer'
import { SwiGluMlp } from './mlp'
import { weightInit, type InitContext } from './init-scheme'
import { init, ParamStore } from './params'
import { SoftmaxAttentionLayer } from './softmax-layer'

interface Block {
  norm1: Tensor
  mixer: LinearMixerLayer | SoftmaxAttentionLayer
  norm2?: Tensor
  mlp?: SwiGluMlp
}

/** The loss of a batch, per labelled row. */
export interface CrossEntropy {
  /** −log p(label) per row (0 on ignored rows). */
  nll: Tensor
  /** 1 where the argmax is the label. */
  correct: Tensor
}

/** Token ids and labels of a batch on the backend, labels gathered at labelled rows. */
export interface DeviceBatch {
  ids: Tensor // (B, T) i32
  rows: Tensor // (M) i32: flat positions b·T + t that carry a label
  labels: Tensor // (M) i32
  count: number // M
  /**
   * The labels the loss is a mean over, when more than this batch's: a
   * data-parallel rank's slice is normalized by the whole batch's count, so
   * the ranks' gradients sum to the whole batch's (train/data-parallel.ts).
   */
  lossCount?: number
}

/** An input longer than the learned position table: positions past it were never trained. */
export class PositionRangeError extends UserError {
  override name = 'PositionRangeError'
}

export class Model {
  readonly params: ParamStore
  private readonly embed: Tensor
  /** Learned absolute positions (max_positions, d), with position 'learned'. */
  private readonly positions?: Tensor
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
    const initCtx: InitContext = { scheme: modelInit(spec), dModel: d, nLayers: spec.layers.length, tied: spec.tie_embeddings }
    const store = this.params
    this.embed = store.create('embed.weight', [spec.vocab_size, d], weightInit(initCtx, 'embedding', d))
    if (modelPosition(spec) === 'learned') {
      // The schema requires max_positions with position 'learned'.
      this.positions = store.create('pos_embed.weight', [spec.max_positions!, d], weightInit(initCtx, 'position', d))
    }
    spec.layers.forEach((layer, i) => {
      const prefix = `layers.${i}`
      const norm1 = store.create(`${prefix}.norm1.weight`, [d], init.constant(1), { decay: false })
      const dims = headDims(spec, layer)
      const mixer =
        layer.kind === 'linear'
          ? new LinearMixerLayer(layer, `${prefix}.mixer`, d, dims, initCtx, store)
          : new SoftmaxAttentionLayer(layer, `${prefix}.attn`, d, dims.dk, initCtx, store)
      const block: Block = { norm1, mixer }
      if (spec.block === 'transformer' && spec.mlp_expansion > 0) {
        block.norm2 = store.create(`${prefix}.norm2.weight`, [d], init.constant(1), { decay: false })
        block.mlp = new SwiGluMlp(`${prefix}.mlp`, d, Math.max(1, Math.round(spec.mlp_expansion * d)), initCtx, store)
      }
      this.blocks.push(block)
    })
    this.finalNorm = store.create('final_norm.weight', [d], init.constant(1), { decay: false })
    this.head = spec.tie_embeddings ? this.embed : store.create('lm_head.weight', [spec.vocab_size, d], weightInit(initCtx, 'head', d))
  }

  /**
   * The input of the first block: token rows, plus position rows 0..T−1 with
   * learned positions. (B, T) ids -> (B, T, d). Learned positions do not
   * extrapolate: an input longer than max_positions is refused.
   */
  embedTokens(ctx: Ctx, ids: Tensor): Tensor {
    const tokens = ctx.op('embedding_fwd', { ids, table: this.embed }).y
    if (!this.positions) return tokens
    const [B, T] = ids.shape as [number, number]
    const max = this.positions.shape[0]!
    if (T > max)
      throw new PositionRangeError(
        `an input of ${T} tokens is longer than the ${max} learned positions of this model (max_positions ${max}): ` +
          `positions past ${max - 1} were never trained. Use inputs of at most ${max} tokens, or train with a larger max_positions`,
      )
    const positionIds = new Int32Array(B * T)
    for (let n = 0; n < B * T; n++) positionIds[n] = n % T
    const posIds = ctx.own(this.backend.upload(positionIds, [B, T]))
    const pos = ctx.op('embedding_fwd', { ids: posIds, table: this.positions }).y
    return ctx.op('binary_fwd', { a: tokens, b: pos }, { kind: 'add' }).y
  }

  /** Hidden states after every block, for inspection; the last is after the final norm. */
  hidden(ctx: Ctx, ids: Tensor, onBlock?: (index: number, h: Tensor) => void): Tensor {
    const rmsNorm = (x: Tensor, weight: Tensor | undefined) => ctx.op('norm_fwd', { x, weight }, { kind: 'rms' }).y
    const add = (a: Tensor, b: Tensor) => ctx.op('binary_fwd', { a, b }, { kind: 'add' }).y
    let h = inScope('embedding', () => this.embedTokens(ctx, ids))
    this.blocks.forEach((b, i) => {
      const kind = b.mixer instanceof LinearMixerLayer ? 'mixer' : 'attention'
      h = inScope(`layers.${i}.${kind}`, () => add(h, b.mixer.forward(ctx, rmsNorm(h, b.norm1))))
      if (b.mlp) h = inScope(`layers.${i}.mlp`, () => add(h, b.mlp!.forward(ctx, rmsNorm(h, b.norm2))))
      onBlock?.(i, h)
    })
    return inScope('head', () => rmsNorm(h, this.finalNorm))
  }

  /** Logits (M, vocab) at the batch's labelled rows. */
  logits(ctx: Ctx, batch: DeviceBatch, onBlock?: (index: number, h: Tensor) => void): Tensor {
    const h = this.hidden(ctx, batch.ids, onBlock)
    const [B, T, d] = h.shape as [number, number, number]
    return inScope('head', () => {
      const rows = ctx.op('gather_rows', { x: ctx.view(h, [B * T, d]), idx: batch.rows }).y
      return ctx.op('linear_fwd', { x: rows, w: this.head }, { trans_w: true }).y
    })
  }

  /**
   * Mean cross-entropy over labelled rows: the loss is Σ nll / rows, so its
   * backward is seeded with 1 / rows. Records its backward when ctx records.
   */
  loss(ctx: Ctx, batch: DeviceBatch, onBlock?: (index: number, h: Tensor) => void): CrossEntropy & { logits: Tensor } {
    const logits = this.logits(ctx, batch, onBlock)
    const out = inScope('loss', () =>
      ctx.op('cross_entropy_fwd', { logits, labels: batch.labels }, {}, { seed: 1 / Math.max(1, batch.lossCount ?? batch.count) }),
    )
    return { nll: out.nll, correct: out.correct, logits }
  }

  /** The mixer of each layer, in order (the inspector sets their taps). */
  mixers(): (LinearMixerLayer | SoftmaxAttentionLayer)[] {
    return this.blocks.map((b) => b.mixer)
  }

  dispose(): void {
    this.params.dispose()
  }
}
