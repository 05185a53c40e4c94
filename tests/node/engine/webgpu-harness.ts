// Shared by the webgpu-*.test.ts files: the WebGPU backend when an adapter
// is found (lavapipe in CI), the CPU oracle, seeded inputs uploaded to both,
// and the relative RMS error the tolerances are stated in.
import { nativeBackend } from '../../../electron/engine/native-backend'
import { Rng } from '../../../electron/engine/random'
import type { HostArray, Tensor } from '../../../electron/engine/tensor'
import { probeWebGpu, type WebGpuBackend } from '../../../electron/engine/webgpu/backend'

export const cpu = nativeBackend('cpu')

const probe = await probeWebGpu()
/** The WebGPU backend, or undefined when this machine has no adapter. */
export const gpu: WebGpuBackend | undefined = probe.adapter ? await (await import('../../../electron/engine/webgpu/backend')).webGpuBackend() : undefined
/** Why the WebGPU tests skip here ('' when they run). */
export const skipReason = probe.adapter ? '' : probe.reason

/**
 * Logs one line when the file's WebGPU tests skip, else the adapter they run
 * on. With LINEA_REQUIRE_WEBGPU=1 (CI, which installs lavapipe) a missing
 * adapter fails the file instead of skipping it.
 */
export function announce(file: string): void {
  if (!gpu && process.env.LINEA_REQUIRE_WEBGPU === '1') throw new Error(`${file}: LINEA_REQUIRE_WEBGPU=1 but ${skipReason}`)
  if (gpu) console.log(`${file}: WebGPU adapter: ${gpu.adapter.name}`)
  else console.log(`${file}: skipped: ${skipReason.split('\n')[0]}`)
}

/** The WebGPU backend; only called inside tests that run when it exists. */
export function theGpu(): WebGpuBackend {
  if (!gpu) throw new Error('no WebGPU adapter')
  return gpu
}

/** n standard normals (scaled, or mapped), as f32. */
export function normals(n: number, seed: number, map: (x: number) => number = (x) => x): Float32Array {
  const rng = new Rng(seed)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = map(rng.normal())
  return out
}

/** n integers in [lo, hi), as i32. */
export function ints(n: number, seed: number, lo: number, hi: number): Int32Array {
  const rng = new Rng(seed)
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = lo + rng.int(hi - lo)
  return out
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

/** ||a - b|| / ||b|| (1e-30 floor), NaN when a and b differ in NaN positions. */
export function relRms(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.NaN
  let num = 0
  let den = 0
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!
    const y = b[i]!
    if (Number.isNaN(x) !== Number.isNaN(y)) return Number.NaN
    if (Number.isNaN(y)) continue
    if (x === y) {
      den += y * y
      continue
    }
    num += (x - y) ** 2
    den += y * y
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30)
}

/** The largest |a - b| / (atol + rtol |b|) over the elements (<= 1 passes). */
export function worstRatio(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): number {
  let worst = 0
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!
    const y = b[i]!
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) !== Number.isNaN(y)) return Number.POSITIVE_INFINITY
      continue
    }
    if (x === y) continue
    worst = Math.max(worst, Math.abs(x - y) / (atol + rtol * Math.abs(y)))
  }
  return worst
}

/** The same host data on the CPU and on the GPU. */
export function both(data: HostArray, shape: readonly number[]): { cpu: Tensor; gpu: Tensor } {
  return { cpu: cpu.upload(data, shape), gpu: theGpu().upload(data, shape) }
}
