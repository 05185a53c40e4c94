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
/**
 * The output norm's weight. shared: one weight of dv values, the same for
 * every head (TransNormer, RetNet, GLA, DeltaNet); per_head: H·dv values, a
 * weight per head and channel (Mamba2's gated RMSNorm over its inner width).
 * Either way each head is normalized over its own dv channels.
 */
export const OUTPUT_NORM_WEIGHTS = ['shared', 'per_head'] as const
/**
 * D ⊙ x (Mamba's skip, x the value input) added to the mixer output.
 * d_skip: after the output norm; d_skip_before_norm: before it, so the norm
 * sees recurrence + skip (Mamba2: y = SSD(x) + D ⊙ x, then the gated norm).
 */
export const SHORTCUTS = ['none', 'd_skip', 'd_skip_before_norm'] as const
export const OUTPUT_GATES = ['none', 'swish'] as const
/** transformer: mixer + separate MLP per block; mamba: gated mixer, no separate MLP. */
export const BLOCK_DESIGNS = ['transformer', 'mamba'] as const
export const PLACEMENTS = ['interleave', 'first', 'last', 'manual'] as const
/**
 * How parameters start (engine/model/init-scheme.ts has the formulas and sources).
 * fan_in: std ∝ 1/√fan_in, PyTorch's defaults, no depth shrink; right at small width.
 * gpt2: N(0, 0.02) everywhere, output projections 0.02/√(2·layers); for wide models.
 * Both keep each architecture's own parameters (Mamba2's A_log and dt, GLA's gate, RetNet's decays).
 */
export const INIT_SCHEMES = ['fan_in', 'gpt2'] as const
/**
 * The model's position signal. none: none at all (linear mixers see order only
 * through their recurrence and short conv); learned: a learned absolute
 * embedding of positions 0..max_positions−1 added to the token embedding
 * (longer inputs are refused: it cannot extrapolate); rotary: no absolute
 * signal, layers rotate q and k (each layer's own `rotary` switch: softmax
 * layers, and linear ones as RetNet's retention does).
 */
export const POSITIONS = ['none', 'learned', 'rotary'] as const

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
  /** The output norm's weight; absent = 'shared' (outputNormWeight). */
  output_norm_weight: z.enum(OUTPUT_NORM_WEIGHTS).optional(),
  shortcut: z.enum(SHORTCUTS),
  /** Depthwise causal convolution on q, k, v: 0 = off, else the kernel size. */
  short_conv: z.number().int().min(0).max(64),
  output_gate: z.enum(OUTPUT_GATES),
  /** Query scale; default dk^-1/2. */
  qk_scale: z.number().positive().optional(),
  /** Rotate q and k by their positions (after the feature map), as RetNet's retention does; absent = off. */
  rotary: z.boolean().optional(),
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
    vocab_size: z
      .number()
      .int()
      .min(2)
      .max(1 << 20),
    d_model: positiveInt(65536),
    block: z.enum(BLOCK_DESIGNS),
    /** SwiGLU hidden size = mlp_expansion × d_model; 0 = no MLP (required for mamba blocks). */
    mlp_expansion: z.number().min(0).max(64),
    tie_embeddings: z.boolean(),
    /** Initialization scheme; absent = 'fan_in' (modelInit). */
    init: z.enum(INIT_SCHEMES).optional(),
    /** Position signal; absent = 'rotary' when a layer rotates, else 'none' (modelPosition). */
    position: z.enum(POSITIONS).optional(),
    /** Positions the learned embedding holds (position 'learned' only): inputs up to this length. */
    max_positions: positiveInt(1 << 20).optional(),
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
      if (!explicit && spec.d_model % layer.heads !== 0) issue([...at, 'heads'], `${layer.heads} does not divide d_model ${spec.d_model}`)
      if (layer.kind !== 'linear') return
      if (layer.delta_rule !== 'off' && layer.denominator !== 'none')
        issue([...at, 'denominator'], `'${layer.denominator}' is for additive writes only; with delta_rule '${layer.delta_rule}' use 'none'`)
      if (layer.delta_rule !== 'off' && layer.input_gate !== 'none')
        issue([...at, 'input_gate'], `'${layer.input_gate}' does not combine with the delta rule (β is its write strength); use 'none'`)
      if (layer.input_gate === 'exp' && layer.denominator !== 'max1')
        issue([...at, 'denominator'], `'${layer.denominator}' cannot carry the exp input gate's stabilizer; input_gate 'exp' needs 'max1' (mLSTM)`)
      if (layer.output_norm === 'none' && layer.output_norm_weight === 'per_head')
        issue(
          [...at, 'output_norm_weight'],
          `'per_head' needs an output norm to weigh (output_norm is 'none'); use 'shared', or output_norm rmsnorm or groupnorm`,
        )
      if (layer.output_norm === 'none' && layer.shortcut === 'd_skip_before_norm')
        issue([...at, 'shortcut'], `'d_skip_before_norm' needs an output norm to come before (output_norm is 'none'); use 'd_skip'`)
      if (layer.short_conv === 1) issue([...at, 'short_conv'], `1 is not a useful kernel size; valid: 0 (off) or 2 to 64`)
      const dk = layer.dk ?? spec.d_model / layer.heads
      if (layer.rotary && dk % 2 !== 0)
        issue([...at, 'rotary'], `needs an even key dim (pairs of channels rotate together); dk is ${dk}: set an even dk, or turn rotary off`)
    })
    const position = modelPosition(spec)
    const rotating = spec.layers.flatMap((l, i) => (l.rotary ? [i] : []))
    if (position === 'learned' && spec.max_positions === undefined)
      issue(['max_positions'], `missing; position 'learned' needs the longest input it will see (e.g. the task's seq_len)`)
    if (position !== 'learned' && spec.max_positions !== undefined)
      issue(['max_positions'], `${spec.max_positions} is only used with position 'learned' (this spec has '${position}'); remove it`)
    if (position === 'rotary' && rotating.length === 0)
      issue(['position'], `'rotary' needs a layer with rotary on (a softmax layer, or a linear one as in RetNet); valid here: none, learned`)
    if (position === 'none' && rotating.length > 0)
      issue(['position'], `'none', but layers [${rotating.join(', ')}] rotate q and k; use 'rotary' (or 'learned'), or turn their rotary off`)
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
export type InitScheme = (typeof INIT_SCHEMES)[number]
export type PositionKind = (typeof POSITIONS)[number]
export type OutputNormWeight = (typeof OUTPUT_NORM_WEIGHTS)[number]

// The defaults of the optional model-wide fields, applied here and nowhere
// else: a spec saved before a field existed loads and means this.

/** The initialization scheme: absent means 'fan_in' (the width-aware default; specs saved before `init` existed get it too). */
export function modelInit(spec: Pick<ModelSpec, 'init'>): InitScheme {
  return spec.init ?? 'fan_in'
}

/**
 * The position signal: absent means what a spec saved before `position`
 * existed computed, 'rotary' when a layer rotates, else 'none'.
 */
export function modelPosition(spec: Pick<ModelSpec, 'position' | 'layers'>): PositionKind {
  if (spec.position) return spec.position
  return spec.layers.some((l) => l.rotary) ? 'rotary' : 'none'
}

/**
 * A linear layer's output norm weight: absent means 'shared' (one dv weight
 * for all heads, what every spec saved before the field existed builds).
 */
export function outputNormWeight(layer: Pick<LinearLayer, 'output_norm_weight'>): OutputNormWeight {
  return layer.output_norm_weight ?? 'shared'
}

/** Per-head key and value dims of a layer, with the defaults applied. */
export function headDims(spec: Pick<ModelSpec, 'd_model'>, layer: Layer): { dk: number; dv: number } {
  if (layer.kind === 'linear') {
    const d = spec.d_model / layer.heads
    return { dk: layer.dk ?? d, dv: layer.dv ?? d }
  }
  const d = layer.head_dim ?? spec.d_model / layer.heads
  return { dk: d, dv: d }
}
