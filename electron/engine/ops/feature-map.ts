// Typed entry to the feature-map ops (feature_map_fwd, feature_map_bwd).
// x (B, T, H, D) -> y (B, T, H, E); E = D, except taylor2: E = 1 + D + D².
import type { Backend } from '../backend'
import type { Tensor } from '../tensor'

/** Kernel kinds. The ModelSpec's 'l2norm' (DeltaNet: l2norm after silu) is 'silu_l2norm' here. */
export type FeatureMapKind = 'identity' | 'elu1' | 'relu' | 'silu' | 'l2norm' | 'silu_l2norm' | 'taylor2'

export interface FeatureMapOptions {
  kind: FeatureMapKind
  /** Added under the square root of the l2 norms; default 1e-6. */
  eps?: number
}

export function featureMapForward(backend: Backend, x: Tensor, options: FeatureMapOptions): Tensor {
  return backend.run('feature_map_fwd', { x }, { kind: options.kind, eps: options.eps ?? 1e-6 }).y!
}

export function featureMapBackward(backend: Backend, x: Tensor, dy: Tensor, options: FeatureMapOptions): Tensor {
  return backend.run('feature_map_bwd', { x, dy }, { kind: options.kind, eps: options.eps ?? 1e-6 }).dx!
}
