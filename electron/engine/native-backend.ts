// The CPU and CUDA backends, through the native addon.
import { loadAddon, type LineaAddon, type NativeTensor } from './addon'
import type { AttrValue, Backend, OpObserver, OpOutputs, OpTiming, PendingRead } from './backend'
import { dtypeOf, Tensor, type DType, type HostArray } from './tensor'

export class NativeBackend implements Backend {
  readonly kind: 'cpu' | 'cuda'
  private readonly addon: LineaAddon
  private readonly kernels: Set<string>
  private observer: OpObserver | undefined
  /** The event when the observer was set, and each observed op's events and timing to fill. */
  private origin: unknown
  private timed: { timing: OpTiming; start: unknown; end: unknown }[] = []

  constructor(readonly id: string) {
    this.addon = loadAddon()
    const available = this.addon.backends()
    if (!available.includes(id)) throw new Error(`backend '${id}' is not available; available: ${available.join(', ')}`)
    this.kind = id.startsWith('cuda') ? 'cuda' : 'cpu'
    this.kernels = new Set(this.addon.opTable().flatMap((op) => (op.kernels[id] ?? []).map((d) => `${op.name}/${d}`)))
  }

  upload(data: HostArray, shape: readonly number[]): Tensor {
    return this.wrap(new this.addon.Tensor(this.id, dtypeOf(data), [...shape], data))
  }

  zeros(shape: readonly number[], dtype: DType): Tensor {
    const t = this.wrap(new this.addon.Tensor(this.id, dtype, [...shape]))
    this.fill(t, 0)
    return t
  }

  view(tensor: Tensor, shape: readonly number[]): Tensor {
    return this.wrap(this.native(tensor).view([...shape]))
  }

  fill(tensor: Tensor, value: number): void {
    this.native(tensor).fill(value)
  }

  write(tensor: Tensor, data: HostArray): void {
    this.native(tensor).write(data)
  }

  async read(tensor: Tensor): Promise<HostArray> {
    return this.native(tensor).read()
  }

  readSoon(tensor: Tensor): PendingRead {
    const pending = this.native(tensor).readLater()
    return { read: async () => pending.read() }
  }

  dispose(tensor: Tensor): void {
    this.native(tensor).dispose()
  }

  supports(op: string, dtype: DType): boolean {
    return this.kernels.has(`${op}/${dtype}`)
  }

  run(op: string, inputs: Record<string, Tensor | undefined>, attrs: Record<string, AttrValue | undefined> = {}, outputs: string[] = []): OpOutputs {
    const nativeInputs: Record<string, NativeTensor | undefined> = {}
    for (const [name, t] of Object.entries(inputs)) {
      if (t === undefined) continue
      if (t.backend !== this) throw new Error(`${op}: input ${name} lives on backend ${t.backend.id}, the op runs on ${this.id}`)
      nativeInputs[name] = this.native(t)
    }
    const start = this.observer ? this.addon.recordEvent(this.id) : undefined
    const result = this.addon.run(this.id, op, nativeInputs, attrs, outputs)
    const out: OpOutputs = {}
    for (const [name, handle] of Object.entries(result)) out[name] = this.wrap(handle)
    if (this.observer) {
      // Events around the op in the stream: read when the observer is cleared, one wait for all.
      const timing: OpTiming = { ms: NaN, startMs: NaN }
      this.timed.push({ timing, start, end: this.addon.recordEvent(this.id) })
      this.observer(op, inputs, attrs, out, timing)
    }
    return out
  }

  /** How an observed op is timed: events in the backend's stream of work. */
  get opTiming(): string {
    return this.kind === 'cuda' ? 'CUDA events around each op (device time)' : 'the host clock around each op'
  }

  observe(observer: OpObserver | undefined): void {
    this.fillTimings()
    this.observer = observer
    this.origin = observer ? this.addon.recordEvent(this.id) : undefined
  }

  /** The timings of the ops observed so far, from their events (waits for the last). */
  private fillTimings(): void {
    for (const t of this.timed) {
      t.timing.ms = this.addon.eventElapsed(t.start, t.end)
      t.timing.startMs = this.addon.eventElapsed(this.origin, t.start)
    }
    this.timed = []
  }

  resetPeak(): void {
    this.addon.memory(this.id, true)
  }

  memory(): { bytesInUse: number; peakBytes: number } {
    return this.addon.memory(this.id)
  }

  trimCache(): void {
    this.addon.trimCache(this.id)
  }

  async synchronize(): Promise<void> {
    this.addon.synchronize(this.id)
  }

  private wrap(handle: NativeTensor): Tensor {
    return new Tensor(this, handle, handle.shape, handle.dtype)
  }

  private native(t: Tensor): NativeTensor {
    return t.handle as NativeTensor
  }
}

const backends = new Map<string, NativeBackend>()

/** The shared NativeBackend for a backend id ("cpu", "cuda:0"). */
export function nativeBackend(id = 'cpu'): NativeBackend {
  let b = backends.get(id)
  if (!b) {
    b = new NativeBackend(id)
    backends.set(id, b)
  }
  return b
}

/** The addon's handle of a tensor of a native backend (for addon calls outside the op table: NCCL). */
export function nativeTensorOf(t: Tensor): NativeTensor {
  if (!(t.backend instanceof NativeBackend)) throw new Error(`tensor of backend ${t.backend.id} is not a native engine tensor`)
  return t.handle as NativeTensor
}
