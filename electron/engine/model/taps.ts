// What a mixer hands the inspector on each forward: its inputs as the fused
// op saw them and its output, before any output norm or gate.
//   linear:  q, k (B, T, H, dk)  v, o (B, T, H, dv)  g (H) | (B, T, H) | (B, T, H, dk)  i, beta (B, T, H)
//   softmax: q, k (B, T, H, D) after rotary  v, o (B, T, H, D)
import type { MixerFwdAttrs } from '../ops/generated'
import type { Tensor } from '../tensor'

export interface LinearMixerTap {
  kind: 'linear'
  q: Tensor
  k: Tensor
  v: Tensor
  g?: Tensor
  i?: Tensor
  beta?: Tensor
  o: Tensor
  /** The mixer_fwd attributes the layer used, every one of them. */
  attrs: Readonly<Required<MixerFwdAttrs>>
}

export interface SoftmaxTap {
  kind: 'softmax'
  q: Tensor
  k: Tensor
  v: Tensor
  o: Tensor
  window: number
}

export type MixerTap = LinearMixerTap | SoftmaxTap
