// Typed entry to the short causal depthwise convolution (short_conv_fwd,
// short_conv_bwd). x, y (B, T, C); weight (C, W); bias (C).
import type { Backend } from '../backend'
import type { Tensor } from '../tensor'

export type ConvActivation = 'none' | 'silu'

export interface ShortConvInputs {
  x: Tensor
  weight: Tensor
  bias?: Tensor
}

export function shortConvForward(backend: Backend, inputs: ShortConvInputs, activation: ConvActivation = 'none'): Tensor {
  return backend.run('short_conv_fwd', { x: inputs.x, weight: inputs.weight, bias: inputs.bias }, { activation }).y!
}

export interface ShortConvGradients {
  dx: Tensor
  dweight: Tensor
  /** When a bias was given. */
  dbias?: Tensor
}

export function shortConvBackward(backend: Backend, inputs: ShortConvInputs, dy: Tensor, activation: ConvActivation = 'none'): ShortConvGradients {
  const out = backend.run('short_conv_bwd', { x: inputs.x, weight: inputs.weight, bias: inputs.bias, dy }, { activation })
  return { dx: out.dx!, dweight: out.dweight!, dbias: out.dbias }
}
