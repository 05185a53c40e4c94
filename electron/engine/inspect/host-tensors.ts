// Host copies of a single sequence's tensors (batch 1, time-major) and the
// slices the inspector feeds back to the backend, segment by segment.
import type { Backend } from '../backend'
import type { FloatDType, Tensor } from '../tensor'

/** A (1, T, ...) tensor on the host: `perStep` values per time step. */
export interface HostSeq {
  data: Float32Array | Float64Array
  shape: readonly number[]
  perStep: number
}

export async function toHostSeq(t: Tensor): Promise<HostSeq> {
  if (t.shape[0] !== 1) throw new Error(`the inspector captures one sequence at a time; got batch ${t.shape[0]} in [${t.shape.join(', ')}]`)
  const data = (await t.read()) as Float32Array | Float64Array
  return { data, shape: t.shape, perStep: t.shape.slice(2).reduce((a, b) => a * b, 1) }
}

/** Steps [t0, t1) of a host sequence, uploaded as (1, t1 − t0, ...). */
export function uploadSteps(backend: Backend, x: HostSeq, t0: number, t1: number): Tensor {
  return backend.upload(x.data.subarray(t0 * x.perStep, t1 * x.perStep), [1, t1 - t0, ...x.shape.slice(2)])
}

/** One-hot values (1, T, H, T): v[t, h, s] = [t = s], so a mixer linear in v returns its own matrix. */
export function oneHotValues(backend: Backend, T: number, H: number, dtype: FloatDType): Tensor {
  const eye = dtype === 'f64' ? new Float64Array(T * H * T) : new Float32Array(T * H * T)
  for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) eye[(t * H + h) * T + t] = 1
  return backend.upload(eye, [1, T, H, T])
}

/** Head h of a (1, T, H, D) host sequence as T rows of D values. */
export function headRows(x: HostSeq, h: number): Float64Array[] {
  const [, T, H, D] = x.shape as [number, number, number, number]
  return Array.from({ length: T }, (_, t) => Float64Array.from(x.data.subarray((t * H + h) * D, (t * H + h + 1) * D)))
}
