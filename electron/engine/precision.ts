// A run's precision as the engine applies it: the dtype of the weights and
// optimizer state, and the dtype each pass computes in. 'bf16' (CUDA) and
// 'f16' (WebGPU) are mixed precision: f32 master weights and moments, 16-bit
// activations (autograd/context.ts casts the weights once per pass), losses
// and the gradient norm in f32 (statistics outputs of the ops). f16 keeps 5
// exponent bits where bf16 keeps f32's 8, so an f16 run scales its loss
// (train/loss-scale.ts) for its gradients to stay above f16's smallest values.
import type { TrainSpec } from '../api/train-spec'
import type { ComputeDType } from './autograd/context'
import type { FloatDType } from './tensor'

/** As a TrainSpec asks for it ('auto' included). */
export type Precision = TrainSpec['precision']
/** As a run computes: 'auto' resolved for its backend. */
export type RunPrecision = Exclude<Precision, 'auto'>

export interface PrecisionDTypes {
  /** Weights, their gradients and the optimizer's moments; what checkpoints store. */
  weights: FloatDType
  /** Activations and the ops of each pass. */
  compute: ComputeDType
}

/** 'auto' is bf16 (mixed precision) on a CUDA device and f32 elsewhere; the rest stay. */
export function resolvePrecision(precision: Precision, backendId: string): RunPrecision {
  if (precision !== 'auto') return precision
  return backendId.startsWith('cuda') ? 'bf16' : 'f32'
}

export function precisionDTypes(precision: RunPrecision): PrecisionDTypes {
  return precision === 'bf16' || precision === 'f16' ? { weights: 'f32', compute: precision } : { weights: precision, compute: precision }
}
