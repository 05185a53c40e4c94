// A plain float64 reference of the mixer recurrence (shared MATH.md), one
// head at a time, run with v = the identity so that it returns the mixer's
// matrix M (o = M v) directly. Written from the recurrence, independent of
// the native kernels and of the inspector's one-hot trick.
import type { LinearMixerTap } from '../../../electron/engine/model/taps'

export interface HostTap {
  T: number
  H: number
  dk: number
  q: ArrayLike<number>
  k: ArrayLike<number>
  g?: ArrayLike<number>
  i?: ArrayLike<number>
  beta?: ArrayLike<number>
  attrs: LinearMixerTap['attrs']
}

/** M for head h, T × T row-major (rows are queries). */
export function referenceMatrix(x: HostTap, h: number): Float64Array {
  const { T, H, dk, attrs } = x
  const scale = Number(attrs.scale) || 1 / Math.sqrt(dk)
  const eps = attrs.eps === undefined ? 1e-6 : Number(attrs.eps)
  const S = new Float64Array(dk * T) // dk × (value dim = T)
  const z = new Float64Array(dk)
  const M = new Float64Array(T * T)
  const at = (a: ArrayLike<number>, t: number, d: number) => a[(t * H + h) * dk + d]!
  for (let t = 0; t < T; t++) {
    // decay
    for (let d = 0; d < dk; d++) {
      const g = attrs.gate === 'none' ? 0 : attrs.gate === 'fixed' ? x.g![h]! : attrs.gate === 'scalar' ? x.g![t * H + h]! : x.g![(t * H + h) * dk + d]!
      const a = Math.exp(g)
      for (let c = 0; c < T; c++) S[d * T + c]! *= a
      z[d]! *= a
    }
    const pre = x.i ? x.i[t * H + h]! : 0
    const w =
      attrs.input_gate === 'sigmoid'
        ? 1 / (1 + Math.exp(-pre))
        : attrs.input_gate === 'softplus'
          ? Math.log1p(Math.exp(pre))
          : attrs.input_gate === 'exp'
            ? Math.exp(pre)
            : 1
    if (attrs.delta) {
      const b = x.beta![t * H + h]!
      // S += β k (e_t − Sᵀ k)ᵀ
      const sk = new Float64Array(T)
      for (let d = 0; d < dk; d++) for (let c = 0; c < T; c++) sk[c]! += S[d * T + c]! * at(x.k, t, d)
      for (let d = 0; d < dk; d++) for (let c = 0; c < T; c++) S[d * T + c]! += b * at(x.k, t, d) * ((c === t ? 1 : 0) - sk[c]!)
    } else {
      for (let d = 0; d < dk; d++) {
        S[d * T + t]! += w * at(x.k, t, d)
        z[d]! += w * at(x.k, t, d)
      }
    }
    let qz = 0
    for (let d = 0; d < dk; d++) qz += scale * at(x.q, t, d) * z[d]!
    const denom = attrs.normalize === 'sum' ? qz + eps : attrs.normalize === 'max1' ? Math.max(Math.abs(qz), 1) : 1
    for (let c = 0; c < T; c++) {
      let o = 0
      for (let d = 0; d < dk; d++) o += scale * at(x.q, t, d) * S[d * T + c]!
      M[t * T + c] = o / denom
    }
  }
  return M
}

/** Causal softmax weights of head h (scale D^-1/2, optional window), T × T. */
export function referenceSoftmax(q: ArrayLike<number>, k: ArrayLike<number>, T: number, H: number, D: number, h: number, window: number): Float64Array {
  const M = new Float64Array(T * T)
  for (let t = 0; t < T; t++) {
    const lo = window > 0 ? Math.max(0, t - window + 1) : 0
    const scores: number[] = []
    for (let s = lo; s <= t; s++) {
      let dot = 0
      for (let d = 0; d < D; d++) dot += q[(t * H + h) * D + d]! * k[(s * H + h) * D + d]!
      scores.push(dot / Math.sqrt(D))
    }
    const max = Math.max(...scores)
    const e = scores.map((x) => Math.exp(x - max))
    const sum = e.reduce((a, b) => a + b, 0)
    e.forEach((x, j) => (M[t * T + lo + j] = x / sum))
  }
  return M
}
