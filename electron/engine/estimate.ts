// Cost estimates of a ModelSpec for the composer: parameters per layer
// (counted by building the model with the training code, shapes only),
// recurrent state or KV-cache bytes per sequence, forward FLOPs per token
// when decoding at a context length, and the same for a softmax Transformer
// of the same width, across context lengths.
import type { LayerEstimate, ModelEstimate, CostAtContext } from '../api/labapi'
import { headDims, type Layer, type ModelSpec } from '../api/model-spec'
import { resizeModel } from '../api/resize'
import type { Backend } from './backend'
import { Model } from './model/model'
import { preset } from '../api/presets'

/** A backend for shape-only models: estimates never touch memory. */
const SHAPES_ONLY: Backend = new Proxy({} as Backend, {
  get(_t, prop) {
    if (prop === 'id') return 'shapes-only'
    if (prop === 'kind') return 'cpu'
    throw new Error(`the shapes-only backend cannot ${String(prop)}`)
  },
})

/** Key/query features per head after the feature map. */
function featureDim(layer: Layer, dk: number): number {
  return layer.kind === 'linear' && layer.feature_map === 'taylor2' ? 1 + dk + dk * dk : dk
}

/** Elements of recurrent state (or KV cache) per sequence for one layer at `context` tokens. */
function layerStateElements(spec: ModelSpec, layer: Layer, context: number): number {
  const { dk, dv } = headDims(spec, layer)
  const H = layer.heads
  if (layer.kind === 'softmax') return 2 * H * dk * Math.min(context, layer.window ?? context)
  const kf = featureDim(layer, dk)
  let n = H * kf * dv
  if (layer.denominator !== 'none') n += H * kf
  if (layer.input_gate === 'exp') n += H
  if (layer.short_conv > 0) n += (layer.short_conv - 1) * H * (2 * dk + dv)
  return n
}

/** Forward FLOPs per token of one block (mixer, MLP, norms) when decoding at `context`. */
function layerFlops(spec: ModelSpec, layer: Layer, context: number): number {
  const d = spec.d_model
  const { dk, dv } = headDims(spec, layer)
  const H = layer.heads
  const norms = 4 * d * (spec.block === 'transformer' && spec.mlp_expansion > 0 ? 2 : 1)
  const mlp = spec.block === 'transformer' && spec.mlp_expansion > 0 ? 6 * d * Math.max(1, Math.round(spec.mlp_expansion * d)) : 0
  if (layer.kind === 'softmax') {
    const attended = Math.min(context, layer.window ?? context)
    return 2 * d * 3 * H * dk + 2 * H * dk * d + 4 * H * dk * attended + norms + mlp
  }
  const kf = featureDim(layer, dk)
  let f = 2 * d * (2 * H * dk + H * dv) + 2 * H * dv * d // q, k, v and output projections
  if (layer.short_conv > 0) f += 2 * layer.short_conv * H * (2 * dk + dv)
  if (layer.forget_gate === 'scalar' || layer.input_gate === 'softplus') f += 2 * d * H
  if (layer.forget_gate === 'vector') f += 2 * d * 16 + 2 * 16 * H * dk
  if (layer.input_gate === 'sigmoid' || layer.input_gate === 'exp') f += 2 * d * H
  if (layer.delta_rule !== 'off') f += 2 * d * H
  if (layer.output_gate === 'swish') f += 2 * d * H * dv
  // the recurrence: write and read, decay, delta's read-before-write, denominator
  f += 4 * H * kf * dv
  if (layer.forget_gate !== 'none') f += H * kf * dv
  if (layer.delta_rule !== 'off') f += 2 * H * kf * dv
  if (layer.denominator !== 'none') f += 4 * H * kf
  return f + norms + mlp
}

/** Trainable parameters per layer, in all and outside the layers; `all` also counts fixed ones (RetNet's decays). */
export function paramCounts(spec: ModelSpec): { perLayer: number[]; total: number; outside: number; all: number } {
  const model = new Model(spec, SHAPES_ONLY, 'f32', 0, false)
  const perLayer = spec.layers.map(() => 0)
  let total = 0
  for (const p of model.params.trainable()) {
    total += p.tensor.size
    const m = /^layers\.(\d+)\./.exec(p.name)
    if (m) perLayer[Number(m[1])]! += p.tensor.size
  }
  const all = model.params.list().reduce((n, p) => n + p.tensor.size, 0)
  return { perLayer, total, outside: total - perLayer.reduce((a, b) => a + b, 0), all }
}

function costAt(spec: ModelSpec, context: number, totalParams: number, bytesPerElement: number) {
  const state = spec.layers.reduce((n, l) => n + layerStateElements(spec, l, context), 0) * bytesPerElement
  const flops = spec.layers.reduce((n, l) => n + layerFlops(spec, l, context), 0) + 2 * spec.d_model * spec.vocab_size
  return { stateBytes: state, flopsPerToken: flops, memoryBytes: totalParams * bytesPerElement + state }
}

/** The softmax Transformer of the same width, depth, vocabulary and MLP. */
export function sameWidthTransformer(spec: ModelSpec): ModelSpec {
  const heads = spec.d_model % 64 === 0 ? spec.d_model / 64 : 1
  const t = resizeModel(preset('transformer'), { d_model: spec.d_model, n_layers: spec.layers.length, vocab_size: spec.vocab_size, heads })
  return { ...t, mlp_expansion: spec.block === 'transformer' ? spec.mlp_expansion : 4, tie_embeddings: spec.tie_embeddings }
}

export const CURVE_CONTEXTS = [256, 1024, 4096, 16384, 65536, 262144, 1048576]

export function estimateModel(spec: ModelSpec, contextLength: number, bytesPerElement = 4): ModelEstimate {
  const counts = paramCounts(spec)
  const layers: LayerEstimate[] = spec.layers.map((layer, index) => ({
    index,
    kind: layer.kind,
    params: counts.perLayer[index]!,
    stateBytes: layerStateElements(spec, layer, contextLength) * bytesPerElement,
    flopsPerToken: layerFlops(spec, layer, contextLength),
  }))
  const transformerSpec = sameWidthTransformer(spec)
  const transformerParams = paramCounts(transformerSpec).total
  const at = (s: ModelSpec, params: number, c: number): CostAtContext => ({ context: c, ...costAt(s, c, params, bytesPerElement) })
  return {
    contextLength,
    bytesPerElement,
    layers,
    embeddingAndHeadParams: counts.outside,
    totalParams: counts.total,
    model: at(spec, counts.total, contextLength),
    transformer: { totalParams: transformerParams, ...at(transformerSpec, transformerParams, contextLength) },
    curve: CURVE_CONTEXTS.map((c) => ({ model: at(spec, counts.total, c), transformer: at(transformerSpec, transformerParams, c) })),
  }
}
