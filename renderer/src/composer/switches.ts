// What each control of the composer edits, with a one-line explanation and
// the paper it comes from. Options are the schema's own values.
import {
  DELTA_RULES,
  DENOMINATORS,
  FEATURE_MAPS,
  FORGET_GATES,
  INIT_SCHEMES,
  INPUT_GATES,
  OUTPUT_GATES,
  OUTPUT_NORM_WEIGHTS,
  OUTPUT_NORMS,
  POSITIONS,
  SHORTCUTS,
} from '../../../electron/api/model-spec'

export interface ChoiceSwitch {
  field: string
  label: string
  explain: string
  paper: string
  options: readonly string[]
  /** Short names for chips (an absent optional field comes as its `absent` value). */
  chip: (value: string) => string
  /** An optional field: what its absence means. Choosing this value removes the field, so saved specs stay as they were. */
  absent?: string
}

export interface NumberSwitch {
  field: string
  label: string
  explain: string
  paper: string
  min: number
  max: number
  optional?: boolean
}

export const LINEAR_CHOICES: ChoiceSwitch[] = [
  {
    field: 'feature_map',
    label: 'Feature map φ',
    explain: 'Applied to queries and keys before the state update; l2norm (after silu) keeps the delta rule stable.',
    paper: 'Katharopoulos et al. 2020 (elu+1); Arora et al. 2024, Based (taylor2); Yang et al. 2024, DeltaNet (l2norm)',
    options: FEATURE_MAPS,
    chip: (v) => (v === 'identity' ? '' : `φ ${v}`),
  },
  {
    field: 'input_gate',
    label: 'Input gate',
    explain: 'Scales each write k vᵀ: sigmoid, softplus (Mamba’s dt, tied to a scalar decay) or a stabilized exponential (mLSTM).',
    paper: 'Dao & Gu 2024, Mamba2 (dt); Beck et al. 2024, xLSTM (exp)',
    options: INPUT_GATES,
    chip: (v) => (v === 'none' ? '' : `in ${v}`),
  },
  {
    field: 'forget_gate',
    label: 'Forget gate / decay',
    explain: 'How the old state fades: not at all, a fixed rate per head, one data-dependent rate per head, or one per key dimension.',
    paper: 'Sun et al. 2023, RetNet (fixed); Dao & Gu 2024, Mamba2 (scalar); Yang et al. 2024, GLA (vector)',
    options: FORGET_GATES,
    chip: (v) => (v === 'none' ? '' : `decay ${v}`),
  },
  {
    field: 'delta_rule',
    label: 'Delta rule',
    explain: 'Writes replace the value stored under a key instead of adding to it; β ∈ (0, 2) allows negative eigenvalues (state tracking).',
    paper: 'Schlag et al. 2021; Yang et al. 2024, DeltaNet; Grazzi et al. 2025 (negative eigenvalues)',
    options: DELTA_RULES,
    chip: (v) => (v === 'off' ? '' : v === 'on' ? 'delta' : 'delta β<2'),
  },
  {
    field: 'denominator',
    label: 'Denominator',
    explain: 'Divide the read by qᵀz (sum) or by max(|qᵀz|, 1) (mLSTM); additive writes only.',
    paper: 'Katharopoulos et al. 2020 (sum); Beck et al. 2024, xLSTM (max1)',
    options: DENOMINATORS,
    chip: (v) => (v === 'none' ? '' : `÷ ${v}`),
  },
  {
    field: 'output_norm',
    label: 'Output norm',
    explain: 'Per-head normalization of the mixer output before the output gate.',
    paper: 'Qin et al. 2022, TransNormer (rmsnorm); Sun et al. 2023, RetNet (groupnorm)',
    options: OUTPUT_NORMS,
    chip: (v) => (v === 'none' ? '' : v),
  },
  {
    field: 'output_norm_weight',
    label: 'Output norm weight',
    explain: 'The output norm’s learned weight: one dv vector shared by all heads, or one per head and channel (H·dv). Needs an output norm.',
    paper: 'Sun et al. 2023, RetNet (shared); Dao & Gu 2024, Mamba2 (per head: its gated RMSNorm over the inner width)',
    options: OUTPUT_NORM_WEIGHTS,
    chip: (v) => (v === 'per_head' ? 'norm w/head' : ''),
    absent: 'shared',
  },
  {
    field: 'shortcut',
    label: 'Shortcut',
    explain:
      'Adds D ⊙ x, a learned per-channel skip around the recurrence: after the output norm (d_skip), or before it so the norm sees both (d_skip_before_norm, Mamba2).',
    paper: 'Gu & Dao 2023, Mamba; Dao & Gu 2024, Mamba2 (before the norm)',
    options: SHORTCUTS,
    chip: (v) => (v === 'none' ? '' : v === 'd_skip' ? 'D skip' : 'D skip→norm'),
  },
  {
    field: 'output_gate',
    label: 'Output gate',
    explain: 'Multiplies the output by swish(x W_g), a data-dependent gate.',
    paper: 'Sun et al. 2023, RetNet; Yang et al. 2024, GLA',
    options: OUTPUT_GATES,
    chip: (v) => (v === 'none' ? '' : 'gate'),
  },
]

export const LINEAR_NUMBERS: NumberSwitch[] = [
  {
    field: 'heads',
    label: 'Heads',
    explain: 'Independent recurrent states; must divide d_model unless dk and dv are set.',
    paper: 'Vaswani et al. 2017',
    min: 1,
    max: 1024,
  },
  {
    field: 'dk',
    label: 'dk (key dim per head)',
    explain: 'Key/query dimension per head; empty = d_model / heads.',
    paper: 'Yang et al. 2024, GLA (expand_k)',
    min: 1,
    max: 4096,
    optional: true,
  },
  {
    field: 'dv',
    label: 'dv (value dim per head)',
    explain: 'Value dimension per head; the state is dk × dv.',
    paper: 'Yang et al. 2024, GLA (expand_v)',
    min: 1,
    max: 4096,
    optional: true,
  },
  {
    field: 'short_conv',
    label: 'Short convolution',
    explain: 'Causal depthwise convolution on q, k, v: 0 = off, else its kernel size (typically 4).',
    paper: 'Poli et al. 2023, Hyena; Gu & Dao 2023, Mamba',
    min: 0,
    max: 64,
  },
]

export const SOFTMAX_NUMBERS: NumberSwitch[] = [
  { field: 'heads', label: 'Heads', explain: 'Attention heads; must divide d_model unless head_dim is set.', paper: 'Vaswani et al. 2017', min: 1, max: 1024 },
  {
    field: 'head_dim',
    label: 'Head dim',
    explain: 'Dimension per head; empty = d_model / heads.',
    paper: 'Vaswani et al. 2017',
    min: 1,
    max: 4096,
    optional: true,
  },
  {
    field: 'window',
    label: 'Sliding window',
    explain: 'Attend to the last w positions only; empty = full causal attention.',
    paper: 'Beltagy et al. 2020, Longformer; Arora et al. 2024, Based',
    min: 1,
    max: 1 << 20,
    optional: true,
  },
]

export const ROTARY = {
  field: 'rotary',
  label: 'Rotary positions',
  explain: 'Rotates q and k by their positions, so scores depend on distance.',
  paper: 'Su et al. 2021, RoFormer',
  explainLinear:
    'Rotates q and k by their positions after the feature map, as RetNet’s retention does (with a fixed decay, its xPos-like relative positions); needs an even dk.',
  paperLinear: 'Sun et al. 2023, RetNet; Su et al. 2021, RoFormer',
}

export const MODEL_HELP = {
  vocab_size: 'Tokens the model reads and predicts.',
  d_model: 'Width of the residual stream.',
  n_layers: 'Blocks in the stack.',
  mlp_expansion: 'SwiGLU hidden size = expansion × d_model (transformer blocks; mamba blocks have none).',
  block: 'transformer: mixer + separate MLP; mamba: gated mixer only (Gu & Dao 2023).',
  hybrid: 'Fraction of layers that are softmax attention and where they go (Lieber et al. 2024, Jamba; Arora et al. 2024, Based).',
  init: 'How weights start. fan_in: PyTorch’s defaults, std 1/√(3·fan_in), no depth shrink; right at small width (at d_model 64, 0.02 leaves recall unlearned). gpt2: N(0, 0.02), output projections 0.02/√(2·layers) (Radford et al. 2019); for wide models. Both keep Mamba2’s A and dt ranges, GLA’s gate and RetNet’s decays.',
  position:
    'The position signal. none: linear mixers see order only through their recurrence and short conv. learned: an absolute embedding per position up to max_positions, added to the tokens; longer inputs are refused (it does not extrapolate). rotary: softmax layers rotate q and k (Su et al. 2021).',
  max_positions: 'Positions the learned table holds: the longest input the model will see (the task’s length; templates fill it in).',
}

/** The choices of the model-wide init and position fields, with their explanations. */
export const MODEL_CHOICES = {
  init: { options: INIT_SCHEMES, paper: 'He et al. 2015 / PyTorch nn.Linear (fan_in); Radford et al. 2019, GPT-2 (gpt2)' },
  position: { options: POSITIONS, paper: 'Vaswani et al. 2017; Radford et al. 2019 (learned); Su et al. 2021, RoFormer (rotary)' },
}

export interface Chip {
  field: string
  text: string
}

/** The chips of a layer card: its kind, then each switch that is on. */
export function layerChips(layer: Record<string, unknown>): Chip[] {
  if (layer.kind === 'softmax')
    return [
      { field: 'kind', text: 'softmax' },
      { field: 'window', text: layer.window ? `window ${layer.window}` : 'full' },
      { field: 'rotary', text: layer.rotary ? 'rotary' : 'no rotary' },
      { field: 'heads', text: `${layer.heads} heads` },
    ]
  const chips: Chip[] = [{ field: 'kind', text: 'linear' }]
  for (const s of LINEAR_CHOICES) {
    const text = s.chip(String(layer[s.field] ?? s.absent))
    if (text) chips.push({ field: s.field, text })
  }
  if (Number(layer.short_conv) > 0) chips.push({ field: 'short_conv', text: `conv ${layer.short_conv}` })
  chips.push({ field: 'heads', text: `${layer.heads} heads` })
  return chips
}
