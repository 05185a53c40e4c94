// Loads the native engine (linea.node) and describes its JS surface.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { projectRoot } from '../platform/project-root'

export type NativeDType = 'f32' | 'f64' | 'i32' | 'bf16' | 'f16'
export type AttrValue = number | boolean | string

export interface NativeTensor {
  readonly shape: number[]
  readonly dtype: NativeDType
  readonly backend: string
  readonly bytes: number
  readonly disposed: boolean
  read(): Float32Array | Float64Array | Int32Array
  /** Starts the copy after the work enqueued so far; read() waits for that copy only. */
  readLater(): { read(): Float32Array | Float64Array | Int32Array }
  write(data: Float32Array | Float64Array | Int32Array): void
  dispose(): void
  view(shape: number[]): NativeTensor
  fill(value: number): void
}

export interface NativeTensorSig {
  name: string
  shape: string
  optional: boolean
  /** An index tensor (ids, labels, rows): i32 whatever the op's dtype. */
  index: boolean
  /** A statistics tensor (log-sum-exp, rstd, nll, sum of squares): f32 when the op runs in bf16. */
  stats: boolean
  doc: string
}

export interface NativeOpDef {
  name: string
  doc: string
  inputs: NativeTensorSig[]
  outputs: NativeTensorSig[]
  attrs: { name: string; type: 'int' | 'float' | 'bool' | 'enum'; default: AttrValue; choices?: string[]; min?: number; max?: number; doc: string }[]
  dtypes: NativeDType[]
  kernels: Record<string, NativeDType[]>
}

/** An input of a planned call: its shape and dtype, no data. */
export interface NativeTensorDesc {
  shape: number[]
  dtype: NativeDType
}

/** A call checked against the op table without tensors or a backend (the addon's planOp). */
export interface NativeOpPlan {
  op: string
  dtype: NativeDType
  /** Every dim symbol the inputs and attributes bind, e.g. { B: 2, T: 8, H: 4, K: 16, V: 16 }. */
  dims: Record<string, number>
  /** Every attribute, the defaults filled in. */
  attrs: Record<string, AttrValue>
  /** The outputs run would allocate, in signature order. */
  outputs: { name: string; shape: number[]; dtype: NativeDType }[]
}

export interface NativeEngineInfo {
  version: string
  backendsCompiled: string[]
  cudaStatus: string
  /** freeBytes: free device memory now (all processes), where the native backend knows it (CUDA). */
  devices: { backend: 'cpu' | 'cuda'; id: string; index: number; name: string; memoryBytes: number; freeBytes?: number; detail: string }[]
  blas: string
  cpuThreads: number
  compiler: string
  napiVersion: number
}

export interface LineaAddon {
  Tensor: new (backend: string, dtype: NativeDType, shape: number[], data?: Float32Array | Float64Array | Int32Array) => NativeTensor
  info(): NativeEngineInfo
  backends(): string[]
  opTable(): NativeOpDef[]
  run(
    backend: string,
    op: string,
    inputs: Record<string, NativeTensor | undefined>,
    attrs: Record<string, AttrValue | undefined>,
    outputs?: string[],
  ): Record<string, NativeTensor>
  /** Throws the OpError run would throw for the same call. */
  planOp(op: string, inputs: Record<string, NativeTensorDesc | undefined>, attrs: Record<string, AttrValue | undefined>, outputs?: string[]): NativeOpPlan
  /** null when the backend takes the call, else why not; throws planOp's errors for a call the op table refuses. */
  accepts(
    backend: string,
    op: string,
    inputs: Record<string, NativeTensorDesc | undefined>,
    attrs: Record<string, AttrValue | undefined>,
    outputs?: string[],
  ): string | null
  /** cachedBytes: freed memory the backend's cache still holds (0 where it caches nothing). */
  memory(backend: string, resetPeak?: boolean): { bytesInUse: number; peakBytes: number; allocations: number; cachedBytes: number }
  synchronize(backend: string): void
  /** Gives the backend's cached free memory back to the system (the CPU's block cache, the CUDA pool). */
  trimCache(backend: string): void
  /** An opaque event after the work enqueued so far on `backend` (the host clock on the CPU, a CUDA event on a GPU). */
  recordEvent(backend: string): unknown
  /** Milliseconds between two events of one backend; waits for `end`. */
  eventElapsed(start: unknown, end: unknown): number
  setPoisonOutputs(on: boolean): void
  /** Whether the engine was built with NCCL (data parallel over several GPUs). */
  ncclAvailable?(): boolean
  /** A new NCCL unique id (128 bytes); throws where the engine was built without NCCL. */
  ncclUniqueId?(): Uint8Array
  /** Joins the NCCL communicator `id` as `rank` of `world` on a CUDA backend; returns once every rank has joined. */
  ncclCollective?(backend: string, id: Uint8Array, world: number, rank: number): NativeCollective
}

/** One rank's NCCL communicator (native/src/cuda/nccl_collective.cu). */
export interface NativeCollective {
  /** Sums the tensors over the ranks in place, on the communication stream after the work enqueued so far. */
  allReduceSum(tensors: NativeTensor[]): void
  /** The backend's stream waits for every sum enqueued so far (nothing waits on the host). */
  wait(): void
  destroy(): void
}

export class AddonMissingError extends Error {
  constructor(
    readonly tried: string[],
    readonly loaderError?: unknown,
  ) {
    const why = loaderError instanceof Error ? `\nThe loader said: ${loaderError.message}` : ''
    super(
      `Linea's native engine (linea.node) could not be loaded.\nLooked in:\n${tried.map((p) => `  ${p}`).join('\n')}${why}\n` +
        `Build it with: npm run build:native   (needs CMake, a C++17 compiler, OpenBLAS on Linux)`,
    )
    this.name = 'AddonMissingError'
  }
}

/** Where linea.node may be: LINEA_ADDON (and only there when set), the packaged app's resources, the dev build. */
export function addonCandidates(): string[] {
  if (process.env.LINEA_ADDON) return [process.env.LINEA_ADDON]
  const out: string[] = []
  const resources = (process as { resourcesPath?: string }).resourcesPath
  if (resources) out.push(join(resources, 'native', 'linea.node'))
  out.push(join(projectRoot(), 'native', 'build', 'Release', 'linea.node'))
  return out
}

let loaded: LineaAddon | undefined

export function loadAddon(): LineaAddon {
  if (loaded) return loaded
  const candidates = addonCandidates()
  const require = createRequire(import.meta.url)
  for (const path of candidates) {
    if (!existsSync(path)) continue
    try {
      loaded = require(path) as LineaAddon
      return loaded
    } catch (err) {
      throw new AddonMissingError([path], err)
    }
  }
  throw new AddonMissingError(candidates)
}
