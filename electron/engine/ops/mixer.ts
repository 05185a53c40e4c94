// Typed entry to the fused linear-attention mixer ops of the native op
// table (mixer_fwd, mixer_bwd). Shapes:
//   q, k (B, T, H, dk)   v, o (B, T, H, dv)   s (B, H, dk, dv)   z (B, H, dk)   m (B, H)
//   g: fixed (H), scalar (B, T, H), vector (B, T, H, dk)   i, beta (B, T, H)
import type { Backend } from '../backend'
import type { Tensor } from '../tensor'

export type MixerGate = 'none' | 'fixed' | 'scalar' | 'vector'
export type MixerInputGate = 'none' | 'sigmoid' | 'softplus' | 'exp'
export type MixerNormalize = 'none' | 'sum' | 'max1'

export interface MixerSwitches {
  /** recurrent: one step at a time (reference, decoding); chunked: chunkwise parallel (training). */
  form?: 'recurrent' | 'chunked'
  /** 16..128, a multiple of 16. */
  chunkSize?: number
  gate?: MixerGate
  inputGate?: MixerInputGate
  delta?: boolean
  normalize?: MixerNormalize
  /** Query scale; default dk^-1/2. */
  scale?: number
  eps?: number
}

export interface MixerInputs {
  q: Tensor
  k: Tensor
  v: Tensor
  /** Log forget gate (<= 0), shaped by the gate kind. */
  g?: Tensor
  /** Input-gate pre-activations. */
  i?: Tensor
  /** Delta-rule write strengths. */
  beta?: Tensor
  s0?: Tensor
  z0?: Tensor
  m0?: Tensor
}

export interface MixerForwardOutputs {
  o: Tensor
  sFinal?: Tensor
  zFinal?: Tensor
  mFinal?: Tensor
}

export interface MixerUpstream {
  do: Tensor
  dsFinal?: Tensor
  dzFinal?: Tensor
}

export interface MixerGradients {
  dq: Tensor
  dk: Tensor
  dv: Tensor
  dg?: Tensor
  di?: Tensor
  dbeta?: Tensor
  ds0?: Tensor
  dz0?: Tensor
}

function attrs(s: MixerSwitches) {
  return {
    form: s.form ?? 'chunked',
    chunk_size: s.chunkSize ?? 64,
    gate: s.gate ?? 'none',
    input_gate: s.inputGate ?? 'none',
    delta: s.delta ?? false,
    normalize: s.normalize ?? 'none',
    scale: s.scale ?? 0,
    eps: s.eps ?? 1e-6,
  }
}

function inputs(x: MixerInputs): Record<string, Tensor | undefined> {
  return { q: x.q, k: x.k, v: x.v, g: x.g, i: x.i, beta: x.beta, s0: x.s0, z0: x.z0, m0: x.m0 }
}

/** The final states come back when `finalState` is set (those the switches have). */
export function mixerForward(backend: Backend, x: MixerInputs, switches: MixerSwitches = {}, finalState = false): MixerForwardOutputs {
  const want: string[] = []
  if (finalState) {
    want.push('s_final')
    if ((switches.normalize ?? 'none') !== 'none') want.push('z_final')
    if (switches.inputGate === 'exp') want.push('m_final')
  }
  const out = backend.run('mixer_fwd', inputs(x), attrs(switches), want)
  return { o: out.o!, sFinal: out.s_final, zFinal: out.z_final, mFinal: out.m_final }
}

/** Gradients of every input given; ds0/dz0 also when `initialStateGrad` is set. */
export function mixerBackward(
  backend: Backend,
  x: MixerInputs,
  up: MixerUpstream,
  switches: MixerSwitches = {},
  initialStateGrad = false,
): MixerGradients {
  const want: string[] = []
  if (initialStateGrad || x.s0) want.push('ds0')
  if ((initialStateGrad || x.z0) && (switches.normalize ?? 'none') !== 'none') want.push('dz0')
  const out = backend.run('mixer_bwd', { ...inputs(x), do: up.do, ds_final: up.dsFinal, dz_final: up.dzFinal }, attrs(switches), want)
  return { dq: out.dq!, dk: out.dk!, dv: out.dv!, dg: out.dg, di: out.di, dbeta: out.dbeta, ds0: out.ds0, dz0: out.dz0 }
}
