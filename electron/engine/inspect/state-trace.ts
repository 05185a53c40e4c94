// The recurrent state S_t of a linear layer over time, through the layer's
// own op in its recurrent form (shared MATH.md: the reference path, and the
// one that carries the state): the sequence is cut after each step of
// interest, each segment runs from the previous segment's final state, and
// the final state of the segment is S_t.
//   S (1, H, dk, dv)   z (1, H, dk)   m (1, H)
// For the exp input gate the op carries S̃ = e^{−m} S; the true S is reported.
import type { Backend } from '../backend'
import type { LinearMixerTap } from '../model/taps'
import type { Tensor } from '../tensor'
import { toHostSeq, uploadSteps, type HostSeq } from './host-tensors'

export interface StateTrace {
  /** Steps t (sorted) at which the state was read. */
  steps: number[]
  /** ‖S_t‖_F per head at each step: [head][step index]. */
  norms: number[][]
  /** S_t per head (dk × dv row-major) at the steps asked for as snapshots. */
  snapshots: Map<number, Float64Array[]>
}

export async function traceState(backend: Backend, tap: LinearMixerTap, normSteps: readonly number[], snapshotSteps: readonly number[]): Promise<StateTrace> {
  const [, T, H, dk] = tap.q.shape as [number, number, number, number]
  const dv = tap.v.shape[3]!
  const steps = [...new Set([...normSteps, ...snapshotSteps])].filter((t) => t >= 0 && t < T).sort((a, b) => a - b)
  const snapshotSet = new Set(snapshotSteps)
  const host = async (t: Tensor | undefined) => (t ? await toHostSeq(t) : undefined)
  const q = (await host(tap.q))!
  const k = (await host(tap.k))!
  const v = (await host(tap.v))!
  const fixedGate = tap.attrs.gate === 'fixed'
  const g = fixedGate ? undefined : await host(tap.g)
  const i = await host(tap.i)
  const beta = await host(tap.beta)
  const normalized = tap.attrs.normalize !== 'none'
  const stabilized = tap.attrs.input_gate === 'exp'
  const want = ['s_final', ...(normalized ? ['z_final'] : []), ...(stabilized ? ['m_final'] : [])]

  const norms: number[][] = Array.from({ length: H }, () => [])
  const snapshots = new Map<number, Float64Array[]>()
  let carried: { s0?: Tensor; z0?: Tensor; m0?: Tensor } = {}
  let start = 0
  try {
    for (const t of steps) {
      const seg = (x: HostSeq | undefined) => (x ? uploadSteps(backend, x, start, t + 1) : undefined)
      const inputs = { q: seg(q), k: seg(k), v: seg(v), g: fixedGate ? tap.g : seg(g), i: seg(i), beta: seg(beta) }
      let out: Record<string, Tensor>
      try {
        out = backend.run('mixer_fwd', { ...inputs, ...carried }, { ...tap.attrs, form: 'recurrent' }, want)
      } finally {
        for (const [name, x] of Object.entries(inputs)) if (x && !(name === 'g' && fixedGate)) x.dispose()
      }
      out.o!.dispose()
      for (const x of Object.values(carried)) x?.dispose()
      carried = { s0: out.s_final, z0: out.z_final, m0: out.m_final }
      const s = await out.s_final!.read()
      const m = out.m_final ? await out.m_final.read() : undefined
      const heads: Float64Array[] = []
      for (let h = 0; h < H; h++) {
        const scale = m ? Math.exp(m[h]!) : 1
        const state = new Float64Array(dk * dv)
        let sq = 0
        for (let j = 0; j < dk * dv; j++) {
          const x = s[h * dk * dv + j]! * scale
          state[j] = x
          sq += x * x
        }
        norms[h]!.push(Math.sqrt(sq))
        heads.push(state)
      }
      if (snapshotSet.has(t)) snapshots.set(t, heads)
      start = t + 1
    }
  } finally {
    for (const x of Object.values(carried)) x?.dispose()
  }
  return { steps, norms, snapshots }
}
