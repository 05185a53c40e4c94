// The WebGPU driver: holds the device, caches compute pipelines by WGSL source
// and entry point, batches dispatches into one command buffer until a read or
// a synchronize needs the results (or the batch is long), stages the small
// per-dispatch parameter blocks in reused uniform chunks, reads back by
// mapAsync, and surfaces device errors and index errors at those sync points.
//
// Kernels index one element (or row) per invocation of a 1-D grid that may be
// folded into two dimensions: workgroup w = wid.x + wid.y * nwg.x (see grid()).
/// <reference types="@webgpu/types" />
import type { WebGpuDevice } from './device'
import { BufferPool, BufferUsage, type Storage } from './pool'

/** A scalar of a kernel's uniform parameter block. */
export type ParamType = 'u32' | 'i32' | 'f32'

/** A compute kernel: WGSL that declares `struct Params` from `params` (paramsWgsl) at group 0 binding 0, storage at 1... */
export interface Kernel {
  /** For pipeline labels and errors, e.g. "unary_fwd/silu". */
  label: string
  code: string
  entry: string
  params: readonly (readonly [string, ParamType])[]
}

/** The WGSL struct for a parameter list: all 4-byte scalars, so the layout is the declaration order. */
export function paramsWgsl(params: Kernel['params']): string {
  const fields = params.length ? params.map(([name, type]) => `  ${name}: ${type},`).join('\n') : '  unused: u32,'
  return `struct Params {\n${fields}\n}\n@group(0) @binding(0) var<uniform> P: Params;\n`
}

/** A uniform chunk holds this many parameter blocks (one per dispatch). */
const BLOCKS_PER_CHUNK = 256
/** Timestamp queries per query set (WebGPU allows up to 4096). */
const QUERIES_PER_SET = 4096

/**
 * A batch is submitted after this many dispatches even with no read waiting. Until a
 * batch is submitted the GPU has nothing of it to run, so a large batch serializes the
 * host's encoding and the device's work; a small one costs a submission per few
 * dispatches. LINEA_WEBGPU_SUBMIT_BATCH or useSubmitBatch(n) sets it (the benchmark's
 * controls). 1024: on the H200, 128, 32 and 8 trained no faster (2026-12-01, the host
 * was the bound, not the overlap; bench/gpu/README.md).
 */
let submitBatch = positiveOr(Number(process.env.LINEA_WEBGPU_SUBMIT_BATCH), 1024)

/** Sets the dispatches per submitted batch (see submitBatch); returns the previous setting. */
export function useSubmitBatch(dispatches: number): number {
  const was = submitBatch
  submitBatch = positiveOr(dispatches, was)
  return was
}

function positiveOr(n: number, fallback: number): number {
  return Number.isInteger(n) && n > 0 ? n : fallback
}

/** Index-check slots per batch (one per dispatch that checks indices). */
const CHECK_SLOTS = 256
/** Constant buffers kept (constant()). */
const CONSTANTS = 64
/** Bind groups kept; past this the cache starts over. */
const BIND_GROUPS = 8192

interface UniformChunk {
  buffer: GPUBuffer
  data: ArrayBuffer
}

/** Dispatches that check indices: the slot each writes, and the message for the first bad position. */
interface IndexCheck {
  slot: number
  message: (position: number) => string
}

export class WebGpuDriver {
  readonly pool: BufferPool
  private readonly constants = new Map<string, GPUBuffer>()
  private readonly bindGroups = new Map<string, GPUBindGroup>()
  /** Per buffer id, the keys of the bind groups that name it. */
  private readonly bindGroupKeys = new Map<number, string[]>()
  private readonly ids = new WeakMap<object, number>()
  private nextId = 1
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>()
  private readonly byKernel = new WeakMap<Kernel, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>()
  private readonly blockStride: number
  private readonly chunks: UniformChunk[] = []
  private encoder: GPUCommandEncoder | undefined
  private pass: GPUComputePassEncoder | undefined
  /**
   * Op timing with timestamp queries (the profiler): each timed op's passes
   * write its begin (query 2i, on its first pass) and end (2i + 1, on every
   * pass: the last one's stays). Query sets of QUERIES_PER_SET, made as needed.
   */
  private readonly querySets: GPUQuerySet[] = []
  private timedOps = 0
  /** The op being timed (its index), and whether its first pass has begun. */
  private timedOp: { index: number; begun: boolean } | undefined
  private dispatches = 0
  /** While timeKernels runs: the label of each timed dispatch, in order (its queries 2i, 2i + 1). */
  private kernelLabels: string[] | undefined
  private checks: IndexCheck[] = []
  private readonly checkBuffer: GPUBuffer
  /** Staged index-check results of submitted batches, not yet looked at. */
  private pendingChecks: Promise<void>[] = []

  constructor(readonly gpu: WebGpuDevice) {
    this.pool = new BufferPool(gpu, { beforeDestroy: () => this.flush(), destroyed: (b) => this.forget(b) })
    this.blockStride = Math.max(256, gpu.device.limits.minUniformBufferOffsetAlignment)
    this.checkBuffer = gpu.device.createBuffer({
      size: CHECK_SLOTS * 4,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
      label: 'linea index checks',
    })
  }

  get device(): GPUDevice {
    return this.gpu.device
  }

  /** Throws when the device is lost or has reported an error (clears the error). */
  throwIfFailed(): void {
    const failure = this.gpu.takeFailure()
    if (failure) throw failure
    if (this.gpu.lost) throw new Error(`WebGPU device lost on ${this.gpu.info.name}; start a new job`)
  }

  /**
   * The pipeline for a kernel, compiled once per (source, entry). Its layout
   * is read from the source's declarations, not inferred ('auto' drops the
   * bindings an entry point does not use, and a variant that leaves one
   * unused would then reject the buffers its launcher binds).
   */
  pipeline(kernel: Kernel): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    // By kernel object first: a few kilobytes of source would be hashed on every dispatch.
    const known = this.byKernel.get(kernel)
    if (known) return known
    const key = `${kernel.entry}\n${kernel.code}`
    let p = this.pipelines.get(key)
    if (!p) {
      const layout = this.device.createBindGroupLayout({ entries: bindingsOf(kernel.code), label: kernel.label })
      const module = this.device.createShaderModule({ code: kernel.code, label: kernel.label })
      const pipelineLayout = this.device.createPipelineLayout({ bindGroupLayouts: [layout], label: kernel.label })
      const pipeline = this.device.createComputePipeline({ layout: pipelineLayout, compute: { module, entryPoint: kernel.entry }, label: kernel.label })
      p = { pipeline, layout }
      this.pipelines.set(key, p)
    }
    this.byKernel.set(kernel, p)
    return p
  }

  /** How many pipelines are compiled (for tests of the cache). */
  get pipelineCount(): number {
    return this.pipelines.size
  }

  /**
   * A slot for a dispatch that checks indices: the kernel passes it as
   * `check_slot` and records a bad position there (see indexCheckWgsl);
   * the next read or synchronize throws `message(position)` for it.
   */
  indexCheck(message: (position: number) => string): number {
    if (this.checks.length === CHECK_SLOTS) this.flush()
    const enc = this.commandEncoder()
    if (!this.checks.length) {
      this.endPass()
      enc.clearBuffer(this.checkBuffer)
    }
    const slot = this.checks.length
    this.checks.push({ slot, message })
    return slot
  }

  /** The storage buffer index-checking kernels bind (after their tensors). */
  get checkStorage(): GPUBuffer {
    return this.checkBuffer
  }

  /**
   * Encodes one dispatch: `buffers` bind to 1, 2, ... in order (an undefined
   * entry leaves its binding out, for a variant that does not declare it),
   * `params` fill the kernel's Params block.
   */
  dispatch(kernel: Kernel, params: Record<string, number>, buffers: readonly (GPUBuffer | undefined)[], groups: readonly [number, number, number]): void {
    if (groups[0] === 0 || groups[1] === 0 || groups[2] === 0) return
    const { pipeline, layout } = this.pipeline(kernel)
    const { buffer, offset } = this.stageParams(kernel, params)
    if (this.kernelLabels) {
      this.kernelLabels.push(kernel.label)
      this.beginTimedOp()
    }
    const pass = this.computePass()
    pass.setPipeline(pipeline)
    // The parameter block is a dynamic offset, so a bind group depends only on
    // the layout, the uniform chunk and the tensors' buffers: the same each
    // training step, as the pool hands the same buffers out again.
    pass.setBindGroup(0, this.bindGroup(kernel.label, layout, buffer, buffers), [offset])
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2])
    if (this.kernelLabels) this.endTimedOp()
    this.dispatches += 1
    if (this.dispatches >= submitBatch) this.flush()
  }

  /** The cached bind group of a layout, a uniform chunk and storage buffers (created on first use). */
  private bindGroup(label: string, layout: GPUBindGroupLayout, uniform: GPUBuffer, buffers: readonly (GPUBuffer | undefined)[]): GPUBindGroup {
    const ids = [this.idOf(layout), this.idOf(uniform), ...buffers.map((b) => (b ? this.idOf(b) : -1))]
    const key = ids.join(',')
    let group = this.bindGroups.get(key)
    if (group) return group
    if (this.bindGroups.size >= BIND_GROUPS) {
      this.bindGroups.clear()
      this.bindGroupKeys.clear()
    }
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform, offset: 0, size: this.blockStride } }]
    buffers.forEach((b, i) => {
      if (b) entries.push({ binding: i + 1, resource: { buffer: b } })
    })
    group = this.device.createBindGroup({ layout, entries, label })
    this.bindGroups.set(key, group)
    for (const b of buffers) {
      if (!b) continue
      const id = this.idOf(b)
      const keys = this.bindGroupKeys.get(id) ?? []
      keys.push(key)
      this.bindGroupKeys.set(id, keys)
    }
    return group
  }

  /** Drops the bind groups naming a destroyed buffer. */
  private forget(buffer: GPUBuffer): void {
    const id = this.ids.get(buffer)
    if (id === undefined) return
    for (const key of this.bindGroupKeys.get(id) ?? []) this.bindGroups.delete(key)
    this.bindGroupKeys.delete(id)
  }

  private idOf(o: object): number {
    let id = this.ids.get(o)
    if (id === undefined) {
      id = this.nextId++
      this.ids.set(o, id)
    }
    return id
  }

  /**
   * A read-only storage buffer holding `data`, created once per `key` (e.g. a
   * rotary cos table) with mappedAtCreation, so it needs no queue write and
   * does not break the batch. At most CONSTANTS are kept, oldest evicted.
   */
  constant(key: string, make: () => Float32Array): GPUBuffer {
    const hit = this.constants.get(key)
    if (hit) return hit
    if (this.constants.size >= CONSTANTS) {
      // The oldest may be bound by encoded work: submit that work before destroying it.
      this.flush()
      const [oldest, buffer] = this.constants.entries().next().value!
      buffer.destroy()
      this.forget(buffer)
      this.constants.delete(oldest)
    }
    const data = make()
    const buffer = this.device.createBuffer({
      size: Math.max(4, data.byteLength),
      usage: BufferUsage.STORAGE,
      mappedAtCreation: true,
      label: `linea constant ${key}`,
    })
    new Float32Array(buffer.getMappedRange()).set(data)
    buffer.unmap()
    this.constants.set(key, buffer)
    return buffer
  }

  /** Encodes a copy of `bytes` bytes between storage buffers (in batch order); offsets in bytes, multiples of 4. */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    if (bytes === 0) return
    const enc = this.commandEncoder()
    this.endPass()
    enc.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes)
  }

  /**
   * Writes host data into a buffer at its place in the batch order: what was
   * encoded before is submitted first (queue.writeBuffer runs ahead of
   * unsubmitted commands, which may still read the buffer's old contents).
   */
  write(buffer: GPUBuffer, data: ArrayBufferView): void {
    if (this.encoder) this.flush()
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength)
  }

  /** Submits the batch encoded so far. */
  flush(): void {
    if (!this.encoder) return
    this.endPass()
    const used = Math.ceil(this.dispatches / BLOCKS_PER_CHUNK)
    for (let i = 0; i < used; ++i) {
      const chunk = this.chunks[i]!
      const last = i === used - 1 ? this.dispatches - i * BLOCKS_PER_CHUNK : BLOCKS_PER_CHUNK
      this.device.queue.writeBuffer(chunk.buffer, 0, chunk.data, 0, last * this.blockStride)
    }
    let staged: GPUBuffer | undefined
    if (this.checks.length) {
      staged = this.device.createBuffer({ size: CHECK_SLOTS * 4, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'linea index checks (read)' })
      this.encoder.copyBufferToBuffer(this.checkBuffer, 0, staged, 0, CHECK_SLOTS * 4)
    }
    this.device.queue.submit([this.encoder.finish()])
    this.encoder = undefined
    this.dispatches = 0
    if (staged) {
      const check = this.stageChecks(staged, this.checks)
      // Looked at by the next read or synchronize; until then a found error must not count as unhandled.
      check.catch(() => undefined)
      this.pendingChecks.push(check)
    }
    this.checks = []
  }

  /** Copies `bytes` bytes of `storage` to the host once the work before it is done. */
  async read(storage: Storage, bytes: number): Promise<ArrayBuffer> {
    this.throwIfFailed()
    const size = Math.max(4, Math.ceil(bytes / 4) * 4)
    const staging = this.device.createBuffer({ size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'linea read' })
    try {
      if (bytes > 0) {
        const enc = this.commandEncoder()
        this.endPass()
        enc.copyBufferToBuffer(storage.buffer, 0, staging, 0, size)
      }
      this.flush()
      await this.settleChecks()
      await staging.mapAsync(1 /* GPUMapMode.READ */)
      const out = staging.getMappedRange(0, size).slice(0, bytes)
      staging.unmap()
      this.throwIfFailed()
      return out
    } finally {
      staging.destroy()
    }
  }

  /** Waits for everything submitted; throws a device error or an index error found meanwhile. */
  async synchronize(): Promise<void> {
    this.flush()
    await this.device.queue.onSubmittedWorkDone()
    await this.settleChecks()
    this.throwIfFailed()
  }

  private async settleChecks(): Promise<void> {
    const pending = this.pendingChecks
    this.pendingChecks = []
    const results = await Promise.allSettled(pending)
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
  }

  private async stageChecks(staged: GPUBuffer, checks: IndexCheck[]): Promise<void> {
    try {
      await staged.mapAsync(1 /* GPUMapMode.READ */)
      const flags = new Uint32Array(staged.getMappedRange().slice(0))
      staged.unmap()
      for (const c of checks) {
        const v = flags[c.slot]!
        if (v !== 0) throw new Error(c.message(0xffffffff - v))
      }
    } finally {
      staged.destroy()
    }
  }

  private commandEncoder(): GPUCommandEncoder {
    this.throwIfFailed()
    this.encoder ??= this.device.createCommandEncoder({ label: 'linea batch' })
    return this.encoder
  }

  private computePass(): GPUComputePassEncoder {
    const enc = this.commandEncoder()
    if (!this.pass) {
      const op = this.timedOp
      if (op) {
        const set = this.querySets[Math.floor((2 * op.index) / QUERIES_PER_SET)]!
        const at = (2 * op.index) % QUERIES_PER_SET
        this.pass = enc.beginComputePass({
          label: 'linea op (timed)',
          timestampWrites: { querySet: set, ...(op.begun ? {} : { beginningOfPassWriteIndex: at }), endOfPassWriteIndex: at + 1 },
        })
        op.begun = true
      } else this.pass = enc.beginComputePass({ label: 'linea ops' })
    }
    return this.pass
  }

  /** Whether ops can be timed on the device (the adapter has timestamp queries). */
  get canTime(): boolean {
    return this.device.features.has('timestamp-query')
  }

  /** Starts timing one op: its work goes into passes of its own. Returns its index for readTimings. */
  beginTimedOp(): number {
    this.endPass()
    const index = this.timedOps++
    if (2 * index >= this.querySets.length * QUERIES_PER_SET)
      this.querySets.push(this.device.createQuerySet({ type: 'timestamp', count: QUERIES_PER_SET, label: 'linea op times' }))
    this.timedOp = { index, begun: false }
    return index
  }

  /**
   * The device time of every dispatch `encode` makes, each in a pass of its own, summed per
   * kernel label (ms, and the number of dispatches): where an op's time goes, kernel by kernel
   * (the benchmark). Not while ops are being timed: both use the same queries.
   */
  async timeKernels(encode: () => void): Promise<Map<string, { calls: number; ms: number }>> {
    if (this.timedOps > 0 || this.timedOp || this.kernelLabels) throw new Error('timeKernels: ops are being timed already')
    if (!this.canTime) throw new Error(`timeKernels: ${this.gpu.info.name} has no timestamp queries`)
    const labels: string[] = []
    this.kernelLabels = labels
    try {
      encode()
    } finally {
      this.kernelLabels = undefined
    }
    const ns = await this.readTimings()
    const out = new Map<string, { calls: number; ms: number }>()
    labels.forEach((label, i) => {
      const begin = ns[2 * i] ?? 0n
      const end = ns[2 * i + 1] ?? 0n
      const row = out.get(label) ?? { calls: 0, ms: 0 }
      row.calls += 1
      if (begin !== 0n && end >= begin) row.ms += Number(end - begin) / 1e6
      out.set(label, row)
    })
    return out
  }

  /** Forgets the ops timed so far (their queries are written over by the next ones). */
  discardTimings(): void {
    this.timedOps = 0
  }

  endTimedOp(): void {
    this.endPass()
    this.timedOp = undefined
  }

  /**
   * The device times of the ops timed since the last call, in ns as the
   * adapter counts them: [begin, end] per op (0 where an op encoded no pass).
   * Waits for the work; the query sets are then free for the next profile.
   */
  async readTimings(): Promise<BigUint64Array> {
    const count = 2 * this.timedOps
    this.timedOps = 0
    if (count === 0) return new BigUint64Array(0)
    const enc = this.commandEncoder()
    this.endPass()
    const bytes = count * 8
    const resolved = this.device.createBuffer({ size: bytes, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC, label: 'linea op times' })
    const staging = this.device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'linea op times (read)' })
    try {
      for (let first = 0; first < count; first += QUERIES_PER_SET) {
        const n = Math.min(QUERIES_PER_SET, count - first)
        enc.resolveQuerySet(this.querySets[first / QUERIES_PER_SET]!, 0, n, resolved, first * 8)
      }
      enc.copyBufferToBuffer(resolved, 0, staging, 0, bytes)
      this.flush()
      await staging.mapAsync(1 /* GPUMapMode.READ */)
      const out = new BigUint64Array(staging.getMappedRange().slice(0))
      staging.unmap()
      this.throwIfFailed()
      return out
    } finally {
      resolved.destroy()
      staging.destroy()
    }
  }

  private endPass(): void {
    this.pass?.end()
    this.pass = undefined
  }

  private stageParams(kernel: Kernel, params: Record<string, number>): { buffer: GPUBuffer; offset: number } {
    // The dispatch about to be encoded is number `this.dispatches` of the batch.
    const index = this.dispatches
    const chunkIndex = Math.floor(index / BLOCKS_PER_CHUNK)
    while (this.chunks.length <= chunkIndex) {
      const bytes = BLOCKS_PER_CHUNK * this.blockStride
      this.chunks.push({
        buffer: this.device.createBuffer({ size: bytes, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST, label: 'linea params' }),
        data: new ArrayBuffer(bytes),
      })
    }
    const chunk = this.chunks[chunkIndex]!
    const offset = (index % BLOCKS_PER_CHUNK) * this.blockStride
    const view = new DataView(chunk.data, offset, this.blockStride)
    kernel.params.forEach(([name, type], i) => {
      const value = params[name]
      if (value === undefined || (!Number.isFinite(value) && type !== 'f32')) throw new Error(`${kernel.label}: parameter ${name} is ${value}`)
      if (type === 'f32') view.setFloat32(i * 4, value, true)
      else if (type === 'i32') view.setInt32(i * 4, value, true)
      else view.setUint32(i * 4, value, true)
    })
    return { buffer: chunk.buffer, offset }
  }
}

/** The group-0 bindings a WGSL source declares, as layout entries (uniform, read-only storage, storage). */
export function bindingsOf(code: string): GPUBindGroupLayoutEntry[] {
  const entries: GPUBindGroupLayoutEntry[] = []
  for (const m of code.matchAll(/@group\(0\)\s*@binding\((\d+)\)\s*var<([^>]*)>/g)) {
    const space = m[2]!.replace(/\s/g, '')
    const type: GPUBufferBindingType = space === 'uniform' ? 'uniform' : space === 'storage,read_write' ? 'storage' : 'read-only-storage'
    // The uniform parameter block is bound with a dynamic offset (one bind group serves every dispatch).
    entries.push({ binding: Number(m[1]), visibility: 4 /* GPUShaderStage.COMPUTE */, buffer: { type, hasDynamicOffset: type === 'uniform' } })
  }
  return entries.sort((a, b) => a.binding - b.binding)
}

/** Workgroups for `n` invocations of `size` each, folded into two dimensions past the per-dimension limit. */
export function grid(n: number, size: number, maxPerDimension = 65535): [number, number, number] {
  const groups = Math.ceil(n / size)
  if (groups <= maxPerDimension) return [groups, 1, 1]
  const y = Math.ceil(groups / maxPerDimension)
  return [Math.ceil(groups / y), y, 1]
}

/** WGSL: the linear workgroup index of a grid() launch. */
export const GROUP_INDEX_WGSL = `fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }\n`

/**
 * WGSL for kernels that check indices: `flag_bad_index(slot, position)`
 * records the lowest bad position of the dispatch (as 0xffffffff - position,
 * so the largest value wins and 0 means none).
 */
export function indexCheckWgsl(binding: number): string {
  return (
    `@group(0) @binding(${binding}) var<storage, read_write> index_checks: array<atomic<u32>>;\n` +
    `fn flag_bad_index(slot: u32, position: u32) { atomicMax(&index_checks[slot], 0xffffffffu - position); }\n`
  )
}
