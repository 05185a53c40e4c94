// ModelSpec: the model a researcher composes, as JSON. Every switch of the
// mixer family (shared MATH.md) is a field here; the composer edits it, the
// engine builds from it, and both validate it with this one schema.
import { z } from 'zod'
import { softmaxPositions } from './hybrid'

export const FEATURE_MAPS = ['identity', 'elu1', 'relu', 'silu', 'l2norm', 'taylor2', 'hedgehog'] as const
/** Scales the write k vᵀ. softplus is Mamba's dt; exp is mLSTM's stabilized exponential gate. */
export const INPUT_GATES = ['none', 'sigmoid', 'softplus', 'exp'] as const
/** fixed: RetNet's log γ_h per head; scalar: one data-dependent gate per head (Mamba2); vector: per key dim (GLA). */
export const FORGET_GATES = ['none', 'fixed', 'scalar', 'vector'] as const
/** on: β ∈ (0, 1); negative_eigen: β ∈ (0, 2), so I − β k kᵀ can have a negative eigenvalue. */
export const DELTA_RULES = ['off', 'on', 'negative_eigen'] as const
/** sum: o / (qᵀz + ε) (Linear Transformer); max1: o / max(|qᵀz|, 1) (mLSTM). Additive writes only. */
export const DENOMINATORS = ['none', 'sum', 'max1'] as const
/** Per-head normalization of the mixer output (TransNormer, RetNet, GLA). */
export const OUTPUT_NORMS = ['none', 'rmsnorm', 'groupnorm'] as const
/** d_skip: Mamba's D ⊙ x added to the mixer output. */
export const SHORTCUTS = ['none', 'd_skip'] as const
export const OUTPUT_GATES = ['none', 'swish'] as const
/** transformer: mixer + separate MLP per block; mamba: gated mixer, no separate MLP. */
export const BLOCK_DESIGNS = ['transformer', 'mamba'] as const
export const PLACEMENTS = ['interleave', 'first', 'last', 'manual'] as const

const positiveInt = (max: number) => z.number().int().min(1).max(max)

export const LinearLayerSchema = z.strictObject({
  kind: z.literal('linear'),
  heads: positiveInt(1024),
  /** Key/query dim per head; default d_model / heads. */
  dk: positiveInt(4096).optional(),
  /** Value dim per head; default d_model / heads. */
  dv: positiveInt(4096).optional(),
  feature_map: z.enum(FEATURE_MAPS),
  input_gate: z.enum(INPUT_GATES),
  forget_gate: z.enum(FORGET_GATES),
  delta_rule: z.enum(DELTA_RULES),
  denominator: z.enum(DENOMINATORS),
  output_norm: z.enum(OUTPUT_NORMS),
  shortcut: z.enum(SHORTCUTS),
  /** Depthwise causal convolution on q, k, v: 0 = off, else the kernel size. */
  short_conv: z.number().int().min(0).max(64),
  output_gate: z.enum(OUTPUT_GATES),
  /** Query scale; default dk^-1/2. */
  qk_scale: z.number().positive().optional(),
})

export const SoftmaxLayerSchema = z.strictObject({
  kind: z.literal('softmax'),
  heads: positiveInt(1024),
  /** Head dim; default d_model / heads. */
  head_dim: positiveInt(4096).optional(),
  /** Attend to the last `window` positions only; null = full causal attention. */
  window: positiveInt(1 << 20).nullable(),
  rotary: z.boolean(),
})

export const LayerSchema = z.discriminatedUnion('kind', [LinearLayerSchema, SoftmaxLayerSchema])

export const HybridSchema = z.strictObject({
  /** Fraction of layers that are softmax attention, 0..1. */
  ratio: z.number().min(0).max(1),
  /** Where softmax layers go; manual: wherever `layers` says. */
  placement: z.enum(PLACEMENTS),
})

export const ModelSpecSchema = z
  .strictObject({
    format: z.literal('linea.model/1'),
    name: z.string().min(1).max(200),
    description: z.string().max(4000).optional(),
    /** The preset this spec started from, for "differs from preset" marks. */
    preset: z.string().optional(),
    vocab_size: z.number().int().min(2).max(1 << 20),
    d_model: positiveInt(65536),
    block: z.enum(BLOCK_DESIGNS),
    /** SwiGLU hidden size = mlp_expansion × d_model; 0 = no MLP (required for mamba blocks). */
    mlp_expansion: z.number().min(0).max(64),
    tie_embeddings: z.boolean(),
    hybrid: HybridSchema,
    layers: z.array(LayerSchema).min(1).max(512),
  })
  .superRefine((spec, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message })
    if (spec.block === 'mamba' && spec.mlp_expansion !== 0)
      issue(['mlp_expansion'], `${spec.mlp_expansion} is not allowed with block 'mamba' (no separate MLP); use 0`)
    spec.layers.forEach((layer, i) => {
      const at = ['layers', i]
      const explicit = layer.kind === 'linear' ? layer.dk !== undefined && layer.dv !== undefined : layer.head_dim !== undefined
      if (!explicit && spec.d_model % layer.heads !== 0)
        issue([...at, 'heads'], `${layer.heads} does not divide d_model ${spec.d_model}`)
      if (layer.kind !== 'linear') return
      if (layer.delta_rule !== 'off' && layer.denominator !== 'none')
        issue([...at, 'denominator'], `'${layer.denominator}' is for additive writes only; with delta_rule '${layer.delta_rule}' use 'none'`)
      if (layer.delta_rule !== 'off' && layer.input_gate !== 'none')
        issue([...at, 'input_gate'], `'${layer.input_gate}' does not combine with the delta rule (β is its write strength); use 'none'`)
      if (layer.input_gate === 'exp' && layer.denominator !== 'max1')
        issue([...at, 'denominator'], `'${layer.denominator}' cannot carry the exp input gate's stabilizer; input_gate 'exp' needs 'max1' (mLSTM)`)
      if (layer.short_conv === 1)
        issue([...at, 'short_conv'], `1 is not a useful kernel size; valid: 0 (off) or 2 to 64`)
    })
    if (spec.hybrid.placement !== 'manual') {
      const expected = softmaxPositions(spec.layers.length, spec.hybrid.ratio, spec.hybrid.placement)
      const actual = spec.layers.flatMap((l, i) => (l.kind === 'softmax' ? [i] : []))
      if (expected.join() !== actual.join())
        issue(
          ['hybrid'],
          `ratio ${spec.hybrid.ratio} with placement '${spec.hybrid.placement}' puts softmax layers at [${expected.join(', ')}], ` +
            `but layers has them at [${actual.join(', ')}]; re-place the layers or use placement 'manual'`,
        )
    }
  })

export type LinearLayer = z.infer<typeof LinearLayerSchema>
export type SoftmaxLayer = z.infer<typeof SoftmaxLayerSchema>
export type Layer = z.infer<typeof LayerSchema>
export type ModelSpec = z.infer<typeof ModelSpecSchema>
export type FeatureMap = (typeof FEATURE_MAPS)[number]
export type ForgetGate = (typeof FORGET_GATES)[number]
export type Placement = (typeof PLACEMENTS)[number]

/** Per-head key and value dims of a layer, with the defaults applied. */
export function headDims(spec: Pick<ModelSpec, 'd_model'>, layer: Layer): { dk: number; dv: number } {
  if (layer.kind === 'linear') {
    const d = spec.d_model / layer.heads
    return { dk: layer.dk ?? d, dv: layer.dv ?? d }
  }
  const d = layer.head_dim ?? spec.d_model / layer.heads
  return { dk: d, dv: d }
}
