// Tensors no gradient flows into: frozen parameters such as RetNet's fixed
// decays (ParamStore marks them). A backward step asks its op for no
// gradient of such an input, so kernels skip work (a fixed gate's dg is a
// sum over every step) and the gradient is never accumulated.
import type { Tensor } from '../tensor'

const frozen = new WeakSet<Tensor>()

/** Marks `t` as a constant of every pass: it gets no gradient. */
export function markNoGrad(t: Tensor): void {
  frozen.add(t)
}

/** False for tensors marked by markNoGrad. */
export function needsGrad(t: Tensor): boolean {
  return !frozen.has(t)
}
