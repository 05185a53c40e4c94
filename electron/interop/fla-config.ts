// The one mapping between flash-linear-attention (fla) Hugging Face configs and
// Linea's ModelSpec, both directions. Pure: no files, no engine.
//
//   config.json {model_type, hidden_size, ...}  <->  ModelSpec {d_model, layers[...]}
//
// Each fla model type is a row of FLA_TYPES (fla-types.ts): the config fields it has, with
// fla's default for each and what Linea does with it (reads it, ignores it
// because it changes no computed value, or accepts only one value), and the
// switch settings of its linear layers (LINEAR_SWITCHES). A field whose value
// Linea cannot compute exactly is refused, naming the field, the value and
// what Linea takes; nothing is approximated.
//
// Parameter names and shapes (fla <-> Linea) are in fla-params.ts, which
// reads the FlaLayout this module returns.
//
// Left out on purpose: Based (fla has the layer
// `fla.layers.BasedLinearAttention` but no model class or config type to
// save or load it), and the model types Linea has no mixer for.
import { softmaxPositions, type AutoPlacement } from '../api/hybrid'
import { ModelSpecSchema, headDims, modelPosition, outputNormWeight, type LinearLayer, type ModelSpec, type SoftmaxLayer } from '../api/model-spec'
import { clip, UserError } from '../api/errors'
import { formatErrors, validateWith } from '../api/validate'
import {
  ATTN_FIELDS,
  FLA_MODEL_TYPES,
  FLA_REFUSED_TYPES,
  FLA_TYPES,
  GLA_FEATURE_MAPS,
  LINEAR_ATTN_FEATURE_MAPS,
  LINEAR_SWITCHES,
  type FieldRule,
  type FlaConfig,
  type FlaModelType,
  type Switches,
  type TypeRow,
} from './fla-types'

export class FlaConfigError extends UserError {}

export { FLA_MODEL_TYPES, FLA_REFUSED_TYPES, FLA_TYPES, LINEAR_SWITCHES, type FlaConfig, type FlaModelType } from './fla-types'

/** The naming choices fla-params.ts needs besides the ModelSpec. */
export interface FlaLayout {
  modelType: FlaModelType
  /** Module holding embeddings and layers: fla's 'model', Mamba2's 'backbone'. */
  root: 'model' | 'backbone'
  /** GLA's and RetNet's output norm module: fused with the swish gate, or a plain RMSNorm. */
  glaNorm?: 'g_norm_swish_gate' | 'g_norm'
  /** Mamba2: B and C groups (each group shared by num_heads / n_groups heads); D per channel or per head. */
  mamba2?: { groups: number; dHasHdim: boolean }
}

// ---- reading a config ------------------------------------------------------------

const shown = (v: unknown): string => {
  if (typeof v === 'string') return `'${clip(v, 80)}'`
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v)
  try {
    return clip(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : x)) ?? String(v), 120)
  } catch {
    return typeof v
  }
}

const sameValue = (a: unknown, b: unknown): boolean => {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
  return Object.is(a, b) || (typeof a === 'number' && a === b)
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** A config field's value: the config's own, else fla's default. */
function field(config: FlaConfig, row: TypeRow, name: string): unknown {
  return Object.hasOwn(config, name) ? config[name] : Object.hasOwn(row.defaults, name) ? row.defaults[name] : undefined
}

function wholeNumber(type: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new FlaConfigError(`${type} config: ${name} = ${shown(v)} is not a whole number >= ${min}`)
  return v
}

function realNumber(type: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new FlaConfigError(`${type} config: ${name} = ${shown(v)} is not a positive number`)
  return v
}

function bool(type: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new FlaConfigError(`${type} config: ${name} = ${shown(v)} is not true or false`)
  return v
}

/** Refuses unknown fields and values Linea cannot compute, naming each. */
function checkFields(type: string, config: FlaConfig, fields: Record<string, FieldRule>, row?: TypeRow, where = `${type} config`): void {
  for (const name of Object.keys(config)) {
    const rule = Object.hasOwn(fields, name) ? fields[name]! : undefined
    if (!rule)
      throw new FlaConfigError(
        `${where}: field ${shown(name)} is not one Linea knows for fla's ${type}, so it cannot say the model is computed as fla would; known: ${Object.keys(fields).sort().join(', ')}`,
      )
  }
  for (const [name, rule] of Object.entries(fields)) {
    if (!('only' in rule)) continue
    const value = row ? field(config, row, name) : Object.hasOwn(config, name) ? config[name] : undefined
    if (value === undefined) continue
    const kvAsHeads = name.endsWith('kv_heads') && value === (row ? field(config, row, 'num_heads') : config.num_heads)
    const accepted = kvAsHeads || (rule.only === null ? value === null : sameValue(value, rule.only))
    if (!accepted)
      throw new FlaConfigError(
        `${where}: ${name} = ${shown(value)} cannot be computed by Linea (${rule.why}); Linea takes ${name} = ${shown(rule.only)}${row && !Object.hasOwn(config, name) ? " (the value is fla's default, as the config leaves it out)" : ''}`,
      )
  }
}

/** Linea's MLP expansion for fla's GatedMLP: intermediate_size, else 2/3 · hidden_ratio · d rounded up to 256. */
function mlpExpansion(type: string, config: FlaConfig, row: TypeRow, d: number): number {
  const given = field(config, row, 'intermediate_size')
  let hidden: number
  if (given !== null && given !== undefined) hidden = wholeNumber(type, 'intermediate_size', given)
  else {
    const ratioValue = field(config, row, 'hidden_ratio')
    const ratio = ratioValue === null || ratioValue === undefined ? 4 : realNumber(type, 'hidden_ratio', ratioValue)
    hidden = 256 * Math.ceil(Math.trunc((d * ratio * 2) / 3) / 256)
  }
  const expansion = hidden / d
  if (Math.max(1, Math.round(expansion * d)) !== hidden)
    throw new FlaConfigError(`${type} config: an MLP of ${hidden} hidden units is not a Linea mlp_expansion of d_model ${d}`)
  return expansion
}

/** fla's int(d · expand) channels split over heads, as its layers compute it. */
function perHead(type: string, name: string, d: number, expand: number, heads: number): number {
  const total = Math.trunc(d * expand)
  if (total % heads !== 0) throw new FlaConfigError(`${type} config: ${name} ${expand} gives ${total} channels, not divisible by num_heads ${heads}`)
  return total / heads
}

interface AttnEntry {
  layers: number[]
  heads: number
  window: number | null
}

/** The softmax layers of a hybrid's `attn` (a dict or a list of dicts), each layer at most once. */
function readAttn(type: string, value: unknown, nLayers: number, d: number): Map<number, SoftmaxLayer> {
  const out = new Map<number, SoftmaxLayer>()
  if (value === null || value === undefined) return out
  const entries = Array.isArray(value) ? value : [value]
  entries.forEach((entry, e) => {
    const where = `${type} config attn${Array.isArray(value) ? `[${e}]` : ''}`
    if (!isObject(entry)) throw new FlaConfigError(`${where}: ${shown(entry)} is not an object with layers and num_heads`)
    checkFields(type, entry, ATTN_FIELDS, undefined, where)
    const layers = entry.layers
    if (!Array.isArray(layers)) throw new FlaConfigError(`${where}: layers = ${shown(layers)} is not a list of layer indices`)
    const a: AttnEntry = {
      layers: layers.map((l) => wholeNumber(type, 'attn layers', l, 0)),
      heads: wholeNumber(type, 'attn num_heads', entry.num_heads),
      window: entry.window_size === undefined || entry.window_size === null ? null : wholeNumber(type, 'attn window_size', entry.window_size),
    }
    if (d % a.heads !== 0) throw new FlaConfigError(`${where}: num_heads ${a.heads} does not divide hidden_size ${d}`)
    for (const l of a.layers) {
      if (l >= nLayers) throw new FlaConfigError(`${where}: layer ${l} is past the ${nLayers} layers (0 to ${nLayers - 1})`)
      if (out.has(l)) throw new FlaConfigError(`${where}: layer ${l} is listed twice`)
      out.set(l, { kind: 'softmax', heads: a.heads, window: a.window, rotary: true })
    }
  })
  return out
}

/** ratio and placement that put the softmax layers where they are (manual when no rule does). */
function hybridOf(layers: ModelSpec['layers']): ModelSpec['hybrid'] {
  const at = layers.flatMap((l, i) => (l.kind === 'softmax' ? [i] : []))
  const ratio = at.length / layers.length
  if (at.length === 0) return { ratio: 0, placement: 'interleave' }
  for (const placement of ['interleave', 'first', 'last'] as AutoPlacement[])
    if (softmaxPositions(layers.length, ratio, placement).join() === at.join()) return { ratio, placement }
  return { ratio, placement: 'manual' }
}

/** What reading a config gives: the spec, and the naming fla-params.ts needs. */
export interface FlaImport {
  spec: ModelSpec
  layout: FlaLayout
}

/**
 * The ModelSpec of an fla config (config.json parsed), or a FlaConfigError
 * naming the field Linea cannot compute as fla does.
 */
export function modelSpecFromFlaConfig(config: FlaConfig, name?: string): FlaImport {
  if (!isObject(config)) throw new FlaConfigError(`config is ${shown(config)}, not an object with model_type`)
  const type = config.model_type
  if (typeof type !== 'string') throw new FlaConfigError(`config: model_type = ${shown(type)}; valid: ${FLA_MODEL_TYPES.join(', ')}`)
  if (Object.hasOwn(FLA_REFUSED_TYPES, type)) throw new FlaConfigError(`config: model_type '${type}' is refused: ${FLA_REFUSED_TYPES[type]}`)
  if (!(FLA_MODEL_TYPES as readonly string[]).includes(type))
    throw new FlaConfigError(`config: model_type ${shown(type)} is not an fla model Linea reads; valid: ${FLA_MODEL_TYPES.join(', ')}`)
  const t = type as FlaModelType
  const row = FLA_TYPES[t]
  checkFields(t, config, row.fields, row)
  const get = (n: string) => field(config, row, n)
  const d = wholeNumber(t, 'hidden_size', get('hidden_size'))
  const n = wholeNumber(t, 'num_hidden_layers', get('num_hidden_layers'))
  const vocab = wholeNumber(t, 'vocab_size', get('vocab_size'), 2)
  const tie = bool(t, 'tie_word_embeddings', get('tie_word_embeddings'))
  const layout: FlaLayout = { modelType: t, root: t === 'mamba2' ? 'backbone' : 'model' }

  let linear: LinearLayer | undefined
  let softmax = new Map<number, SoftmaxLayer>()
  // output_norm_weight is left out: absent is 'shared', and only Mamba2 sets it.
  const base = (sw: (typeof LINEAR_SWITCHES)[keyof typeof LINEAR_SWITCHES]): Omit<Switches, 'output_norm_weight'> => ({
    feature_map: sw.feature_map[0]!,
    input_gate: sw.input_gate[0]!,
    forget_gate: sw.forget_gate[0]!,
    delta_rule: sw.delta_rule[0]!,
    denominator: sw.denominator[0]!,
    output_norm: sw.output_norm[0]!,
    shortcut: sw.shortcut[0]!,
    short_conv: sw.short_conv[0]!,
    output_gate: sw.output_gate[0]!,
  })
  const convSize = (flag: boolean, sizeField: string) => {
    if (!flag) return 0
    const w = wholeNumber(t, sizeField, get(sizeField))
    if (w < 2 || w > 64) throw new FlaConfigError(`${t} config: ${sizeField} = ${w}; Linea's short convolution takes 2 to 64`)
    return w
  }
  if (t === 'gla' || t === 'retnet') {
    // GLA and RetNet read the same fields; GLA has a short conv, RetNet rotates q and k.
    const H = wholeNumber(t, 'num_heads', get('num_heads'))
    const fm = get('feature_map')
    let featureMap: LinearLayer['feature_map'] = 'identity'
    if (fm !== null) {
      if (typeof fm !== 'string' || !Object.hasOwn(GLA_FEATURE_MAPS, fm))
        throw new FlaConfigError(`${t} config: feature_map = ${shown(fm)} has no Linea feature map; valid: null, ${Object.keys(GLA_FEATURE_MAPS).join(', ')}`)
      featureMap = GLA_FEATURE_MAPS[fm]!
    }
    const gate = bool(t, 'use_output_gate', get('use_output_gate'))
    linear = {
      kind: 'linear',
      heads: H,
      dk: perHead(t, 'expand_k', d, realNumber(t, 'expand_k', get('expand_k')), H),
      dv: perHead(t, 'expand_v', d, realNumber(t, 'expand_v', get('expand_v')), H),
      ...base(LINEAR_SWITCHES[t]),
      feature_map: featureMap,
      output_gate: gate ? 'swish' : 'none',
      ...(t === 'gla' ? { short_conv: convSize(bool(t, 'use_short_conv', get('use_short_conv')), 'conv_size') } : { rotary: true }),
    }
    layout.glaNorm = gate && bool(t, 'fuse_norm', get('fuse_norm')) ? 'g_norm_swish_gate' : 'g_norm'
  } else if (t === 'delta_net') {
    const H = wholeNumber(t, 'num_heads', get('num_heads'))
    linear = {
      kind: 'linear',
      heads: H,
      dk: perHead(t, 'expand_k', d, realNumber(t, 'expand_k', get('expand_k')), H),
      dv: perHead(t, 'expand_v', d, realNumber(t, 'expand_v', get('expand_v')), H),
      ...base(LINEAR_SWITCHES.delta_net),
      delta_rule: bool(t, 'allow_neg_eigval', get('allow_neg_eigval')) ? 'negative_eigen' : 'on',
      short_conv: convSize(true, 'conv_size'),
      output_gate: bool(t, 'use_gate', get('use_gate')) ? 'swish' : 'none',
    }
  } else if (t === 'gated_deltanet') {
    const H = wholeNumber(t, 'num_heads', get('num_heads'))
    const dk = wholeNumber(t, 'head_dim', get('head_dim'))
    const expandV = realNumber(t, 'expand_v', get('expand_v'))
    const dv = Math.trunc(dk * expandV)
    if (Math.trunc(H * dk * expandV) !== H * dv || dv < 1)
      throw new FlaConfigError(`gated_deltanet config: expand_v ${expandV} with head_dim ${dk} gives no whole value dim per head`)
    linear = {
      kind: 'linear',
      heads: H,
      dk,
      dv,
      ...base(LINEAR_SWITCHES.gated_deltanet),
      delta_rule: bool(t, 'allow_neg_eigval', get('allow_neg_eigval')) ? 'negative_eigen' : 'on',
      short_conv: convSize(true, 'conv_size'),
      output_gate: bool(t, 'use_gate', get('use_gate')) ? 'swish' : 'none',
    }
  } else if (t === 'mamba2') {
    const P = wholeNumber(t, 'head_dim', get('head_dim'))
    const expand = realNumber(t, 'expand', get('expand'))
    const inner = Math.trunc(expand * d)
    const H = Math.trunc((expand * d) / P)
    if (H < 1 || H * P !== inner)
      throw new FlaConfigError(`mamba2 config: expand ${expand} · hidden_size ${d} = ${inner} is not a whole number of heads of head_dim ${P}`)
    if (Object.hasOwn(config, 'num_heads') && config.num_heads !== H)
      throw new FlaConfigError(`mamba2 config: num_heads = ${shown(config.num_heads)}, but expand · hidden_size / head_dim = ${H}`)
    const G = wholeNumber(t, 'n_groups', get('n_groups'))
    if (H % G !== 0) throw new FlaConfigError(`mamba2 config: n_groups ${G} does not divide num_heads ${H}`)
    const rmsnorm = bool(t, 'rmsnorm', get('rmsnorm'))
    if (rmsnorm && !bool(t, 'norm_before_gate', get('norm_before_gate')))
      throw new FlaConfigError(
        `mamba2 config: norm_before_gate = false (fla normalizes y · silu(z)); Linea normalizes before the gate; Linea takes norm_before_gate = true, or rmsnorm = false`,
      )
    if (rmsnorm && G !== H)
      throw new FlaConfigError(
        `mamba2 config: n_groups = ${G} with rmsnorm: fla normalizes groups of ${inner / G} channels, Linea each head's ${P}; Linea takes n_groups = num_heads (${H}), or rmsnorm = false`,
      )
    linear = {
      kind: 'linear',
      heads: H,
      dk: wholeNumber(t, 'state_size', get('state_size')),
      dv: P,
      ...base(LINEAR_SWITCHES.mamba2),
      output_norm: rmsnorm ? 'rmsnorm' : 'none',
      // fla's norm.weight holds one value per inner channel h·head_dim + j: Linea's per-head weight, same order
      ...(rmsnorm ? { output_norm_weight: 'per_head' as const } : {}),
      // fla adds D ⊙ x before its gated norm; without the norm, plain d_skip
      shortcut: rmsnorm ? 'd_skip_before_norm' : 'd_skip',
      short_conv: convSize(true, 'conv_kernel'),
      qk_scale: 1,
    }
    layout.mamba2 = { groups: G, dHasHdim: bool(t, 'D_has_hdim', get('D_has_hdim')) }
  } else if (t === 'linear_attn') {
    const H = wholeNumber(t, 'num_heads', get('num_heads'))
    const fm = get('feature_map')
    if (typeof fm !== 'string' || !Object.hasOwn(LINEAR_ATTN_FEATURE_MAPS, fm))
      throw new FlaConfigError(
        `linear_attn config: feature_map = ${shown(fm)} has no Linea feature map (learned and random-feature maps are not built); valid: ${Object.keys(LINEAR_ATTN_FEATURE_MAPS).join(', ')}`,
      )
    linear = {
      kind: 'linear',
      heads: H,
      dk: perHead(t, 'expand_k', d, realNumber(t, 'expand_k', get('expand_k')), H),
      dv: perHead(t, 'expand_v', d, realNumber(t, 'expand_v', get('expand_v')), H),
      ...base(LINEAR_SWITCHES.linear_attn),
      feature_map: LINEAR_ATTN_FEATURE_MAPS[fm]!,
    }
  } else {
    const H = wholeNumber(t, 'num_heads', get('num_heads'))
    if (d % H !== 0) throw new FlaConfigError(`transformer config: num_heads ${H} does not divide hidden_size ${d}`)
    const w = get('window_size')
    const window = w === null || w === undefined ? null : wholeNumber(t, 'window_size', w)
    softmax = new Map(Array.from({ length: n }, (_, i) => [i, { kind: 'softmax', heads: H, window, rotary: true } as SoftmaxLayer]))
  }
  if (t !== 'mamba2' && t !== 'transformer') softmax = readAttn(t, get('attn'), n, d)

  const layers = Array.from({ length: n }, (_, i) => softmax.get(i) ?? { ...linear! })
  const spec: ModelSpec = {
    format: 'linea.model/1',
    name: name ?? `fla ${t}`,
    description: `Imported from a flash-linear-attention '${t}' checkpoint.`,
    vocab_size: vocab,
    d_model: d,
    block: t === 'mamba2' ? 'mamba' : 'transformer',
    mlp_expansion: t === 'mamba2' ? 0 : mlpExpansion(t, config, row, d),
    tie_embeddings: tie,
    position: layers.some((l) => l.rotary) ? 'rotary' : 'none',
    hybrid: hybridOf(layers),
    layers,
  }
  const checked = validateWith(ModelSpecSchema, spec)
  if (!checked.ok) throw new FlaConfigError(`${t} config maps to a ModelSpec Linea refuses:\n${formatErrors(checked.errors)}`)
  return { spec: checked.value, layout }
}

// ---- writing a config ------------------------------------------------------------

const switchNames = Object.keys(LINEAR_SWITCHES.gla).filter((k) => k !== 'block' && k !== 'qkScale' && k !== 'across') as (keyof Switches)[]

/** Why a linear layer is not the given fla type's ('' when it is). */
function linearMismatch(spec: ModelSpec, layer: LinearLayer, type: keyof typeof LINEAR_SWITCHES): string {
  const row = LINEAR_SWITCHES[type]
  const diffs: string[] = []
  if (spec.block !== row.block) diffs.push(`block '${spec.block}' (needs '${row.block}')`)
  for (const s of switchNames) {
    const allowed = row[s] as readonly unknown[]
    const value = s === 'output_norm_weight' ? outputNormWeight(layer) : s === 'rotary' ? (layer.rotary ?? false) : layer[s]
    if (allowed.includes(value)) continue
    const needs = s === 'short_conv' && allowed.length > 2 ? (allowed.includes(0) ? '0 or 2 to 64' : '2 to 64') : allowed.map(shown).join(' or ')
    diffs.push(`${s} ${shown(value)} (needs ${needs})`)
  }
  const across = row.across?.({ ...layer, output_norm_weight: outputNormWeight(layer) }) ?? ''
  if (across) diffs.push(across)
  if (layer.qk_scale !== row.qkScale) diffs.push(`qk_scale ${layer.qk_scale ?? 'default (dk^-1/2)'} (needs ${row.qkScale ?? 'default'})`)
  return diffs.join(', ')
}

/** fla's expand factor for `total` channels of a d_model, checked to give back exactly int(d · expand) = total. */
function expandOf(what: string, total: number, d: number): number {
  const e = total / d
  if (Math.trunc(d * e) !== total) throw new FlaConfigError(`${what}: ${total} channels are not int(d_model ${d} · expand) for any expand fla would write`)
  return e
}

/**
 * An fla config (as config.json) for a ModelSpec, with the layout fla-params.ts
 * names tensors by; a FlaConfigError saying why when no fla model class
 * computes the spec (then the standalone PyTorch module is the export).
 */
export function flaConfigFromModelSpec(spec: ModelSpec): { config: FlaConfig; layout: FlaLayout } {
  const d = spec.d_model
  const linear = spec.layers.filter((l): l is LinearLayer => l.kind === 'linear')
  const softmax = spec.layers.filter((l): l is SoftmaxLayer => l.kind === 'softmax')
  if (modelPosition(spec) === 'learned') throw new FlaConfigError(`position 'learned': fla's models have no learned position table`)
  for (const [i, l] of spec.layers.entries())
    if (l.kind === 'softmax') {
      if (!l.rotary) throw new FlaConfigError(`layers[${i}]: a softmax layer without rotary; fla's attention always rotates q and k`)
      if (headDims(spec, l).dk * l.heads !== d)
        throw new FlaConfigError(`layers[${i}]: head_dim ${l.head_dim}; fla's attention uses hidden_size / num_heads = ${d / l.heads}`)
      if (l.heads !== softmax[0]!.heads || l.window !== softmax[0]!.window)
        throw new FlaConfigError(`layers[${i}]: softmax layers differ in heads or window; fla's attn entry used here takes one setting`)
    }
  const common: FlaConfig = {
    vocab_size: spec.vocab_size,
    hidden_size: d,
    num_hidden_layers: spec.layers.length,
    tie_word_embeddings: spec.tie_embeddings,
  }
  const blockFields = (): FlaConfig => {
    if (spec.block !== 'transformer' || spec.mlp_expansion <= 0)
      throw new FlaConfigError(`mlp_expansion ${spec.mlp_expansion} with block '${spec.block}': fla's blocks (but Mamba2's) always have a SwiGLU MLP`)
    const hidden = Math.max(1, Math.round(spec.mlp_expansion * d))
    return { hidden_ratio: spec.mlp_expansion, intermediate_size: hidden, hidden_act: 'swish', norm_eps: 1e-6, elementwise_affine: true, fuse_norm: true }
  }
  const attn = (): FlaConfig['attn'] => {
    if (!softmax.length) return null
    const s = softmax[0]!
    return {
      layers: spec.layers.flatMap((l, i) => (l.kind === 'softmax' ? [i] : [])),
      num_heads: s.heads,
      num_kv_heads: s.heads,
      qkv_bias: false,
      window_size: s.window,
      rope_theta: 10000,
    }
  }
  if (!linear.length) {
    const s = softmax[0]!
    return {
      config: {
        model_type: 'transformer',
        ...common,
        ...blockFields(),
        num_heads: s.heads,
        num_kv_heads: null,
        window_size: s.window,
        rope_theta: 10000,
        qkv_bias: false,
        qk_norm: false,
      },
      layout: { modelType: 'transformer', root: 'model' },
    }
  }
  const first = linear[0]!
  linear.forEach((l, j) => {
    if (JSON.stringify(l) !== JSON.stringify(first))
      throw new FlaConfigError(`linear layers differ (the first and linear layer ${j}); an fla config has one setting for all its linear layers`)
  })
  const mismatch = Object.fromEntries((Object.keys(LINEAR_SWITCHES) as (keyof typeof LINEAR_SWITCHES)[]).map((t) => [t, linearMismatch(spec, first, t)]))
  const type = (Object.keys(mismatch) as (keyof typeof LINEAR_SWITCHES)[]).find((t) => mismatch[t] === '')
  if (!type)
    throw new FlaConfigError(
      `no fla model class computes these linear layers: ${Object.entries(mismatch)
        .map(([t, why]) => `${t}: ${why}`)
        .join('; ')}`,
    )
  const { dk, dv } = headDims(spec, first)
  const H = first.heads
  const conv = first.short_conv
  if (type === 'mamba2') {
    if (softmax.length) throw new FlaConfigError(`fla's Mamba2 has no hybrid attention layers (attn); this spec has ${softmax.length}`)
    const expand = expandOf('Mamba2 inner width', H * dv, d)
    return {
      config: {
        model_type: 'mamba2',
        ...common,
        head_dim: dv,
        state_size: dk,
        expand,
        num_heads: H,
        n_groups: H,
        conv_kernel: conv,
        use_bias: false,
        use_conv_bias: false,
        hidden_act: 'silu',
        norm_eps: 1e-6,
        rmsnorm: first.output_norm === 'rmsnorm',
        norm_before_gate: true,
        D_has_hdim: true,
      },
      layout: { modelType: 'mamba2', root: 'backbone', mamba2: { groups: H, dHasHdim: true } },
    }
  }
  const shared = { ...common, ...blockFields(), num_heads: H, attn: attn() }
  if (type === 'gla' || type === 'retnet') {
    // The fields GLA and RetNet share, then each one's own: GLA's conv and gate switches, RetNet's kernel mode.
    const fm = Object.entries(GLA_FEATURE_MAPS).find(([, v]) => v === first.feature_map)?.[0] ?? null
    const gate = first.output_gate === 'swish'
    const name = type === 'gla' ? 'GLA' : 'RetNet'
    const own: FlaConfig =
      type === 'gla' ? { use_short_conv: conv > 0, conv_size: conv > 0 ? conv : 4, clamp_min: null, use_gk: true, use_gv: false } : { attn_mode: 'chunk' }
    return {
      config: {
        model_type: type,
        ...shared,
        expand_k: expandOf(`${name} key width`, H * dk, d),
        expand_v: expandOf(`${name} value width`, H * dv, d),
        num_kv_heads: null,
        feature_map: first.feature_map === 'identity' ? null : fm,
        use_output_gate: gate,
        ...own,
      },
      layout: { modelType: type, root: 'model', glaNorm: gate ? 'g_norm_swish_gate' : 'g_norm' },
    }
  }
  if (type === 'delta_net')
    return {
      config: {
        model_type: 'delta_net',
        ...shared,
        expand_k: expandOf('DeltaNet key width', H * dk, d),
        expand_v: expandOf('DeltaNet value width', H * dv, d),
        use_gate: first.output_gate === 'swish',
        use_short_conv: true,
        conv_size: conv,
        allow_neg_eigval: first.delta_rule === 'negative_eigen',
        use_beta: true,
        use_output_norm: true,
        qk_norm: 'l2',
        qk_activation: 'silu',
      },
      layout: { modelType: 'delta_net', root: 'model' },
    }
  if (type === 'gated_deltanet') {
    const expandV = dv / dk
    if (Math.trunc(dk * expandV) !== dv || Math.trunc(H * dk * expandV) !== H * dv)
      throw new FlaConfigError(`Gated DeltaNet value dim ${dv} is not int(head_dim ${dk} · expand_v) for any expand_v fla would write`)
    return {
      config: {
        model_type: 'gated_deltanet',
        ...shared,
        head_dim: dk,
        expand_v: expandV,
        num_v_heads: null,
        use_gate: first.output_gate === 'swish',
        use_short_conv: true,
        conv_size: conv,
        allow_neg_eigval: first.delta_rule === 'negative_eigen',
      },
      layout: { modelType: 'gated_deltanet', root: 'model' },
    }
  }
  const fm = Object.entries(LINEAR_ATTN_FEATURE_MAPS).find(([, v]) => v === first.feature_map)![0]
  return {
    config: {
      model_type: 'linear_attn',
      ...shared,
      expand_k: expandOf('linear attention key width', H * dk, d),
      expand_v: expandOf('linear attention value width', H * dv, d),
      num_kv_heads: null,
      feature_map: fm,
      tie_feature_map_qk: false,
      norm_q: false,
      norm_k: false,
      norm_feature_map: false,
    },
    layout: { modelType: 'linear_attn', root: 'model' },
  }
}

/**
 * config.json text as Python's json writes it: bare Infinity, -Infinity and
 * NaN (Mamba2's dt_limit) become numbers, and so does transformers 5's
 * encoding of them, {"__float__": "Infinity"}; everything else is plain JSON.
 */
export function parseFlaConfigText(text: string): unknown {
  let out = ''
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (inString) {
      out += c
      if (c === '\\') out += text[++i] ?? ''
      else if (c === '"') inString = false
      continue
    }
    if (c === '"') inString = true
    const rest = text.slice(i, i + 9)
    if (rest.startsWith('-Infinity')) {
      out += '"\\u0000-inf"'
      i += 8
    } else if (rest.startsWith('Infinity')) {
      out += '"\\u0000inf"'
      i += 7
    } else if (rest.startsWith('NaN')) {
      out += '"\\u0000nan"'
      i += 2
    } else out += c
  }
  const special: Record<string, number> = { '\u0000inf': Infinity, '\u0000-inf': -Infinity, '\u0000nan': NaN }
  const floats: Record<string, number> = { Infinity, '-Infinity': -Infinity, NaN }
  const encodedFloat = (value: unknown): number | undefined => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
    const keys = Object.keys(value)
    const text = (value as Record<string, unknown>).__float__
    return keys.length === 1 && typeof text === 'string' && Object.hasOwn(floats, text) ? floats[text] : undefined
  }
  return JSON.parse(out, (_key, value: unknown) => {
    if (typeof value === 'string' && Object.hasOwn(special, value)) return special[value]
    return encodedFloat(value) ?? value
  })
}
