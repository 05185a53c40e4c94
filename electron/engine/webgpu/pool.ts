// Storage buffers for tensors, recycled by size class so that a training step
// that frees and allocates the same shapes every step creates no new buffers.
//
// bytesInUse counts the bytes tensors hold (a tensor of n f32 is 4n bytes,
// as the native backends count), not the rounding of their size class;
// reservedBytes adds the free buffers the pool keeps for reuse.
/// <reference types="@webgpu/types" />
import type { WebGpuDevice } from './device'

/** GPUBufferUsage flags (WebGPU spec values; Node has no global GPUBufferUsage). */
export const BufferUsage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, QUERY_RESOLVE: 0x200 } as const

/** Memory shared by a tensor and its views: freed when the last of them is disposed. */
export interface Storage {
  readonly buffer: GPUBuffer
  /** Bytes the tensor holds (elements x 4). */
  readonly bytes: number
  /** The buffer's size: `bytes` rounded up to its size class. */
  readonly size: number
  /** Tensors (the first and its views) still holding this storage. */
  refs: number
}

/**
 * Free buffers kept beyond this many bytes, or beyond the most the tensors have held at once
 * (their size classes) if that is more, are destroyed, oldest first. A training step frees
 * about its whole working set at its end and allocates it again at the next: with a fixed
 * limit under that set (the H200's Vulkan call of 2026-12-01: 512 MiB, GLA at d 256, B 16,
 * T 512), every step destroyed buffers and created them again, with new bind groups, and
 * createBuffer alone took 22 % of the host's time.
 */
const DEFAULT_FREE_LIMIT = 512 * 2 ** 20
/** LINEA_WEBGPU_POOL_KEEP=fixed or keepWorkingSet(false): the fixed limit alone (the benchmark's control). */
let keepsWorkingSet = process.env.LINEA_WEBGPU_POOL_KEEP !== 'fixed'

/** Whether free buffers up to the tensors' high-water mark are kept; returns the previous setting. */
export function keepWorkingSet(on: boolean): boolean {
  const was = keepsWorkingSet
  keepsWorkingSet = on
  return was
}

/**
 * The buffer size for `bytes`: multiples of 256 up to 4 KiB, then a quarter
 * of the power of two below (at most 25% rounding), so similar sizes share buffers.
 */
export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 4)
  if (b <= 4096) return Math.ceil(b / 256) * 256
  const step = 2 ** Math.floor(Math.log2(b)) / 4
  return Math.ceil(b / step) * step
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>()
  private freeBytes = 0
  private inUse = 0
  private peak = 0
  private live = 0
  /** Sum of the size classes of the storages in use, and its high-water mark. */
  private liveSizes = 0
  private peakLiveSizes = 0
  /** Buffers created over the pool's life (recycled ones are not counted again). */
  private created = 0

  /**
   * `hooks.beforeDestroy` runs before free buffers are destroyed (the driver
   * submits encoded work first: a released buffer may still be bound by it),
   * `hooks.destroyed` after each (the driver forgets bind groups naming it).
   */
  constructor(
    private readonly gpu: WebGpuDevice,
    private readonly hooks: { beforeDestroy?: () => void; destroyed?: (buffer: GPUBuffer) => void } = {},
    private readonly freeLimit = DEFAULT_FREE_LIMIT,
  ) {}

  /** A storage of `bytes` (a recycled buffer when one of its size class is free). `what` names it in errors. */
  acquire(bytes: number, what: string): Storage {
    const max = this.gpu.info.limits.maxStorageBufferBindingSize
    if (bytes > max)
      throw new Error(`${what}: ${bytes} bytes is larger than this WebGPU adapter binds (maxStorageBufferBindingSize ${max}, ${this.gpu.info.name})`)
    // A bind group binds the whole buffer, so its size class may not round past the limit
    // (NVIDIA's Vulkan driver binds 2^31 - 4 bytes: 2 GiB itself is refused).
    const size = Math.min(sizeClass(bytes), max - (max % 4))
    let buffer = this.free.get(size)?.pop()
    if (buffer) this.freeBytes -= size
    else buffer = this.create(size, what)
    this.inUse += bytes
    this.live += 1
    this.liveSizes += size
    this.peakLiveSizes = Math.max(this.peakLiveSizes, this.liveSizes)
    this.peak = Math.max(this.peak, this.inUse)
    return { buffer, bytes, size, refs: 1 }
  }

  /** Drops one reference; the last returns the buffer to the pool. */
  release(storage: Storage): void {
    storage.refs -= 1
    if (storage.refs > 0) return
    this.inUse -= storage.bytes
    this.live -= 1
    this.liveSizes -= storage.size
    const list = this.free.get(storage.size) ?? []
    list.push(storage.buffer)
    this.free.set(storage.size, list)
    this.freeBytes += storage.size
    const keep = keepsWorkingSet ? Math.max(this.freeLimit, this.peakLiveSizes) : this.freeLimit
    if (this.freeBytes > keep) this.trim(keep)
  }

  /** Destroys free buffers until at most `keepBytes` are kept (0: all). */
  trim(keepBytes = 0): void {
    if (this.freeBytes <= keepBytes) return
    this.hooks.beforeDestroy?.()
    for (const [size, list] of this.free) {
      while (list.length && this.freeBytes > keepBytes) {
        const buffer = list.shift()!
        buffer.destroy()
        this.hooks.destroyed?.(buffer)
        this.freeBytes -= size
      }
      if (!list.length) this.free.delete(size)
      if (this.freeBytes <= keepBytes) break
    }
  }

  /** Buffers created so far: flat from one training step to the next once the pool has warmed. */
  get buffersCreated(): number {
    return this.created
  }

  memory(): { bytesInUse: number; peakBytes: number; reservedBytes: number; allocations: number } {
    return { bytesInUse: this.inUse, peakBytes: this.peak, reservedBytes: this.reserved(), allocations: this.live }
  }

  resetPeak(): void {
    this.peak = this.inUse
  }

  private reserved(): number {
    return this.freeBytes + this.liveSizes
  }

  private create(size: number, what: string): GPUBuffer {
    const { device } = this.gpu
    device.pushErrorScope('out-of-memory')
    const buffer = device.createBuffer({ size, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, label: what })
    this.created += 1
    const inUse = this.inUse
    device
      .popErrorScope()
      .then((err) => {
        if (err)
          this.gpu.fail(new Error(`WebGPU out of memory on ${this.gpu.info.name}: ${what} asked for ${size} bytes with ${inUse} bytes in use (${err.message})`))
      })
      .catch((err: unknown) => this.gpu.fail(err instanceof Error ? err : new Error(String(err))))
    return buffer
  }
}
