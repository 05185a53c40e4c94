// The Backend interface every compute backend implements (CPU and CUDA
// through the native addon, WebGPU through Dawn): memory, copies and ops by
// name from the one op table. The model code above sees only this.
import type { DType, HostArray, Tensor } from './tensor'

export type BackendHandle = unknown
export type AttrValue = number | boolean | string

export interface OpOutputs {
  [name: string]: Tensor
}

/**
 * An op's time where it ran: `ms` its duration, `startMs` its start since
 * the observer was set (absent where the backend times only durations).
 * A GPU backend fills them in when the observer is cleared (observe(undefined)),
 * after waiting once for the device; until then they are NaN.
 */
export interface OpTiming {
  ms: number
  startMs?: number
}

/**
 * Told about every op a backend runs, when it is enqueued (so the caller's
 * scope and phase are those of the op), with its timing. Each backend times
 * its own way: events around the op in its stream (CPU and CUDA, through the
 * addon: the host clock, or CUDA events with no sync per op), or a clock
 * around the call (WebGPU: the host's encoding time).
 */
export type OpObserver = (
  op: string,
  inputs: Record<string, Tensor | undefined>,
  attrs: Record<string, AttrValue | undefined>,
  outputs: OpOutputs,
  timing: OpTiming,
) => void

/** A copy to the host started now (Backend.readSoon): read() waits for it, not for later work. */
export interface PendingRead {
  read(): Promise<HostArray>
}

export interface Backend {
  /** "cpu", "cuda:0", "webgpu" */
  readonly id: string
  readonly kind: 'cpu' | 'cuda' | 'webgpu'

  upload(data: HostArray, shape: readonly number[]): Tensor
  zeros(shape: readonly number[], dtype: DType): Tensor
  read(tensor: Tensor): Promise<HostArray>
  /**
   * Starts copying `tensor` to the host after the work enqueued so far; the
   * read waits for that work only, so a loop can read step k's loss while
   * step k + 1 runs. Optional: startRead falls back to read.
   */
  readSoon?(tensor: Tensor): PendingRead
  dispose(tensor: Tensor): void
  /** A tensor sharing `tensor`'s memory, with another shape of the same size. */
  view(tensor: Tensor, shape: readonly number[]): Tensor
  /** Sets every element to `value`. */
  fill(tensor: Tensor, value: number): void
  /** Copies host data into the tensor (same size and dtype). */
  write(tensor: Tensor, data: HostArray): void

  /** True when this backend has a kernel for `op` in `dtype`. */
  supports(op: string, dtype: DType): boolean
  /**
   * Runs an op of the op table. Absent optional inputs are left out;
   * `outputs` names the optional outputs wanted. Throws on a bad call with
   * a message naming the tensor or attribute and what is valid.
   */
  run(op: string, inputs: Record<string, Tensor | undefined>, attrs?: Record<string, AttrValue | undefined>, outputs?: string[]): OpOutputs

  memory(): { bytesInUse: number; peakBytes: number }
  /** Forgets the peak so far (the next peak is measured from now). */
  resetPeak(): void
  synchronize(): Promise<void>
  /**
   * Gives memory the backend caches for reuse back to the system, once a job
   * ends (optional: backends that cache). A CUDA pool would otherwise keep a
   * finished run's peak from every other process on that GPU.
   */
  trimCache?(): void
  /** Sets (or, with undefined, clears) the observer of every op run. */
  observe(observer: OpObserver | undefined): void
  /**
   * For a backend that reads its device timings asynchronously (WebGPU's
   * timestamp queries): fills the OpTimings handed to the observer since the
   * last call. The profiler awaits it after clearing the observer.
   */
  settleTimings?(): Promise<void>
  /** How this backend times an observed op, for the profile's record ("CUDA events", ...). */
  readonly opTiming?: string
}

/** backend.readSoon where the backend has it, else a read started now. */
export function startRead(tensor: Tensor): PendingRead {
  const backend = tensor.backend
  if (backend.readSoon) return backend.readSoon(tensor)
  const data = backend.read(tensor)
  data.catch(() => undefined) // a read never awaited (a step released unread) must not reject unhandled
  return { read: () => data }
}
