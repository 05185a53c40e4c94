// A run's precision as the engine applies it: the dtype of the weights and
// optimizer state, and the dtype each pass computes in. 'bf16' is mixed
// precision: f32 master weights and moments, bf16 activations and matmuls
// (autograd/context.ts casts the weights once per pass), losses and the
// gradient norm in f32 (statistics outputs of the ops).
import type { TrainSpec } from '../api/train-spec'
import type { ComputeDType } from './autograd/context'
import type { FloatDType } from './tensor'

export type Precision = TrainSpec['precision']

export interface PrecisionDTypes {
  /** Weights, their gradients and the optimizer's moments; what checkpoints store. */
  weights: FloatDType
  /** Activations and the ops of each pass. */
  compute: ComputeDType
}

export function precisionDTypes(precision: Precision): PrecisionDTypes {
  return precision === 'bf16' ? { weights: 'f32', compute: 'bf16' } : { weights: precision, compute: precision }
}
