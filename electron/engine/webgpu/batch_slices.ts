// A mixer call whose largest buffer is over what the device binds
// (maxStorageBufferBindingSize, at most maxBufferSize: 2^31 - 4 bytes on
// NVIDIA's Vulkan driver, where the delta rule's backward at B 16, T 2048,
// H 16, K = V = 128 asks for 2 GiB of chunk states and their gradients) runs
// in slices of its batch. The batch elements are independent, so each
// slice's [B, ...] inputs are copied out, the launcher runs on them as a call
// of that batch, and its [B, ...] outputs are copied back into place. The
// tensors without a leading B (the fixed gate's g [H]) are shared: passed
// whole, and their gradients (dg [H]) summed over the slices.
//
// Where one batch element alone is over the limit (the delta rule's backward
// at B 1, T 32768, H 16, K = V = 128 asks for 2.15 GB of chunk states), the
// heads are independent too: each element runs in ranges of its heads, every
// tensor's heads of that element gathered into a compact buffer
// (kernels/head_slice.ts) and the outputs' scattered back; the fixed gate's
// dg for a range of heads is summed over the elements, then put in place. The
// head axis of each tensor comes from its shape in the op table ("B,T,H,K",
// "B,H,K,V", the fixed gate's [H]).
import { loadAddon } from '../addon'
import { grid, type WebGpuDriver } from './driver'
import { accumulateKernel } from './kernels/accumulate'
import { WG } from './kernels/common'
import { headGatherKernel, headScatterKernel } from './kernels/head_slice'
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

/**
 * The last mixer call: its largest buffer unsliced (bytes), the batch of each slice it ran ([B] when
 * whole), and the heads of each range of heads each batch element ran in ([H] when not split).
 */
let last = { op: '', largest: 0, slices: [] as number[], heads: [] as number[] }
export const lastBatchSlices = (): Readonly<typeof last> => last

/**
 * Whether a tensor has one part per batch element: [B, ...]. Every mixer tensor of
 * rank 2 or more is; the one other shape the op table has is the fixed gate's [H],
 * which the rank tells apart even when H = B.
 */
const perBatch = (shape: readonly number[], B: number): boolean => shape.length >= 2 && shape[0] === B

/** Each tensor's shape in the op table, by op and name (e.g. mixer_fwd q: "B,T,H,K"). */
let signatures: Map<string, string> | undefined

/** The head axis of tensor `name` of `op` with this rank: where the op table's shape has H ([H] alone: 0); -1 if none. */
function headAxis(op: string, name: string, rank: number): number {
  if (!signatures) {
    signatures = new Map()
    for (const def of loadAddon().opTable()) for (const t of [...def.inputs, ...def.outputs]) signatures.set(`${def.name}/${t.name}`, t.shape)
  }
  const dims = signatures.get(`${op}/${name}`)?.split(',') ?? []
  if (rank === 1) return dims.includes('H') ? 0 : -1
  return dims.indexOf('H')
}

/**
 * The call as one of batch `nb` and `nh` heads on the given memory: plan dims, shapes and sizes of the
 * [B, ...] tensors scaled, and, with fewer heads than the call's, every tensor's head axis.
 */
function sliceContext(c: LaunchContext, nb: number, memory: Pick<LaunchContext, 'inputs' | 'outputs' | 'scratch'>, nh = c.plan.dims.H!): LaunchContext {
  const [B, H] = [c.plan.dims.B!, c.plan.dims.H!]
  const scale = (name: string, shape: readonly number[]): number[] => {
    const out = perBatch(shape, B) ? [nb, ...shape.slice(1)] : [...shape]
    const axis = nh === H ? -1 : headAxis(c.plan.op, name, shape.length)
    if (axis >= 0) out[axis] = nh
    return out
  }
  const [shapes, sizes]: [Record<string, readonly number[]>, Record<string, number>] = [{ ...c.shapes }, { ...c.sizes }]
  for (const [name, shape] of Object.entries(c.shapes)) {
    shapes[name] = scale(name, shape)
    sizes[name] = shapes[name].reduce((a, d) => a * d, 1)
  }
  const outputs = c.plan.outputs.map((o) => ({ ...o, shape: scale(o.name, o.shape) }))
  return { ...c, ...memory, shapes, sizes, plan: { ...c.plan, dims: { ...c.plan.dims, B: nb, H: nh }, outputs } }
}

/** The largest buffer `launch` asks for at batch `nb` (and `nh` heads), and its name: a dry run that records sizes and encodes nothing. */
function largestBuffer(c: LaunchContext, nb: number, launch: Launch, nh?: number): { bytes: number; what: string } {
  const largest = { bytes: 0, what: '' }
  const none = {} as GPUBuffer
  const driver = { gpu: c.driver.gpu, dispatch() {}, copy() {}, constant: () => none, indexCheck: () => 0, checkStorage: none }
  const scratch = (bytes: number, what: string): Storage => {
    if (bytes > largest.bytes) Object.assign(largest, { bytes, what })
    return { buffer: none, bytes, size: bytes, refs: 1 }
  }
  launch({ ...sliceContext(c, nb, { inputs: c.inputs, outputs: c.outputs, scratch }, nh), driver: driver as unknown as WebGpuDriver })
  return largest
}

/** `n` split into `count` parts as equal as they go, the larger first. */
const equalParts = (n: number, count: number): number[] => Array.from({ length: count }, (_, s) => Math.floor(n / count) + (s < n % count ? 1 : 0))

/**
 * Whether every tensor of the call has a head axis (or is shared and has none that needs splitting):
 * what slicing by heads needs.
 */
function headsSplit(c: LaunchContext): boolean {
  const B = c.plan.dims.B!
  const named = [...Object.entries(c.shapes), ...c.plan.outputs.map((o) => [o.name, o.shape] as const)]
  return c.plan.dims.H !== undefined && named.every(([name, shape]) => headAxis(c.plan.op, name, shape.length) >= (perBatch(shape, B) ? 1 : 0))
}

/**
 * The slices: the batch of each (the fewest whose largest buffer fits `limit`, as equal as they go)
 * and, where one batch element alone is over it, the heads of each range of heads (the fewest ranges).
 */
function slicesFor(c: LaunchContext, launch: Launch, B: number, limit: number, whole: number): { batches: number[]; heads: number[] } {
  const H = c.plan.dims.H ?? 1
  const one = largestBuffer(c, 1, launch)
  if (one.bytes > limit) {
    if (H > 1 && headsSplit(c))
      for (let count = 2; count <= H; count++) {
        const nh = Math.ceil(H / count)
        if (count > 2 && nh === Math.ceil(H / (count - 1))) continue
        if (largestBuffer(c, 1, launch, nh).bytes <= limit) return { batches: equalParts(B, B), heads: equalParts(H, count) }
      }
    const dims = Object.entries(c.plan.dims).map(([d, n]) => `${d} ${n}`)
    const l = c.driver.gpu.info.limits
    const forced = forcedLimit === undefined ? '' : `, useBindingLimit ${forcedLimit}`
    const limits = `maxStorageBufferBindingSize ${l.maxStorageBufferBindingSize}, maxBufferSize ${l.maxBufferSize}${forced}`
    const single = H > 1 ? ` and one head, ${largestBuffer(c, 1, launch, 1).bytes} bytes,` : ''
    throw new Error(
      `${c.plan.op} at ${dims.join(', ')}: one batch element alone needs ${one.bytes} bytes for ${one.what} (the whole call ${whole})${single} ` +
        `over the ${limit} bytes this WebGPU device binds in one buffer (${c.driver.gpu.info.name}: ${limits}). Valid: calls whose ` +
        `every buffer for one batch element and one head fits; those buffers grow with T, K and V: shorten T or use smaller heads.`,
    )
  }
  let tried = B
  for (let count = 2; count <= B; count++) {
    const nb = Math.ceil(B / count)
    if (nb === tried) continue
    tried = nb
    // Buffers grow with the batch, so the first count whose largest slice fits is the fewest.
    if (nb === 1 || largestBuffer(c, nb, launch).bytes <= limit) return { batches: equalParts(B, count), heads: [H] }
  }
  return { batches: [B], heads: [H] } // not reached: one element fits, and count = B slices of one
}

/** Runs a mixer launcher on the whole call, or in slices of its batch when a buffer would be over the binding limit. */
export function inBatchSlices(c: LaunchContext, launch: Launch): void {
  const limits = c.driver.gpu.info.limits
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, forcedLimit ?? Infinity)
  const B = c.plan.dims.B ?? 1
  const whole = largestBuffer(c, B, launch).bytes
  const H = c.plan.dims.H ?? 1
  const { batches: slices, heads } = whole <= limit ? { batches: [B], heads: [H] } : slicesFor(c, launch, B, limit, whole)
  // The slices are recorded as they run, so a test sees the ones that did.
  last = { op: c.plan.op, largest: whole, slices: [], heads: [H] }
  if (heads.length > 1) return inHeadSlices(c, launch, heads)
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
      else c.driver.dispatch(accumulateKernel(false), { n: bytes / 4, alpha: 1 }, [dst, src], grid(bytes / 4, WG))
    }
    // Later dispatches are ordered after these, so the slice's memory can be reused at once.
    for (const s of held) c.driver.pool.release(s)
    b0 += n
  }
}

/** Runs the launcher per batch element and range of heads (see the top of this file). */
function inHeadSlices(c: LaunchContext, launch: Launch, heads: number[]): void {
  const [B, H, op] = [c.plan.dims.B!, c.plan.dims.H!, c.plan.op]
  last.heads = []
  /** A tensor's geometry: entries per batch element (or all, if shared), and per head's slot (inner). */
  const geometry = (name: string, shape: readonly number[]) => {
    const axis = headAxis(op, name, shape.length)
    const per = perBatch(shape, B)
    const inner = shape.slice(axis + 1).reduce((a, d) => a * d, 1)
    const element = shape.slice(per ? 1 : 0).reduce((a, d) => a * d, 1)
    return { per, inner, outer: element / (H * inner) }
  }
  let h0 = 0
  for (const nh of heads) {
    // Shared outputs (the fixed gate's dg [H]): this range's part, summed over the batch elements.
    const shared: Record<string, Storage> = {}
    for (let b = 0; b < B; b++) {
      const held: Storage[] = []
      const scratch = (bytes: number, what: string): Storage => {
        const s = c.driver.pool.acquire(bytes, what)
        held.push(s)
        return s
      }
      const label = (name: string) => `${op} ${name}, batch ${b}, heads ${h0}..${h0 + nh - 1}`
      const inputs: Record<string, Storage | undefined> = { ...c.inputs }
      for (const [name, shape] of Object.entries(c.shapes)) {
        if (!c.inputs[name]) continue
        const g = geometry(name, shape)
        const n = g.outer * nh * g.inner
        inputs[name] = scratch(Math.max(n * 4, 4), label(name))
        const p = { n, H, h0, nh, inner: g.inner, base: g.per ? b * g.outer * H * g.inner : 0 }
        c.driver.dispatch(headGatherKernel, p, [c.inputs[name].buffer, inputs[name].buffer], grid(n, WG))
      }
      const outputs: Record<string, Storage> = {}
      for (const o of c.plan.outputs) {
        const g = geometry(o.name, o.shape)
        outputs[o.name] = scratch(Math.max(g.outer * nh * g.inner * 4, 4), label(o.name))
      }
      launch(sliceContext(c, 1, { inputs, outputs, scratch }, nh))
      for (const o of c.plan.outputs) {
        const g = geometry(o.name, o.shape)
        const n = g.outer * nh * g.inner
        if (g.per) {
          const p = { n, H, h0, nh, inner: g.inner, base: b * g.outer * H * g.inner }
          c.driver.dispatch(headScatterKernel, p, [outputs[o.name]!.buffer, c.outputs[o.name]!.buffer], grid(n, WG))
        } else if (b === 0) {
          shared[o.name] = c.driver.pool.acquire(Math.max(n * 4, 4), `${op} ${o.name}, heads ${h0}..${h0 + nh - 1}`)
          c.driver.copy(outputs[o.name]!.buffer, shared[o.name]!.buffer, n * 4)
        } else c.driver.dispatch(accumulateKernel(false), { n, alpha: 1 }, [shared[o.name]!.buffer, outputs[o.name]!.buffer], grid(n, WG))
      }
      for (const s of held) c.driver.pool.release(s)
    }
    for (const [name, part] of Object.entries(shared)) {
      const g = geometry(name, c.plan.outputs.find((o) => o.name === name)!.shape)
      const p = { n: g.outer * nh * g.inner, H, h0, nh, inner: g.inner, base: 0 }
      c.driver.dispatch(headScatterKernel, p, [part.buffer, c.outputs[name]!.buffer], grid(p.n, WG))
      c.driver.pool.release(part)
    }
    last.heads.push(nh)
    h0 += nh
  }
  last.slices = Array.from({ length: B }, () => 1)
}
