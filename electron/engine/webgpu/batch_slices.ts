// A mixer call whose largest buffer is over what the adapter binds
// (maxStorageBufferBindingSize: 2 GiB on NVIDIA's Vulkan driver, where the
// delta rule's backward at B·T = 32k, H = 16, dk = dv = 128 asks for 2.2 GB of
// chunk states) runs in slices of its batch: the batch elements are
// independent, so each slice's inputs are copied out, the launcher runs on
// them as a call of that batch, and its outputs are copied back. Every mixer
// tensor leads with B except a fixed gate's g and dg [H]: the slices share g
// and their dg add up.
import { grid, type WebGpuDriver } from './driver'
import { accumulateKernel } from './kernels/accumulate'
import { WG } from './kernels/common'
import type { LaunchContext } from './ops'
import type { Storage } from './pool'

type Launch = (c: LaunchContext) => void

/** Whether a mixer tensor has the batch as its leading dim. */
function perBatch(c: LaunchContext, name: string): boolean {
  return !(c.plan.attrs.gate === 'fixed' && (name === 'g' || name === 'dg'))
}

/** The call as one of batch `nb`, on the given memory (plan dims, output shapes and input sizes scaled). */
function sliceContext(c: LaunchContext, nb: number, memory: Pick<LaunchContext, 'inputs' | 'outputs' | 'scratch'>): LaunchContext {
  const B = c.plan.dims.B!
  const sizes: Record<string, number> = {}
  for (const [name, n] of Object.entries(c.sizes)) sizes[name] = perBatch(c, name) ? (n / B) * nb : n
  const outputs = c.plan.outputs.map((o) => (perBatch(c, o.name) ? { ...o, shape: [nb, ...o.shape.slice(1)] } : o))
  return { ...c, ...memory, plan: { ...c.plan, dims: { ...c.plan.dims, B: nb }, outputs }, sizes }
}

/** The largest buffer `launch` asks for at batch `nb`: a dry run that records sizes and encodes nothing. */
function largestBuffer(c: LaunchContext, nb: number, launch: Launch): number {
  let largest = 0
  const none = {} as GPUBuffer
  const driver = { gpu: c.driver.gpu, dispatch() {}, copy() {}, constant: () => none, indexCheck: () => 0, checkStorage: none }
  const scratch = (bytes: number): Storage => {
    largest = Math.max(largest, bytes)
    return { buffer: none, bytes, size: bytes, refs: 1 }
  }
  const dry = sliceContext(c, nb, { inputs: c.inputs, outputs: c.outputs, scratch })
  launch({ ...dry, driver: driver as unknown as WebGpuDriver })
  return largest
}

/** Runs a mixer launcher on the whole call, or in slices of its batch when a buffer would be over the binding limit. */
export function inBatchSlices(c: LaunchContext, launch: Launch): void {
  const limit = c.driver.gpu.info.limits.maxStorageBufferBindingSize
  const B = c.plan.dims.B ?? 1
  const whole = largestBuffer(c, B, launch)
  if (whole <= limit || B <= 1) return launch(c) // at B = 1 the pool's error names the buffer
  // Buffers grow with the batch: start from the proportional slice, smaller until it fits.
  let nb = Math.max(1, Math.min(B - 1, Math.floor((B * limit) / whole)))
  while (nb > 1 && largestBuffer(c, nb, launch) > limit) nb -= 1
  const fixedDg = c.outputs.dg && !perBatch(c, 'dg') ? c.outputs.dg : undefined
  for (let b0 = 0; b0 < B; b0 += nb) {
    const n = Math.min(nb, B - b0)
    const held: Storage[] = []
    const scratch = (bytes: number, what: string): Storage => {
      const s = c.driver.pool.acquire(bytes, what)
      held.push(s)
      return s
    }
    const inputs: Record<string, Storage | undefined> = {}
    for (const [name, s] of Object.entries(c.inputs)) {
      if (!s || !perBatch(c, name)) {
        inputs[name] = s
        continue
      }
      const bytes = (c.sizes[name]! / B) * 4
      inputs[name] = scratch(Math.max(n * bytes, 4), `${c.plan.op} ${name}, batch ${b0}..${b0 + n - 1}`)
      if (bytes > 0) c.driver.copy(s.buffer, inputs[name]!.buffer, n * bytes, b0 * bytes, 0)
    }
    const outputs: Record<string, Storage> = {}
    const bytesPer: Record<string, number> = {}
    for (const o of c.plan.outputs) {
      const all = o.shape.reduce((a, d) => a * d, 1) * 4
      bytesPer[o.name] = perBatch(c, o.name) ? all / B : all
      const bytes = perBatch(c, o.name) ? n * bytesPer[o.name]! : all
      outputs[o.name] = scratch(Math.max(bytes, 4), `${c.plan.op} ${o.name}, batch ${b0}..${b0 + n - 1}`)
    }
    launch(sliceContext(c, n, { inputs, outputs, scratch }))
    for (const o of c.plan.outputs) {
      const dst = c.outputs[o.name]!
      const src = outputs[o.name]!
      if (dst === fixedDg) {
        const count = bytesPer[o.name]! / 4
        if (b0 === 0) c.driver.copy(src.buffer, dst.buffer, count * 4)
        else c.driver.dispatch(accumulateKernel, { n: count, alpha: 1 }, [dst.buffer, src.buffer], grid(count, WG))
      } else if (bytesPer[o.name]! > 0) {
        c.driver.copy(src.buffer, dst.buffer, n * bytesPer[o.name]!, 0, b0 * bytesPer[o.name]!)
      }
    }
    // Later dispatches are ordered after these, so the slice's memory can be reused at once.
    for (const s of held) c.driver.pool.release(s)
  }
}
