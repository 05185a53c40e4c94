// Resizes a ModelSpec (a preset, say) to another width, depth or
// vocabulary, keeping its switches: linear layers copy the spec's first
// linear layer, softmax layers its first softmax layer, placed by the
// hybrid rule. Per-head dims stay explicit where the spec had them:
//   - dv (and a softmax layer's head_dim) scale with the width, so the
//     mixer keeps its width relative to the model (Mamba2's 4 heads of dv 64
//     at d_model 128 become dv 32 at 64: heads·dv = 2·d_model, not 4x);
//   - dk stays: where a preset sets it, it is the key size of the state
//     (Mamba2's d_state, Based's feature dim), which those models keep at
//     every width. Scaled down with the width, Mamba2 at d_model 64 (dk 16)
//     stalled on MQAR near 0.25 over 1500 steps; with dk 32 it reached 0.989
//     by step 1000.
import { softmaxPositions } from './hybrid'
import type { Layer, ModelSpec } from './model-spec'

/** An explicit per-head dim scaled by the width ratio, at least 1. */
function scaleDim(dim: number | undefined, ratio: number): number | undefined {
  return dim === undefined ? undefined : Math.max(1, Math.round(dim * ratio))
}

function scaleHeadDims(layer: Layer, ratio: number): void {
  if (ratio === 1) return
  if (layer.kind === 'softmax') {
    if (layer.head_dim !== undefined) layer.head_dim = scaleDim(layer.head_dim, ratio)
    return
  }
  if (layer.dv !== undefined) layer.dv = scaleDim(layer.dv, ratio)
}

export interface ModelSize {
  d_model?: number
  n_layers?: number
  vocab_size?: number
  heads?: number
}

export function resizeModel(spec: ModelSpec, size: ModelSize): ModelSpec {
  const n = size.n_layers ?? spec.layers.length
  const dModel = size.d_model ?? spec.d_model
  const ratio = dModel / spec.d_model
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
    scaleHeadDims(layer, ratio)
    return layer
  })
  return {
    ...structuredClone(spec),
    d_model: dModel,
    vocab_size: size.vocab_size ?? spec.vocab_size,
    layers,
  }
}
