// Typed entry to the fused linear-attention mixer op (native op table:
// mixer_fwd). Shapes: q, k (B, T, H, dk); v, o (B, T, H, dv); states (B, H, dk, dv).
import type { Backend } from '../backend'
import type { Tensor } from '../tensor'

export interface MixerForwardInputs {
  q: Tensor
  k: Tensor
  v: Tensor
  /** Initial state; zeros when absent. */
  s0?: Tensor
}

export interface MixerForwardOptions {
  /** Query scale; default dk^-1/2. */
  scale?: number
  /** Also return the state after the last step. */
  finalState?: boolean
}

export interface MixerForwardOutputs {
  o: Tensor
  sFinal?: Tensor
}

export function mixerForward(backend: Backend, inputs: MixerForwardInputs, options: MixerForwardOptions = {}): MixerForwardOutputs {
  const out = backend.run(
    'mixer_fwd',
    { q: inputs.q, k: inputs.k, v: inputs.v, s0: inputs.s0 },
    { form: 'recurrent', scale: options.scale ?? 0 },
    options.finalState ? ['s_final'] : [],
  )
  return { o: out.o!, sFinal: out.s_final }
}
