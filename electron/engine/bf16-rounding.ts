// A backend that runs another one's f32 kernels but rounds every float tensor
// an op takes or gives to bf16, as mixed precision stores it: the control for
// how far a bf16 pass may drift from f32 through a whole model. Statistics
// (a log-sum-exp, an rstd, a loss row: f32 in a bf16 pass) and the ops that
// write in place or keep f32 state (accumulate, the optimizer) are left as
// they are. Kernels still accumulate in f32, as the GPU's do; states a GPU
// kernel keeps in bf16 between its own passes are not modelled, so a real
// bf16 pass may drift somewhat further than this one.
import { loadAddon } from './addon'
import { startRead, type AttrValue, type Backend, type OpObserver, type OpOutputs, type PendingRead } from './backend'
import type { DType, HostArray, Tensor } from './tensor'

/** Ops that update a tensor in place or keep f32 state: never rounded. */
const UNROUNDED_OPS = new Set(['accumulate', 'adamw_step', 'sum_squares', 'cast'])

export class Bf16RoundingBackend implements Backend {
  readonly id: string
  readonly kind: Backend['kind']
  /** Per op, the names of its statistics inputs and outputs (the op table's `stats` flag). */
  private readonly stats = new Map<string, Set<string>>()

  constructor(private readonly inner: Backend) {
    this.id = `${inner.id}+bf16-rounding`
    this.kind = inner.kind
    for (const op of loadAddon().opTable()) this.stats.set(op.name, new Set([...op.inputs, ...op.outputs].filter((s) => s.stats).map((s) => s.name)))
  }

  /** x rounded to bf16 (nearest even) and widened back to f32: a new tensor. */
  private rounded(x: Tensor): Tensor {
    const narrow = this.inner.run('cast', { x }, { to: 'bf16' })['y']!
    try {
      return this.inner.run('cast', { x: narrow }, { to: 'f32' })['y']!
    } finally {
      narrow.dispose()
    }
  }

  run(op: string, inputs: Record<string, Tensor | undefined>, attrs: Record<string, AttrValue | undefined> = {}, outputs: string[] = []): OpOutputs {
    if (UNROUNDED_OPS.has(op)) return this.inner.run(op, inputs, attrs, outputs)
    const stats = this.stats.get(op) ?? new Set<string>()
    const temporaries: Tensor[] = []
    const given: Record<string, Tensor | undefined> = {}
    try {
      for (const [name, t] of Object.entries(inputs)) {
        if (t && t.dtype === 'f32' && !stats.has(name)) {
          const r = this.rounded(t)
          temporaries.push(r)
          given[name] = r
        } else given[name] = t
      }
      const out = this.inner.run(op, given, attrs, outputs)
      for (const [name, t] of Object.entries(out)) {
        if (t.dtype !== 'f32' || stats.has(name)) continue
        out[name] = this.rounded(t)
        t.dispose()
      }
      return out
    } finally {
      for (const t of temporaries) t.dispose()
    }
  }

  upload(data: HostArray, shape: readonly number[]): Tensor {
    return this.inner.upload(data, shape)
  }
  zeros(shape: readonly number[], dtype: DType): Tensor {
    return this.inner.zeros(shape, dtype)
  }
  read(tensor: Tensor): Promise<HostArray> {
    return this.inner.read(tensor)
  }
  readSoon(tensor: Tensor): PendingRead {
    return startRead(tensor) // the tensor is the inner backend's
  }
  dispose(tensor: Tensor): void {
    this.inner.dispose(tensor)
  }
  view(tensor: Tensor, shape: readonly number[]): Tensor {
    return this.inner.view(tensor, shape)
  }
  fill(tensor: Tensor, value: number): void {
    this.inner.fill(tensor, value)
  }
  write(tensor: Tensor, data: HostArray): void {
    this.inner.write(tensor, data)
  }
  supports(op: string, dtype: DType): boolean {
    return this.inner.supports(op, dtype)
  }
  memory(): { bytesInUse: number; peakBytes: number } {
    return this.inner.memory()
  }
  resetPeak(): void {
    this.inner.resetPeak()
  }
  trimCache(): void {
    this.inner.trimCache?.()
  }

  synchronize(): Promise<void> {
    return this.inner.synchronize()
  }
  observe(observer: OpObserver | undefined): void {
    this.inner.observe(observer)
  }
}
