// A mixer call whose largest buffer is over what the device binds
// (maxStorageBufferBindingSize, at most maxBufferSize: 2^31 - 4 bytes on
// NVIDIA's Vulkan driver, where the delta rule's backward at B 16, T 2048,
// H 16, K = V = 128 asks for 2 GiB of chunk states and their gradients) runs
// in slices of its batch. The batch elements are independent, so each
// slice's [B, ...] inputs are copied out, the launcher runs on them as a call
// of that batch, and its [B, ...] outputs are copied back into place. The
// tensors without a leading B (the fixed gate's g [H]) are shared: passed
// whole, and their gradients (dg [H]) summed over the slices.
import { grid, type WebGpuDriver } from './driver'
import { accumulateKernel } from './kernels/accumulate'
import { WG } from './kernels/common'
import type { LaunchContext } from './ops'
import type { Storage } from './pool'

type Launch = (c: LaunchContext) => void

/** A binding limit below the device's (bytes), or undefined: the tests' way to take the sliced path on small shapes. */
let forcedLimit: number | undefined

/** Sets (or with undefined clears) a binding limit below the device's for the slicing decision; returns the previous one. */
export function useBindingLimit(bytes: number | undefined): number | undefined {
  const was = forcedLimit
  forcedLimit = bytes
  return was
}

/** The last mixer call: its largest buffer unsliced (bytes) and the batch of each slice it ran ([B] when whole). */
let last = { op: '', largest: 0, slices: [] as number[] }
export const lastBatchSlices = (): Readonly<typeof last> => last

/**
 * Whether a tensor has one part per batch element: [B, ...]. Every mixer tensor of
 * rank 2 or more is; the one other shape the op table has is the fixed gate's [H],
 * which the rank tells apart even when H = B.
 */
const perBatch = (shape: readonly number[], B: number): boolean => shape.length >= 2 && shape[0] === B

/** The call as one of batch `nb` on the given memory: plan dims, shapes and sizes of the [B, ...] tensors scaled. */
function sliceContext(c: LaunchContext, nb: number, memory: Pick<LaunchContext, 'inputs' | 'outputs' | 'scratch'>): LaunchContext {
  const B = c.plan.dims.B!
  const scale = (shape: readonly number[]): number[] => (perBatch(shape, B) ? [nb, ...shape.slice(1)] : [...shape])
  const [shapes, sizes]: [Record<string, readonly number[]>, Record<string, number>] = [{ ...c.shapes }, { ...c.sizes }]
  for (const [name, shape] of Object.entries(c.shapes)) {
    if (!perBatch(shape, B)) continue
    shapes[name] = scale(shape)
    sizes[name] = (c.sizes[name]! / B) * nb
  }
  const outputs = c.plan.outputs.map((o) => ({ ...o, shape: scale(o.shape) }))
  return { ...c, ...memory, shapes, sizes, plan: { ...c.plan, dims: { ...c.plan.dims, B: nb }, outputs } }
}

/** The largest buffer `launch` asks for at batch `nb`, and its name: a dry run that records sizes and encodes nothing. */
function largestBuffer(c: LaunchContext, nb: number, launch: Launch): { bytes: number; what: string } {
  const largest = { bytes: 0, what: '' }
  const none = {} as GPUBuffer
  const driver = { gpu: c.driver.gpu, dispatch() {}, copy() {}, constant: () => none, indexCheck: () => 0, checkStorage: none }
  const scratch = (bytes: number, what: string): Storage => {
    if (bytes > largest.bytes) Object.assign(largest, { bytes, what })
    return { buffer: none, bytes, size: bytes, refs: 1 }
  }
  launch({ ...sliceContext(c, nb, { inputs: c.inputs, outputs: c.outputs, scratch }), driver: driver as unknown as WebGpuDriver })
  return largest
}

/** The batch of each slice: the fewest slices whose largest buffer fits `limit`, as equal as they go. */
function slicesFor(c: LaunchContext, launch: Launch, B: number, limit: number, whole: number): number[] {
  const one = largestBuffer(c, 1, launch)
  if (one.bytes > limit) {
    const dims = Object.entries(c.plan.dims).map(([d, n]) => `${d} ${n}`)
    const l = c.driver.gpu.info.limits
    const forced = forcedLimit === undefined ? '' : `, useBindingLimit ${forcedLimit}`
    const limits = `maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize}, maxBufferSize ${l.maxBufferSize}${forced}`
    throw new Error(
      `${c.plan.op} at ${dims.join(', ')}: one batch element alone needs ${one.bytes} bytes for ${one.what} (the whole call ${whole}), ` +
        `over the ${limit} bytes this WebGPU device binds in one buffer (${c.driver.gpu.info.name}: ${limits}). Valid: calls whose ` +
        `every buffer for one batch element fits; those buffers grow with T, H, K and V: shorten T or use fewer or smaller heads.`,
    )
  }
  let tried = B
  for (let count = 2; count <= B; count++) {
    const nb = Math.ceil(B / count)
    if (nb === tried) continue
    tried = nb
    // Buffers grow with the batch, so the first count whose largest slice fits is the fewest.
    if (nb === 1 || largestBuffer(c, nb, launch).bytes <= limit) return Array.from({ length: count }, (_, s) => Math.floor(B / count) + (s < B % count ? 1 : 0))
  }
  return [B] // not reached: one element fits, and count = B slices of one
}

/** Runs a mixer launcher on the whole call, or in slices of its batch when a buffer would be over the binding limit. */
export function inBatchSlices(c: LaunchContext, launch: Launch): void {
  const limits = c.driver.gpu.info.limits
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, forcedLimit ?? Infinity)
  const B = c.plan.dims.B ?? 1
  const whole = largestBuffer(c, B, launch).bytes
  const slices = whole <= limit ? [B] : slicesFor(c, launch, B, limit, whole)
  // The slices are recorded as they run, so a test sees the ones that did.
  last = { op: c.plan.op, largest: whole, slices: [] }
  if (slices.length === 1) {
    last.slices.push(B)
    return launch(c)
  }
  let b0 = 0
  for (const n of slices) {
    const held: Storage[] = []
    const scratch = (bytes: number, what: string): Storage => {
      const s = c.driver.pool.acquire(bytes, what)
      held.push(s)
      return s
    }
    const label = (name: string) => `${c.plan.op} ${name}, batch ${b0}..${b0 + n - 1}`
    // A [B, ...] input: its n elements from b0 into a scratch buffer (bytes of one element x n).
    const inputs: Record<string, Storage | undefined> = { ...c.inputs }
    for (const [name, shape] of Object.entries(c.shapes)) {
      if (!perBatch(shape, B) || !c.inputs[name]) continue
      const bytes = (c.sizes[name]! / B) * 4
      inputs[name] = scratch(Math.max(n * bytes, 4), label(name))
      c.driver.copy(c.inputs[name].buffer, inputs[name].buffer, n * bytes, b0 * bytes, 0)
    }
    const outputs: Record<string, Storage> = {}
    const per = (shape: readonly number[]) => (perBatch(shape, B) ? shape.slice(1) : shape).reduce((a, d) => a * d, 1) * 4
    for (const o of c.plan.outputs) outputs[o.name] = scratch(Math.max(per(o.shape) * (perBatch(o.shape, B) ? n : 1), 4), label(o.name))
    launch(sliceContext(c, n, { inputs, outputs, scratch }))
    last.slices.push(n)
    for (const o of c.plan.outputs) {
      const [src, dst, bytes] = [outputs[o.name]!.buffer, c.outputs[o.name]!.buffer, per(o.shape)]
      if (perBatch(o.shape, B)) c.driver.copy(src, dst, n * bytes, 0, b0 * bytes)
      // A shared input's gradient: the first slice's, then each later slice's added.
      else if (b0 === 0) c.driver.copy(src, dst, bytes)
      else c.driver.dispatch(accumulateKernel, { n: bytes / 4, alpha: 1 }, [dst, src], grid(bytes / 4, WG))
    }
    // Later dispatches are ordered after these, so the slice's memory can be reused at once.
    for (const s of held) c.driver.pool.release(s)
    b0 += n
  }
}
