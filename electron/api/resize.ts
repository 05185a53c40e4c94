// Resizes a ModelSpec (a preset, say) to another width, depth or
// vocabulary, keeping its switches: linear layers copy the spec's first
// linear layer, softmax layers its first softmax layer, placed by the
// hybrid rule. Per-head dims stay explicit where the spec had them.
import { softmaxPositions } from './hybrid'
import type { Layer, ModelSpec } from './model-spec'

export interface ModelSize {
  d_model?: number
  n_layers?: number
  vocab_size?: number
  heads?: number
}

export function resizeModel(spec: ModelSpec, size: ModelSize): ModelSpec {
  const n = size.n_layers ?? spec.layers.length
  const linear = spec.layers.find((l) => l.kind === 'linear')
  const softmax = spec.layers.find((l) => l.kind === 'softmax')
  const positions =
    spec.hybrid.placement === 'manual'
      ? spec.layers.flatMap((l, i) => (l.kind === 'softmax' && i < n ? [i] : []))
      : softmaxPositions(n, spec.hybrid.ratio, spec.hybrid.placement)
  const layers: Layer[] = Array.from({ length: n }, (_, i) => {
    const template = positions.includes(i) ? softmax : linear
    if (!template) throw new Error(`${spec.name} has no ${positions.includes(i) ? 'softmax' : 'linear'} layer to copy at layer ${i}`)
    const layer = structuredClone(template)
    if (size.heads !== undefined) layer.heads = size.heads
    return layer
  })
  return {
    ...structuredClone(spec),
    d_model: size.d_model ?? spec.d_model,
    vocab_size: size.vocab_size ?? spec.vocab_size,
    layers,
  }
}
