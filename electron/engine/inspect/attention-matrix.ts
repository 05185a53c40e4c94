// The materialized attention of a layer: the T × T matrix M per head with
// o = M v, exactly as the layer's own op computes it. Every mixer of the
// family is linear in v once q, k, gates and β are fixed (denominators,
// decays and the delta rule's corrections depend on k and β only), so
// running the same op with v = the identity (value dim T, v_s = e_s)
// returns M itself: o_t = Σ_s M[t, s] e_s. This works on every backend,
// for the chunked form the layer trains with, and for softmax layers (the
// softmax weights) alike. Cost: one forward with value dim T.
import type { AttentionStats } from '../../api/inspect'
import type { Backend } from '../backend'
import type { MixerTap } from '../model/taps'
import type { FloatDType, Tensor } from '../tensor'
import { oneHotValues } from './host-tensors'

/** M for every head: (H) arrays of T × T, rows are queries. */
export async function attentionMatrices(backend: Backend, tap: MixerTap): Promise<Float64Array[]> {
  const [, T, H] = tap.q.shape as [number, number, number, number]
  const eye = oneHotValues(backend, T, H, tap.q.dtype as FloatDType)
  let out: Record<string, Tensor> | undefined
  try {
    out =
      tap.kind === 'linear'
        ? backend.run('mixer_fwd', { q: tap.q, k: tap.k, v: eye, g: tap.g, i: tap.i, beta: tap.beta }, tap.attrs)
        : backend.run('softmax_attn_fwd', { q: tap.q, k: tap.k, v: eye }, { window: tap.window })
    const o = await out.o!.read()
    return Array.from({ length: H }, (_, h) => {
      const m = new Float64Array(T * T)
      for (let t = 0; t < T; t++) for (let s = 0; s < T; s++) m[t * T + s] = o[(t * H + h) * T + s]!
      return m
    })
  } finally {
    eye.dispose()
    for (const t of Object.values(out ?? {})) t.dispose()
  }
}

/**
 * Per-head summaries of M over queries t = 1..T−1 (row 0 sees only itself),
 * on |M[t, :]| normalized to sum 1 (linear mixers may weigh keys negatively):
 * entropy, mass on key 0 (sinks), mass on the last `window` keys (locality).
 */
export function attentionStats(m: ArrayLike<number>, T: number, window: number): AttentionStats {
  let entropy = 0
  let sink = 0
  let local = 0
  let rows = 0
  for (let t = 1; t < T; t++) {
    let total = 0
    for (let s = 0; s <= t; s++) total += Math.abs(m[t * T + s]!)
    if (!(total > 0)) continue
    let h = 0
    let near = 0
    for (let s = 0; s <= t; s++) {
      const p = Math.abs(m[t * T + s]!) / total
      if (p > 0) h -= p * Math.log(p)
      if (s > t - window) near += p
    }
    entropy += h
    sink += Math.abs(m[t * T]!) / total
    local += near
    rows++
  }
  const mean = (x: number) => (rows ? x / rows : 0)
  return { entropy: mean(entropy), sinkMass: mean(sink), localMass: mean(local), window }
}
