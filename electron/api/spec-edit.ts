// Pure edits of a ModelSpec for the composer. Every function returns a new
// spec and never adds a field the schema does not know.
import { softmaxPositions, type AutoPlacement } from './hybrid'
import { modelInit, modelPosition, outputNormWeight, type Layer, type LinearLayer, type ModelSpec, type Placement, type SoftmaxLayer } from './model-spec'

export const DEFAULT_LINEAR: LinearLayer = {
  kind: 'linear',
  heads: 2,
  feature_map: 'identity',
  input_gate: 'none',
  forget_gate: 'vector',
  delta_rule: 'off',
  denominator: 'none',
  output_norm: 'rmsnorm',
  shortcut: 'none',
  short_conv: 0,
  output_gate: 'swish',
}

export const DEFAULT_SOFTMAX: SoftmaxLayer = { kind: 'softmax', heads: 2, window: null, rotary: true }

const clone = <T>(x: T): T => structuredClone(x)

function templates(spec: ModelSpec): { linear: LinearLayer; softmax: SoftmaxLayer } {
  const linear = spec.layers.find((l): l is LinearLayer => l.kind === 'linear')
  const softmax = spec.layers.find((l): l is SoftmaxLayer => l.kind === 'softmax')
  return {
    linear: clone(linear ?? { ...DEFAULT_LINEAR, heads: softmax?.heads ?? DEFAULT_LINEAR.heads }),
    softmax: clone(softmax ?? { ...DEFAULT_SOFTMAX, heads: linear?.heads ?? DEFAULT_SOFTMAX.heads }),
  }
}

/**
 * Re-places softmax layers by the spec's ratio and rule over `n` layers. A
 * layer keeps its settings where its kind stays; a layer that changes kind
 * copies the spec's first layer of the new kind.
 */
export function placeLayers(spec: ModelSpec, n = spec.layers.length): ModelSpec {
  const t = templates(spec)
  if (spec.hybrid.placement === 'manual') {
    const layers = Array.from({ length: n }, (_, i) => clone(spec.layers[i] ?? t.linear))
    return withActualRatio({ ...spec, layers })
  }
  const positions = new Set(softmaxPositions(n, spec.hybrid.ratio, spec.hybrid.placement as AutoPlacement))
  const layers: Layer[] = Array.from({ length: n }, (_, i) => {
    const want = positions.has(i) ? 'softmax' : 'linear'
    const current = spec.layers[i]
    if (current && current.kind === want) return clone(current)
    return clone(want === 'softmax' ? t.softmax : t.linear)
  })
  return { ...spec, layers }
}

/** In manual placement the ratio records what the layers are. */
function withActualRatio(spec: ModelSpec): ModelSpec {
  const soft = spec.layers.filter((l) => l.kind === 'softmax').length
  return { ...spec, hybrid: { ...spec.hybrid, ratio: spec.layers.length ? Math.round((soft / spec.layers.length) * 1000) / 1000 : 0 } }
}

export function setLayerCount(spec: ModelSpec, n: number): ModelSpec {
  return placeLayers(spec, Math.max(1, Math.min(512, Math.round(n))))
}

export function setHybrid(spec: ModelSpec, ratio: number, placement: Placement): ModelSpec {
  return placeLayers({ ...spec, hybrid: { ratio: Math.min(1, Math.max(0, ratio)), placement } })
}

/** Positions a learned table gets when the composer turns learned positions on (the run checks refuse a longer task). */
export const DEFAULT_MAX_POSITIONS = 1024

/**
 * Sets a model-wide field (block design keeps the MLP rule: mamba blocks have
 * none; learned positions bring a max_positions, other positions drop it).
 */
export function setModelField<
  K extends 'name' | 'vocab_size' | 'd_model' | 'mlp_expansion' | 'block' | 'tie_embeddings' | 'init' | 'position' | 'max_positions',
>(spec: ModelSpec, field: K, value: ModelSpec[K]): ModelSpec {
  const next = { ...spec, [field]: value }
  if (field === 'block' && value === 'mamba') next.mlp_expansion = 0
  if (field === 'block' && value === 'transformer' && spec.mlp_expansion === 0) next.mlp_expansion = 4
  if (field === 'position' && value === 'learned' && next.max_positions === undefined) next.max_positions = DEFAULT_MAX_POSITIONS
  if (field === 'position' && value !== 'learned') delete next.max_positions
  return next
}

/** Sets one switch of one layer; undefined removes an optional field (dk, dv, head_dim, qk_scale). */
export function setLayerField(spec: ModelSpec, index: number, field: string, value: unknown): ModelSpec {
  const layers = spec.layers.map((l, i) => {
    if (i !== index) return l
    const next = { ...l } as Record<string, unknown>
    if (value === undefined) delete next[field]
    else next[field] = value
    return next as Layer
  })
  return { ...spec, layers }
}

/** Turns a layer into the other kind (manual placement only). */
export function setLayerKind(spec: ModelSpec, index: number, kind: 'linear' | 'softmax'): ModelSpec {
  const t = templates(spec)
  const layers = spec.layers.map((l, i) => (i === index && l.kind !== kind ? clone(kind === 'softmax' ? t.softmax : t.linear) : l))
  return withActualRatio({ ...spec, layers, hybrid: { ...spec.hybrid, placement: 'manual' } })
}

/** Copies one switch of layer `from` to every layer of the same kind. */
export function applyToAll(spec: ModelSpec, from: number, field: string): ModelSpec {
  const source = spec.layers[from] as Record<string, unknown> | undefined
  if (!source) return spec
  const value = source[field]
  const layers = spec.layers.map((l) => {
    if (l.kind !== source.kind) return l
    const next = { ...l } as Record<string, unknown>
    if (value === undefined) delete next[field]
    else next[field] = clone(value)
    return next as Layer
  })
  return { ...spec, layers }
}

/** Moves a layer; auto placement then re-places softmax layers, manual keeps the order. */
export function moveLayer(spec: ModelSpec, from: number, to: number): ModelSpec {
  if (from === to || from < 0 || to < 0 || from >= spec.layers.length || to >= spec.layers.length) return spec
  const layers = [...spec.layers]
  const [moved] = layers.splice(from, 1)
  layers.splice(to, 0, moved!)
  return withActualRatio({ ...spec, layers, hybrid: { ...spec.hybrid, placement: 'manual' } })
}

export function duplicateLayer(spec: ModelSpec, index: number): ModelSpec {
  const layer = spec.layers[index]
  if (!layer) return spec
  const layers = [...spec.layers.slice(0, index + 1), clone(layer), ...spec.layers.slice(index + 1)]
  return withActualRatio({ ...spec, layers, hybrid: { ...spec.hybrid, placement: 'manual' } })
}

export function deleteLayer(spec: ModelSpec, index: number): ModelSpec {
  if (spec.layers.length <= 1 || !spec.layers[index]) return spec
  const layers = spec.layers.filter((_, i) => i !== index)
  return withActualRatio({ ...spec, layers, hybrid: { ...spec.hybrid, placement: 'manual' } })
}

/**
 * Where the spec differs from the preset it started from: model-wide field
 * names, and per layer the switches that differ from the preset's layer of
 * the same kind (its first one), so a resized stack still compares.
 */
export function diffAgainstPreset(spec: ModelSpec, preset: ModelSpec): { model: string[]; layers: string[][] } {
  const model = (['vocab_size', 'd_model', 'block', 'mlp_expansion', 'tie_embeddings', 'max_positions'] as const).filter(
    (k) => JSON.stringify(spec[k]) !== JSON.stringify(preset[k]),
  ) as string[]
  // init and position compare as they take effect: an absent field is its default.
  if (modelInit(spec) !== modelInit(preset)) model.push('init')
  if (modelPosition(spec) !== modelPosition(preset)) model.push('position')
  if (spec.layers.length !== preset.layers.length) model.push('layers')
  if (JSON.stringify(spec.hybrid) !== JSON.stringify(preset.hybrid)) model.push('hybrid')
  const t = templates(preset)
  const layers = spec.layers.map((l) => {
    const ref = (l.kind === 'linear' ? t.linear : t.softmax) as Record<string, unknown>
    const cur = l as Record<string, unknown>
    if (!preset.layers.some((p) => p.kind === l.kind)) return ['kind']
    const keys = new Set([...Object.keys(ref), ...Object.keys(cur)])
    // an absent output_norm_weight is 'shared': compare as it takes effect
    const at = (l: Record<string, unknown>, k: string) => (k === 'output_norm_weight' ? outputNormWeight(l as LinearLayer) : l[k])
    return [...keys].filter((k) => JSON.stringify(at(ref, k)) !== JSON.stringify(at(cur, k)))
  })
  return { model, layers }
}
