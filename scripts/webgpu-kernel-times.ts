// Where WebGPU ops' time goes, kernel by kernel (WebGpuDriver.timeKernels: each
// dispatch in a timed pass of its own), for scripts/gpu-webgpu-bench.ts:
//
// 1. The products of a training step's projections, y = x W, then dx and dw, at
//    rows N = batch x T of the benchmark's models (d_model 256), under each matmul
//    variant: the default, every tile staged along k (the control for staging by
//    layout), the 128 x 128 tile, pipelined products (at both tiles), no split sums; then with f16
//    operands (precision f16's products: on subgroup matrices where the device has them, with the
//    portable f16 kernel beside them as the control). Timed away from the training loop,
//    whose steps drifted by more than the variants differ.
// 2. The mixer's forward and backward at a training shape, per kernel (the delta rule also
//    with its scans staged in workgroup memory, kernels/mixer_delta_scan_staged.ts).
//
// Each figure is the median over REPEATS of the kernels' summed device time.
import type { Tensor } from '../electron/engine/tensor'
import type { WebGpuBackend } from '../electron/engine/webgpu/backend'
import { useDeltaStaging, useLayoutStaging, useMatmulPipeline, useMatmulTile, useSplitK, useSubgroupMatrixProducts } from '../electron/engine/webgpu/ops'

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** A matmul variant: how to switch it on, returning how to switch it back. */
const VARIANTS: Record<string, () => () => void> = {
  default: () => () => {},
  along_k: () => {
    const was = useLayoutStaging(false)
    return () => useLayoutStaging(was)
  },
  tile128: () => {
    const was = useMatmulTile(128)
    return () => useMatmulTile(was)
  },
  pipelined: () => {
    const was = useMatmulPipeline(true)
    return () => useMatmulPipeline(was)
  },
  pipelined128: () => {
    const wasPipeline = useMatmulPipeline(true)
    const wasTile = useMatmulTile(128)
    return () => {
      useMatmulTile(wasTile)
      useMatmulPipeline(wasPipeline)
    }
  },
  no_split_k: () => {
    const was = useSplitK(false)
    return () => useSplitK(was)
  },
}

export interface KernelRow {
  kernels: Record<string, { calls: number; ms: number }>
  totalMs: number
}

/** Median total ms of `run`'s dispatches over `repeats` (after one warm-up), and the per-kernel split of the median repeat. */
async function kernelTimes(gpu: WebGpuBackend, run: () => Tensor[], repeats: number): Promise<KernelRow> {
  for (const t of run()) t.dispose()
  await gpu.synchronize()
  const rows: KernelRow[] = []
  for (let r = 0; r < repeats; r++) {
    let outs: Tensor[] = []
    const times = await gpu.driver.timeKernels(() => {
      outs = run()
    })
    for (const t of outs) t.dispose()
    const kernels = Object.fromEntries([...times].map(([label, t]) => [label, { calls: t.calls, ms: Math.round(t.ms * 1000) / 1000 }]))
    rows.push({ kernels, totalMs: [...times.values()].reduce((s, t) => s + t.ms, 0) })
  }
  rows.sort((a, b) => a.totalMs - b.totalMs)
  const mid = rows[Math.floor(rows.length / 2)]!
  return { kernels: mid.kernels, totalMs: Math.round(median(rows.map((r) => r.totalMs)) * 1000) / 1000 }
}

const all = (o: Record<string, Tensor | undefined>) => Object.values(o).filter((t): t is Tensor => t !== undefined)

/** linear_fwd and linear_bwd of x (N, K) and W (K, M) under every variant. */
export async function productTimes(gpu: WebGpuBackend, shapes: [number, number, number][], repeats: number): Promise<unknown[]> {
  const rows: unknown[] = []
  for (const [N, K, M] of shapes) {
    const fill = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i * 0.37))
    const x = gpu.upload(fill(N * K, 1), [N, K])
    const w = gpu.upload(
      fill(K * M, 2).map((v) => v / Math.sqrt(K)),
      [K, M],
    )
    const dy = gpu.upload(fill(N * M, 3), [N, M])
    const row: Record<string, unknown> = { N, K, M }
    for (const [name, on] of Object.entries(VARIANTS)) {
      const off = on()
      try {
        row[name] = {
          fwd: await kernelTimes(gpu, () => all(gpu.run('linear_fwd', { x, w })), repeats),
          bwd: await kernelTimes(gpu, () => all(gpu.run('linear_bwd', { x, w, dy })), repeats),
        }
      } finally {
        off()
      }
    }
    // f16 operands: the subgroup matrices where the device has them, and the portable f16 kernel.
    const half = (t: Tensor) => gpu.run('cast', { x: t }, { to: 'f16' }).y!
    const [xh, wh, dyh] = [half(x), half(w), half(dy)]
    const f16Variants = gpu.driver.gpu.info.subgroupMatrix ? { f16_subgroup_matrix: true, f16_portable: false } : { f16_portable: false }
    for (const [name, units] of Object.entries(f16Variants)) {
      const was = useSubgroupMatrixProducts(units)
      try {
        row[name] = {
          fwd: await kernelTimes(gpu, () => all(gpu.run('linear_fwd', { x: xh, w: wh })), repeats),
          bwd: await kernelTimes(gpu, () => all(gpu.run('linear_bwd', { x: xh, w: wh, dy: dyh })), repeats),
        }
      } finally {
        useSubgroupMatrixProducts(was)
      }
    }
    for (const t of [x, w, dy, xh, wh, dyh]) t.dispose()
    const ms = (v: string, d: 'fwd' | 'bwd') => (row[v] as Record<string, KernelRow>)[d]!.totalMs.toFixed(2)
    console.log(
      `products ${N}x${K}x${M}: ` +
        [...Object.keys(VARIANTS), ...Object.keys(f16Variants)].map((v) => `${v} fwd ${ms(v, 'fwd')} bwd ${ms(v, 'bwd')} ms`).join('; '),
    )
    rows.push(row)
  }
  return rows
}

/** mixer_fwd and mixer_bwd per kernel: B, T, H heads of K = V = D, the gate and the delta rule as given. */
export async function mixerKernelTimes(
  gpu: WebGpuBackend,
  kind: { name: string; gate: 'none' | 'scalar' | 'vector'; delta: boolean; stagedScans?: boolean },
  [B, T, H, D]: [number, number, number, number],
  repeats: number,
): Promise<unknown> {
  const was = useDeltaStaging(kind.stagedScans ?? false)
  try {
    return await mixerKernelRow(gpu, kind, [B, T, H, D], repeats)
  } finally {
    useDeltaStaging(was)
  }
}

async function mixerKernelRow(
  gpu: WebGpuBackend,
  kind: { name: string; gate: 'none' | 'scalar' | 'vector'; delta: boolean },
  [B, T, H, D]: [number, number, number, number],
  repeats: number,
): Promise<unknown> {
  let seed = 10
  const values = (n: number, f: (v: number) => number = (v) => v) => {
    seed += 1
    return Float32Array.from({ length: n }, (_, i) => f(Math.sin(seed * 7.1 + i * 0.61)))
  }
  const fill = (shape: number[], f?: (v: number) => number) =>
    gpu.upload(
      values(
        shape.reduce((a, b) => a * b, 1),
        f,
      ),
      shape,
    )
  // The delta rule's keys with each row l2-normalized, as its feature map leaves them.
  const keys = values(B * T * H * D)
  if (kind.delta)
    for (let r = 0; r < B * T * H; r++) {
      const row = keys.subarray(r * D, (r + 1) * D)
      const norm = Math.sqrt(row.reduce((s, v) => s + v * v, 0)) || 1
      for (let i = 0; i < D; i++) row[i]! /= norm
    }
  const inputs: Record<string, Tensor | undefined> = {
    q: fill([B, T, H, D]),
    k: gpu.upload(keys, [B, T, H, D]),
    v: fill([B, T, H, D]),
    g:
      kind.gate === 'scalar'
        ? fill([B, T, H], (v) => -0.05 * Math.abs(v))
        : kind.gate === 'vector'
          ? fill([B, T, H, D], (v) => -0.05 * Math.abs(v))
          : undefined,
    beta: kind.delta ? fill([B, T, H], (v) => 1 / (1 + Math.exp(-v))) : undefined,
  }
  const dO = fill([B, T, H, D])
  const attrs = { form: 'chunked', gate: kind.gate, delta: kind.delta }
  const row = {
    kind: kind.name,
    B,
    T,
    H,
    dk: D,
    dv: D,
    fwd: await kernelTimes(gpu, () => all(gpu.run('mixer_fwd', inputs, attrs)), repeats),
    bwd: await kernelTimes(gpu, () => all(gpu.run('mixer_bwd', { ...inputs, do: dO }, attrs)), repeats),
  }
  for (const t of [...all(inputs), dO]) t.dispose()
  const top = (r: KernelRow) =>
    Object.entries(r.kernels)
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 5)
      .map(([label, t]) => `${label} ${t.ms.toFixed(2)}`)
      .join(', ')
  console.log(
    `kernels ${kind.name} ${B}x${T}x${H}x${D}: fwd ${row.fwd.totalMs.toFixed(2)} ms (${top(row.fwd)}); bwd ${row.bwd.totalMs.toFixed(2)} ms (${top(row.bwd)})`,
  )
  return row
}
