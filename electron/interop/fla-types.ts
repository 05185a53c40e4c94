// The table of fla model types Linea reads and writes: each type's config
// fields with fla's defaults and what Linea does with each (reads it,
// ignores it because it changes no computed value, or takes one value only),
// and the switch settings of its linear layers. fla-config.ts reads configs
// and writes them through this table, both ways; nothing else decides.
import type { LinearLayer, ModelSpec, OutputNormWeight } from '../api/model-spec'

/** fla model types Linea reads and writes. */
export const FLA_MODEL_TYPES = ['gla', 'retnet', 'delta_net', 'gated_deltanet', 'mamba2', 'linear_attn', 'transformer'] as const
export type FlaModelType = (typeof FLA_MODEL_TYPES)[number]

/** fla model types Linea knows and refuses, with the reason. */
export const FLA_REFUSED_TYPES: Readonly<Record<string, string>> = {
  based:
    "fla has no Based model class (only the layer fla.layers.BasedLinearAttention), so no config.json of that type exists; Linea's 'based' preset exports as a standalone PyTorch module",
}

/** A config as fla writes it: model_type and its fields (JSON values). */
export type FlaConfig = Record<string, unknown>

/** What Linea does with a config field. */
export type FieldRule =
  | { read: true } // mapped onto the ModelSpec by the type's reader
  | { ignored: string } // changes no computed value (kernel choice, init, training, tokens); the reason
  | { only: unknown; why: string } // Linea computes this value only

const ignored = (why: string): FieldRule => ({ ignored: why })
const only = (value: unknown, why: string): FieldRule => ({ only: value, why })
const READ: FieldRule = { read: true }

const KERNEL = ignored('a kernel or fusion choice; the computed values are the same')
const INIT = ignored('initialization or training only; the weights come from the checkpoint')
const TOKENS = ignored('token ids for generation; not part of the model')

/** Fields of every Hugging Face config that do not change the model. */
const HF_FIELDS: Record<string, FieldRule> = {
  model_type: READ,
  architectures: ignored('the Python class name'),
  transformers_version: ignored('the writer version'),
  torch_dtype: ignored('the storage dtype; Linea reads F32, F16 and BF16 tensors'),
  dtype: ignored('the storage dtype; Linea reads F32, F16 and BF16 tensors'),
  _name_or_path: ignored('where the config came from'),
  auto_map: ignored('Python classes to load'),
  use_cache: ignored('generation cache'),
  bos_token_id: TOKENS,
  eos_token_id: TOKENS,
  pad_token_id: TOKENS,
  initializer_range: INIT,
  fuse_cross_entropy: ignored('the training loss kernel'),
  fuse_linear_cross_entropy: ignored('the training loss kernel'),
  use_l2warp: ignored('a training loss term'),
  fuse_swiglu: KERNEL,
  vocab_size: READ,
  hidden_size: READ,
  num_hidden_layers: READ,
  tie_word_embeddings: READ,
}

/** Fields of fla's transformer-style models (pre-norm blocks with a SwiGLU MLP). */
const BLOCK_FIELDS: Record<string, FieldRule> = {
  ...HF_FIELDS,
  hidden_ratio: READ,
  intermediate_size: READ,
  hidden_act: only('swish', "Linea's MLP and output gates are SwiGLU (swish)"),
  norm_eps: only(1e-6, "Linea's RMS norms use eps 1e-6"),
  elementwise_affine: only(true, "Linea's norms always have a weight"),
  fuse_norm: ignored('a kernel or fusion choice; the computed values are the same (GLA reads it for a parameter name)'),
  max_position_embeddings: ignored('these models have no learned positions; rotary is not bounded by it'),
  attn_mode: KERNEL,
  attnres_block_size: only(null, 'Linea has no attention residuals across blocks'),
  attn: READ,
}

const KV_HEADS = only(null, 'Linea has no grouped keys and values (num_kv_heads below num_heads); null or num_heads')

/** The projections of the layers that size q, k and v by expand_k and expand_v (GLA, RetNet, linear attention). */
const EXPAND_FIELDS: Record<string, FieldRule> = {
  ...BLOCK_FIELDS,
  expand_k: READ,
  expand_v: READ,
  num_heads: READ,
  num_kv_heads: KV_HEADS,
  feature_map: READ,
}

/** Fields GLA and RetNet share (and read the same way: fla-config.ts reads both in one branch). */
const GLA_LIKE_FIELDS: Record<string, FieldRule> = { ...EXPAND_FIELDS, use_output_gate: READ, fuse_norm: READ }

export interface TypeRow {
  /** fla's defaults for the fields a config.json may leave out. */
  defaults: FlaConfig
  fields: Record<string, FieldRule>
}

export const FLA_TYPES: Record<FlaModelType, TypeRow> = {
  gla: {
    // prettier-ignore
    defaults: {
      hidden_size: 2048, expand_k: 0.5, expand_v: 1, hidden_ratio: 4, intermediate_size: null, num_hidden_layers: 24, num_heads: 4,
      num_kv_heads: null, feature_map: null, use_short_conv: false, conv_size: 4, use_output_gate: true, clamp_min: null, hidden_act: 'swish',
      elementwise_affine: true, norm_eps: 1e-6, use_gk: true, use_gv: false, attn: null, tie_word_embeddings: false, fuse_norm: true,
      vocab_size: 32000, attnres_block_size: null,
    },
    fields: {
      ...GLA_LIKE_FIELDS,
      use_short_conv: READ,
      conv_size: READ,
      clamp_min: only(null, 'Linea does not clamp the log decay'),
      use_gk: only(true, "Linea's vector gate is GLA's key gate"),
      use_gv: only(false, 'Linea has no value gate'),
    },
  },
  retnet: {
    // prettier-ignore
    defaults: {
      attn_mode: 'chunk', hidden_size: 2048, expand_k: 1, expand_v: 2, hidden_ratio: 2, intermediate_size: null, num_hidden_layers: 24, num_heads: 8,
      num_kv_heads: null, feature_map: null, hidden_act: 'swish', use_short_conv: false, conv_size: 4, use_output_gate: true,
      max_position_embeddings: 2048, elementwise_affine: true, norm_eps: 1e-6, attn: null, tie_word_embeddings: false, fuse_norm: true,
      vocab_size: 32000, attnres_block_size: null,
    },
    fields: {
      ...GLA_LIKE_FIELDS,
      // fla's RetNet block builds MultiScaleRetention without passing these on: its layers never convolve
      use_short_conv: ignored("fla's RetNet block does not pass it to its retention layers, which then have no short convolution"),
      conv_size: ignored("fla's RetNet block does not pass it to its retention layers, which then have no short convolution"),
    },
  },
  delta_net: {
    // prettier-ignore
    defaults: {
      hidden_size: 2048, expand_k: 1, expand_v: 1, use_gate: false, use_short_conv: true, allow_neg_eigval: false, conv_size: 4, use_beta: true,
      use_output_norm: true, num_heads: 16, qk_norm: 'l2', qk_activation: 'silu', hidden_ratio: 4, intermediate_size: null, hidden_act: 'swish',
      num_hidden_layers: 24, norm_eps: 1e-6, attn: null, tie_word_embeddings: false, fuse_norm: true, vocab_size: 32000, attnres_block_size: null,
    },
    fields: {
      ...BLOCK_FIELDS,
      expand_k: READ,
      expand_v: READ,
      num_heads: READ,
      use_gate: READ,
      use_short_conv: only(true, "without it fla applies silu to v as well; Linea's DeltaNet runs with the short convolution"),
      conv_size: READ,
      allow_neg_eigval: READ,
      use_beta: only(true, 'Linea learns β (use_beta false fixes β = 1)'),
      use_output_norm: ignored("fla's DeltaNet layer normalizes its output whatever this says"),
      qk_norm: only('l2', "Linea's delta rule takes l2-normalized keys (qk_norm 'sum' is not built)"),
      qk_activation: only('silu', 'Linea applies silu before the l2 norm'),
    },
  },
  gated_deltanet: {
    // prettier-ignore
    defaults: {
      hidden_size: 2048, expand_v: 2, use_gate: true, use_short_conv: true, allow_neg_eigval: false, conv_size: 4, head_dim: 256, num_heads: 6,
      num_v_heads: null, hidden_ratio: 4, intermediate_size: null, hidden_act: 'swish', num_hidden_layers: 21, norm_eps: 1e-6, attn: null,
      tie_word_embeddings: false, fuse_norm: true, vocab_size: 32000, attnres_block_size: null,
    },
    fields: {
      ...BLOCK_FIELDS,
      expand_v: READ,
      head_dim: READ,
      num_heads: READ,
      num_v_heads: only(null, 'Linea has one value head per key head; null or num_heads'),
      use_gate: READ,
      use_short_conv: only(true, "without it fla applies silu to v as well; Linea's Gated DeltaNet runs with the short convolution"),
      conv_size: READ,
      allow_neg_eigval: READ,
    },
  },
  mamba2: {
    // prettier-ignore
    defaults: {
      head_dim: 64, vocab_size: 32000, hidden_size: 2048, state_size: 128, num_hidden_layers: 48, norm_eps: 1e-5, expand: 2, conv_kernel: 4,
      n_groups: 1, use_bias: false, use_conv_bias: true, hidden_act: 'silu', rmsnorm: true, norm_before_gate: false, D_has_hdim: false,
      dt_limit: [0, Infinity], tie_word_embeddings: false, fuse_norm: true,
    },
    fields: {
      ...HF_FIELDS,
      head_dim: READ,
      state_size: READ,
      expand: READ,
      num_heads: READ,
      conv_kernel: READ,
      n_groups: READ,
      D_has_hdim: READ,
      rmsnorm: READ,
      norm_before_gate: READ,
      norm_eps: only(1e-6, "Linea's RMS norms use eps 1e-6"),
      use_bias: only(false, "Linea's projections have no bias"),
      use_conv_bias: only(false, "Linea's short convolution has no bias"),
      hidden_act: only('silu', 'Linea applies silu after the short convolution'),
      dt_limit: only([0, Infinity], 'Linea does not clamp dt'),
      fuse_norm: KERNEL,
      chunk_size: KERNEL,
      residual_in_fp32: ignored('a precision choice of the residual stream'),
      conv_init: INIT,
      A_init_range: INIT,
      dt_min: INIT,
      dt_max: INIT,
      dt_init_floor: INIT,
      rescale_prenorm_residual: INIT,
    },
  },
  linear_attn: {
    // prettier-ignore
    defaults: {
      hidden_size: 2048, expand_k: 1, expand_v: 1, hidden_ratio: 4, intermediate_size: null, num_hidden_layers: 24, num_heads: 4, num_kv_heads: null,
      feature_map: 'elementwise_product', tie_feature_map_qk: false, norm_q: false, norm_k: false, norm_feature_map: false, hidden_act: 'swish',
      elementwise_affine: true, norm_eps: 1e-6, attn: null, tie_word_embeddings: false, fuse_norm: true, vocab_size: 32000, attnres_block_size: null,
    },
    fields: {
      ...EXPAND_FIELDS,
      tie_feature_map_qk: ignored('only learned feature maps have parameters to tie, and Linea reads none of those'),
      norm_q: only(false, 'Linea does not divide q by its sum'),
      norm_k: only(false, 'Linea does not divide k by its sum'),
      norm_feature_map: only(false, "fla divides by (qᵀz + 1e-10); Linea's denominator adds 1e-6"),
    },
  },
  transformer: {
    // prettier-ignore
    defaults: {
      hidden_size: 2048, num_hidden_layers: 24, num_heads: 32, num_kv_heads: null, qkv_bias: false, qk_norm: false, window_size: null,
      rope_theta: 10000, hidden_ratio: 4, intermediate_size: null, hidden_act: 'swish', elementwise_affine: true, norm_eps: 1e-6,
      tie_word_embeddings: false, fuse_norm: true, vocab_size: 32000, attnres_block_size: null,
    },
    fields: {
      ...BLOCK_FIELDS,
      attn: only(null, 'a Transformer has softmax attention in every layer'),
      num_heads: READ,
      num_kv_heads: KV_HEADS,
      qkv_bias: only(false, "Linea's attention projections have no bias"),
      qk_norm: only(false, 'Linea does not normalize q and k in softmax layers'),
      window_size: READ,
      rope_theta: only(10000, "Linea's rotary base is 10000"),
    },
  },
}

/** Keys of one entry of a hybrid config's `attn` (a dict, or a list of dicts). */
export const ATTN_FIELDS: Record<string, FieldRule> = {
  layers: READ,
  num_heads: READ,
  num_kv_heads: KV_HEADS,
  qkv_bias: only(false, "Linea's attention projections have no bias"),
  window_size: READ,
  rope_theta: only(10000, "Linea's rotary base is 10000"),
}

/** A linear layer's switches, the optional output_norm_weight with its default applied (outputNormWeight). */
export type Switches = Omit<LinearLayer, 'kind' | 'heads' | 'dk' | 'dv' | 'qk_scale' | 'output_norm_weight'> & { output_norm_weight: OutputNormWeight }

/** Short convolution sizes Linea builds (2 to 64), fla's default 4 first. */
const CONV_SIZES = [4, ...Array.from({ length: 63 }, (_, i) => i + 2).filter((w) => w !== 4)]

/**
 * The linear layer each type computes: for each switch, the values fla's
 * layer can take (the first is what the reader sets unless a field says
 * otherwise). Export picks the type whose row admits the layer.
 */
export const LINEAR_SWITCHES: Record<
  Exclude<FlaModelType, 'transformer'>,
  {
    block: ModelSpec['block']
    qkScale?: number
    /** A rule across switches: why the layer is not this type's ('' when it is). */
    across?: (layer: Switches) => string
  } & { [K in keyof Switches]: readonly Switches[K][] }
> = {
  gla: {
    block: 'transformer',
    feature_map: ['identity', 'relu', 'silu'],
    input_gate: ['none'],
    forget_gate: ['vector'],
    delta_rule: ['off'],
    denominator: ['none'],
    output_norm: ['rmsnorm'],
    output_norm_weight: ['shared'],
    shortcut: ['none'],
    short_conv: [0, ...CONV_SIZES],
    output_gate: ['swish', 'none'],
    rotary: [false],
  },
  retnet: {
    // MultiScaleRetention: fixed decays γ_h = 1 − 2^(−5−h) (fla computes them; Linea's non-trainable
    // log_decay holds the same), q and k rotated after the feature map, per-head RMSNorm, swish gate
    block: 'transformer',
    feature_map: ['identity', 'relu', 'silu'],
    input_gate: ['none'],
    forget_gate: ['fixed'],
    delta_rule: ['off'],
    denominator: ['none'],
    output_norm: ['rmsnorm'],
    output_norm_weight: ['shared'],
    shortcut: ['none'],
    short_conv: [0],
    output_gate: ['swish', 'none'],
    rotary: [true],
  },
  delta_net: {
    block: 'transformer',
    feature_map: ['l2norm'],
    input_gate: ['none'],
    forget_gate: ['none'],
    delta_rule: ['on', 'negative_eigen'],
    denominator: ['none'],
    output_norm: ['rmsnorm'],
    output_norm_weight: ['shared'],
    shortcut: ['none'],
    short_conv: CONV_SIZES,
    output_gate: ['none', 'swish'],
    rotary: [false],
  },
  gated_deltanet: {
    block: 'transformer',
    feature_map: ['l2norm'],
    input_gate: ['none'],
    forget_gate: ['scalar'],
    delta_rule: ['on', 'negative_eigen'],
    denominator: ['none'],
    output_norm: ['rmsnorm'],
    output_norm_weight: ['shared'],
    shortcut: ['none'],
    short_conv: CONV_SIZES,
    output_gate: ['swish', 'none'],
    rotary: [false],
  },
  mamba2: {
    block: 'mamba',
    qkScale: 1,
    feature_map: ['identity'],
    input_gate: ['softplus'],
    forget_gate: ['scalar'],
    delta_rule: ['off'],
    denominator: ['none'],
    output_norm: ['rmsnorm', 'none'],
    // fla's gated RMSNorm has a weight per channel of the inner width: per_head, or shared copied to every head
    output_norm_weight: ['per_head', 'shared'],
    // y = SSD(x) + D ⊙ x goes into the gated norm: the skip comes before it (without a norm, either is the same)
    shortcut: ['d_skip_before_norm', 'd_skip'],
    across: (l) =>
      l.output_norm !== 'none' && l.shortcut === 'd_skip'
        ? `shortcut 'd_skip' with output_norm '${l.output_norm}' (fla's Mamba2 adds D ⊙ x before its norm; needs 'd_skip_before_norm')`
        : '',
    short_conv: CONV_SIZES,
    output_gate: ['swish'],
    rotary: [false],
  },
  linear_attn: {
    block: 'transformer',
    feature_map: ['identity', 'elu1', 'relu'],
    input_gate: ['none'],
    forget_gate: ['none'],
    delta_rule: ['off'],
    denominator: ['none'],
    output_norm: ['rmsnorm'],
    output_norm_weight: ['shared'],
    shortcut: ['none'],
    short_conv: [0],
    output_gate: ['none'],
    rotary: [false],
  },
}

/** fla's feature_map names <-> Linea's, per type that has the field. */
export const GLA_FEATURE_MAPS: Record<string, LinearLayer['feature_map']> = { relu: 'relu', silu: 'silu', swish: 'silu' }
export const LINEAR_ATTN_FEATURE_MAPS: Record<string, LinearLayer['feature_map']> = { identity: 'identity', elu: 'elu1', relu: 'relu' }
