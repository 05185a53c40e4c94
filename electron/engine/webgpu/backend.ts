// The WebGPU backend: the Backend interface over the driver (driver.ts) and
// the WGSL kernels (kernels/), f32 storage (i32 for index tensors) and f16
// (two to a 32-bit word) for mixed precision's activations. Every
// call is planned by the addon's planOp first, so shapes, attributes,
// defaults and output sizes follow the one op table exactly as on the CPU
// and CUDA; webGpuRefusal then says which valid calls have no kernel here.
//
// Ops are encoded, not run, by run(): results exist once a read or a
// synchronize has flushed the batch. Device errors and index errors (an id
// outside a table) found meanwhile are thrown there.
import { loadAddon, type LineaAddon, type NativeOpPlan, type NativeTensorDesc } from '../addon'
import { PlanCache } from './plan_cache'
import type { AttrValue, Backend, OpObserver, OpOutputs, OpTiming } from '../backend'
import { Tensor, type DType, type HostArray } from '../tensor'
import type { TracedCall } from '../trace-ops'
import { openWebGpuDevice, type WebGpuAdapterInfo } from './device'
import { grid, WebGpuDriver } from './driver'
import { WG } from './kernels/common'
import { castFromF16Kernel, castToF16Kernel } from './kernels/cast16'
import { fillKernel } from './kernels/fill'
import { f16FromFloat, packF16, unpackF16 } from '../f16'
import { LAUNCHERS, nativeF16, webGpuRefusal, type LaunchContext } from './ops'
import type { Storage } from './pool'

/** What a WebGPU tensor's handle holds: shared storage (views share it) and whether this handle is disposed. */
interface WebGpuHandle {
  storage: Storage
  disposed: boolean
}

type StoredDType = 'f32' | 'i32' | 'f16'

function storedDType(dtype: DType, what: string): StoredDType {
  if (dtype === 'f32' || dtype === 'i32' || dtype === 'f16') return dtype
  throw new Error(`${what}: backend webgpu stores f32, f16 and i32, not ${dtype}; use precision 'f32' or 'f16' on WebGPU`)
}

/** Bytes a tensor of n elements takes: 4 each, f16 2 each in whole 32-bit words. */
const bytesOf = (dtype: StoredDType, n: number): number => (dtype === 'f16' ? 4 * Math.ceil(n / 2) : 4 * n)

function dtypeOfHost(data: HostArray): DType {
  return data instanceof Float32Array ? 'f32' : data instanceof Int32Array ? 'i32' : 'f64'
}

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

export class WebGpuBackend implements Backend {
  readonly id = 'webgpu'
  readonly kind = 'webgpu' as const
  private readonly addon: LineaAddon
  /** The addon's plans of calls seen before (plan_cache.ts). */
  private readonly plans: PlanCache
  private observer: OpObserver | undefined
  /** Timings of observed ops waiting for their timestamp queries (settleTimings). */
  private timings: OpTiming[] = []
  private poison = false

  constructor(readonly driver: WebGpuDriver) {
    this.addon = loadAddon()
    this.plans = new PlanCache((...call) => this.addon.planOp(...call))
  }

  /** The adapter's name, features and limits (engine info, error messages). */
  get adapter(): WebGpuAdapterInfo {
    return this.driver.gpu.info
  }

  upload(data: HostArray, shape: readonly number[]): Tensor {
    const dtype = storedDType(dtypeOfHost(data), 'upload')
    if (sizeOf(shape) !== data.length) throw new Error(`upload: shape [${shape.join(', ')}] holds ${sizeOf(shape)} values, the data has ${data.length}`)
    const t = this.allocate(shape, dtype, 'upload')
    this.driver.write(this.storage(t).buffer, data)
    return t
  }

  zeros(shape: readonly number[], dtype: DType): Tensor {
    const t = this.allocate(shape, storedDType(dtype, 'zeros'), 'zeros')
    this.fill(t, 0)
    return t
  }

  view(tensor: Tensor, shape: readonly number[]): Tensor {
    const h = this.handle(tensor, 'view')
    if (sizeOf(shape) !== tensor.size)
      throw new Error(`view: shape [${shape.join(', ')}] holds ${sizeOf(shape)} values, the tensor [${tensor.shape.join(', ')}] has ${tensor.size}`)
    h.storage.refs += 1
    return new Tensor(this, { storage: h.storage, disposed: false } satisfies WebGpuHandle, [...shape], tensor.dtype)
  }

  fill(tensor: Tensor, value: number): void {
    const h = this.handle(tensor, 'fill')
    if (tensor.dtype === 'f16') {
      const half = f16FromFloat(value)
      this.fillBits(h.storage, Math.ceil(tensor.size / 2), (half | (half << 16)) >>> 0)
      return
    }
    const bits = new DataView(new ArrayBuffer(4))
    if (tensor.dtype === 'i32') bits.setInt32(0, value, true)
    else bits.setFloat32(0, value, true)
    this.fillBits(h.storage, tensor.size, bits.getUint32(0, true))
  }

  write(tensor: Tensor, data: HostArray): void {
    const h = this.handle(tensor, 'write')
    const dtype = dtypeOfHost(data)
    // An f16 tensor takes f32 data, rounded to nearest even on the way in (as the addon does for bf16).
    if (dtype !== (tensor.dtype === 'f16' ? 'f32' : tensor.dtype)) throw new Error(`write: the data is ${dtype}, the tensor ${tensor.dtype}`)
    if (data.length !== tensor.size) throw new Error(`write: the data has ${data.length} values, the tensor [${tensor.shape.join(', ')}] ${tensor.size}`)
    this.driver.write(h.storage.buffer, tensor.dtype === 'f16' ? packF16(data) : data)
  }

  async read(tensor: Tensor): Promise<HostArray> {
    const h = this.handle(tensor, 'read')
    const bytes = await this.driver.read(h.storage, bytesOf(storedDType(tensor.dtype, 'read'), tensor.size))
    if (tensor.dtype === 'f16') return unpackF16(new Uint32Array(bytes), tensor.size)
    return tensor.dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes)
  }

  dispose(tensor: Tensor): void {
    const h = tensor.handle as WebGpuHandle
    if (h.disposed) return
    h.disposed = true
    this.driver.pool.release(h.storage)
  }

  supports(op: string, dtype: DType): boolean {
    return (dtype === 'f32' || dtype === 'f16') && op in LAUNCHERS
  }

  run(op: string, inputs: Record<string, Tensor | undefined>, attrs: Record<string, AttrValue | undefined> = {}, outputs: string[] = []): OpOutputs {
    this.driver.throwIfFailed()
    const given = this.gather(op, inputs)
    const plan = this.plans.get(op, given.descs, attrs, outputs)
    // A call with f16 tensors (mixed precision's activations) that has no f16 kernels of its own.
    if ((plan.dtype === 'f16' || plan.outputs.some((o) => o.dtype === 'f16')) && !nativeF16(plan))
      return this.observed(op, inputs, attrs, () => this.throughF32(op, inputs, attrs, outputs, plan))
    const refused = webGpuRefusal(plan)
    if (refused) throw new Error(refused)
    return this.observed(op, inputs, attrs, () => this.launch(plan, given))
  }

  /** The inputs as the plan sees them (shape, dtype) and as a launcher does (storage, size, shape), each checked to be this backend's and alive. */
  private gather(op: string, inputs: Record<string, Tensor | undefined>) {
    const descs: Record<string, NativeTensorDesc> = {}
    const storages: Record<string, Storage> = {}
    const sizes: Record<string, number> = {}
    const shapes: Record<string, readonly number[]> = {}
    for (const [name, t] of Object.entries(inputs)) {
      if (t === undefined) continue
      if (t.backend !== this) throw new Error(`${op}: input ${name} lives on backend ${t.backend.id}, the op runs on ${this.id}`)
      storages[name] = this.handle(t, `${op}: input ${name}`).storage
      descs[name] = { shape: [...t.shape], dtype: t.dtype }
      sizes[name] = t.size
      shapes[name] = t.shape
    }
    return { descs, storages, sizes, shapes }
  }

  /**
   * Encodes one op call. Under an observer (the profiler) the call is timed (on the device with
   * timestamp queries, else the host's time to encode it) and reported once, whatever it encodes
   * inside: an f16 call's conversions and f32 call are its own time, not ops of their own.
   */
  private observed(op: string, inputs: Record<string, Tensor | undefined>, attrs: Record<string, AttrValue | undefined>, encode: () => OpOutputs): OpOutputs {
    const observer = this.observer
    if (!observer) return encode()
    const t0 = performance.now()
    const timed = this.driver.canTime ? this.driver.beginTimedOp() : undefined
    this.observer = undefined
    let out: OpOutputs
    try {
      out = encode()
    } finally {
      this.observer = observer
      if (timed !== undefined) this.driver.endTimedOp()
    }
    // With timestamp queries the device's time, filled in by settleTimings; else the host's time to encode the call.
    const timing = timed !== undefined ? { ms: Number.NaN, startMs: Number.NaN } : { ms: performance.now() - t0 }
    if (timed !== undefined) this.timings.push(timing)
    observer(op, inputs, attrs, out, timing)
    return out
  }

  /** Allocates a planned call's outputs and encodes its launcher (an f16 plan: its own f16 kernels, nativeF16). */
  private launch(plan: NativeOpPlan, given: ReturnType<WebGpuBackend['gather']>): OpOutputs {
    const { op } = plan
    const out: OpOutputs = {}
    const outStorages: Record<string, Storage> = {}
    for (const o of plan.outputs) {
      const t = this.allocate(o.shape, storedDType(o.dtype, `${op}: output ${o.name}`), `${op} ${o.name}`)
      out[o.name] = t
      outStorages[o.name] = this.storage(t)
      if (this.poison)
        if (t.dtype === 'f16') this.fillBits(outStorages[o.name]!, Math.ceil(t.size / 2), 0x7e007e00)
        else this.fillBits(outStorages[o.name]!, t.size, 0x7fc00000)
    }
    const scratch: Storage[] = []
    const context: LaunchContext = {
      driver: this.driver,
      plan,
      inputs: given.storages,
      sizes: given.sizes,
      shapes: given.shapes,
      outputs: outStorages,
      half: plan.dtype === 'f16',
      scratch: (bytes, what) => {
        const s = this.driver.pool.acquire(bytes, what)
        scratch.push(s)
        return s
      },
    }
    try {
      LAUNCHERS[op]!(context)
    } catch (err) {
      for (const t of Object.values(out)) t.dispose()
      throw err
    } finally {
      // Later dispatches are ordered after this call's, so its scratch can be reused at once.
      for (const s of scratch) this.driver.pool.release(s)
    }
    return out
  }

  /**
   * An f16 call (planned as it is by the addon: the op table's rule for a 16-bit call, values in
   * f16, statistics in f32) without f16 kernels of its own: run by the f32 kernels on f32 copies of
   * its f16 inputs, each f16 output rounded from the f32 one. An op without outputs (accumulate)
   * writes into its inputs: their f16 storage gets the f32 copies back. So f16 halves the memory an
   * f16 tensor holds between ops (the activations a backward keeps), not the op's time.
   */
  private throughF32(
    op: string,
    inputs: Record<string, Tensor | undefined>,
    attrs: Record<string, AttrValue | undefined>,
    outputs: string[],
    plan: NativeOpPlan,
  ): OpOutputs {
    if (op === 'cast') {
      const x = inputs.x!
      const y = this.allocate(x.shape, storedDType(plan.outputs[0]!.dtype, 'cast: output y'), 'cast y')
      this.convert(x, y)
      return { y }
    }
    const widened: Record<string, Tensor | undefined> = {}
    try {
      for (const [name, t] of Object.entries(inputs)) widened[name] = t?.dtype === 'f16' ? this.converted(t, 'f32') : t
      const wide = this.run(op, widened, attrs, outputs)
      const out: OpOutputs = {}
      for (const o of plan.outputs) {
        const w = wide[o.name]!
        if (o.dtype !== 'f16') out[o.name] = w
        else {
          out[o.name] = this.converted(w, 'f16')
          w.dispose()
        }
      }
      if (plan.outputs.length === 0) for (const [name, t] of Object.entries(inputs)) if (t?.dtype === 'f16') this.convert(widened[name]!, t)
      return out
    } finally {
      for (const [name, t] of Object.entries(widened)) if (t && t !== inputs[name]) t.dispose()
    }
  }

  /** A new tensor of t's values in dtype `to` (f32 or f16). */
  private converted(t: Tensor, to: 'f32' | 'f16'): Tensor {
    const y = this.allocate(t.shape, to, `cast to ${to}`)
    this.convert(t, y)
    return y
  }

  /** Writes x's values into y, converting between f32 and f16 (the same dtype: a copy). */
  private convert(x: Tensor, y: Tensor): void {
    const from = this.storage(x)
    const to = this.storage(y)
    const n = x.size
    if (x.dtype === y.dtype) this.driver.copy(from.buffer, to.buffer, bytesOf(storedDType(x.dtype, 'cast'), n))
    else if (y.dtype === 'f16') this.driver.dispatch(castToF16Kernel, { n }, [from.buffer, to.buffer], grid(Math.ceil(n / 2), WG))
    else if (x.dtype === 'f16' && y.dtype === 'f32') this.driver.dispatch(castFromF16Kernel, { n }, [from.buffer, to.buffer], grid(n, WG))
    else throw new Error(`cast: backend webgpu converts between f32 and f16, not ${x.dtype} to ${y.dtype}`)
  }

  observe(observer: OpObserver | undefined): void {
    // A new observer starts afresh (a profile cut short by an error leaves timings unread).
    if (observer && !this.observer) {
      this.timings = []
      this.driver.discardTimings()
    }
    this.observer = observer
  }

  /** How an observed op's time is measured: on the device with timestamp queries where the adapter has them. */
  get opTiming(): string {
    return this.driver.canTime ? 'WebGPU timestamp queries (device time per op)' : 'host time to encode each op (no timestamp queries on this adapter)'
  }

  /**
   * Fills the timings of the ops observed since the last call from their
   * timestamp queries: ms their device time, startMs since the first one began.
   */
  async settleTimings(): Promise<void> {
    const timings = this.timings
    this.timings = []
    if (!timings.length) return
    const ns = await this.driver.readTimings()
    let origin: bigint | undefined
    timings.forEach((t, i) => {
      const begin = ns[2 * i] ?? 0n
      const end = ns[2 * i + 1] ?? 0n
      if (begin === 0n || end < begin) {
        // An op that encoded no pass (or whose counter wrapped): no device time.
        t.ms = 0
        t.startMs = Number.NaN
        return
      }
      origin ??= begin
      t.ms = Number(end - begin) / 1e6
      t.startMs = Number(begin - origin) / 1e6
    })
  }

  memory(): { bytesInUse: number; peakBytes: number } {
    const m = this.driver.pool.memory()
    return { bytesInUse: m.bytesInUse, peakBytes: m.peakBytes }
  }

  resetPeak(): void {
    this.driver.pool.resetPeak()
  }

  async synchronize(): Promise<void> {
    await this.driver.synchronize()
  }

  /** Fills every op's outputs with NaN before its kernels run, so an element a kernel forgets shows (tests). */
  setPoisonOutputs(on: boolean): void {
    this.poison = on
  }

  private allocate(shape: readonly number[], dtype: StoredDType, what: string): Tensor {
    const storage = this.driver.pool.acquire(bytesOf(dtype, sizeOf(shape)), what)
    return new Tensor(this, { storage, disposed: false } satisfies WebGpuHandle, [...shape], dtype)
  }

  private fillBits(storage: Storage, n: number, bits: number): void {
    this.driver.dispatch(fillKernel, { n, bits }, [storage.buffer], grid(n, WG))
  }

  private handle(t: Tensor, what: string): WebGpuHandle {
    if (t.backend !== this) throw new Error(`${what}: the tensor lives on backend ${t.backend.id}, not webgpu`)
    const h = t.handle as WebGpuHandle
    if (h.disposed) throw new Error(`${what}: the tensor ${t.toString()} is disposed`)
    return h
  }

  private storage(t: Tensor): Storage {
    return (t.handle as WebGpuHandle).storage
  }
}

let shared: Promise<WebGpuBackend> | undefined

/** The shared WebGPU backend (the first call opens the device); rejects with WebGpuUnavailableError when there is no adapter. */
export function webGpuBackend(): Promise<WebGpuBackend> {
  shared ??= openWebGpuDevice().then((gpu) => new WebGpuBackend(new WebGpuDriver(gpu)))
  // A failed open is not cached: a later call tries again.
  shared.catch(() => {
    shared = undefined
  })
  return shared
}

/** The adapter, or undefined (with the reason) when WebGPU is not available here. */
export async function probeWebGpu(): Promise<{ adapter: WebGpuAdapterInfo } | { adapter: undefined; reason: string }> {
  try {
    return { adapter: (await webGpuBackend()).adapter }
  } catch (err) {
    return { adapter: undefined, reason: (err as Error).message }
  }
}

/**
 * Whether the WebGPU backend takes a traced call: null when it does, else
 * why not. Throws planOp's error for a call the op table itself refuses
 * (as the addon's accepts does for CPU and CUDA). Needs no device.
 */
export function webGpuAccepts(call: TracedCall): string | null {
  return webGpuRefusal(loadAddon().planOp(call.op, call.inputs, call.attrs, call.outputs))
}
