// Picks the backend a run asked for, or for 'auto' the best one that accepts
// every op call the model makes in a training step (trace-ops.ts), and says
// which it picked and why.
import type { TrainSpec } from '../api/train-spec'
import { loadAddon } from './addon'
import type { Backend } from './backend'
import { nativeBackend } from './native-backend'
import type { TracedCall } from './trace-ops'
import { probeWebGpu, webGpuAccepts, webGpuBackend } from './webgpu/backend'

export interface BackendChoice {
  backend: Backend
  /** One line: what was picked and why. */
  reason: string
}

/** A call a backend refuses, with the backend's reason (naming op, attributes or dtype, and backend). */
export interface Refusal {
  call: TracedCall
  reason: string
}

/** Asks a backend whether it takes a call: null when it does, else why not. */
export type AcceptsFn = (backendId: string, call: TracedCall) => string | null

/** How many distinct reasons a message lists before "and N more". */
const LISTED = 3

/** The calls `backendId` refuses, with its reasons, in call order. */
export function refusals(backendId: string, calls: readonly TracedCall[], accepts: AcceptsFn): Refusal[] {
  const out: Refusal[] = []
  for (const call of calls) {
    const reason = accepts(backendId, call)
    if (reason !== null) out.push({ call, reason })
  }
  return out
}

/**
 * "3 of the model's 41 op calls (backend cuda:0 has no kernel for linear_fwd
 * in f64; ...; and 2 more reasons)": the count, then the first `listed`
 * distinct reasons.
 */
export function describeRefusals(refused: readonly Refusal[], total: number, listed = LISTED): string {
  const reasons = [...new Set(refused.map((r) => r.reason))]
  const more = reasons.length > listed ? `; and ${reasons.length - listed} more reason${reasons.length - listed > 1 ? 's' : ''}` : ''
  return `${refused.length} of the model's ${total} op calls (${reasons.slice(0, listed).join('; ')}${more})`
}

/**
 * The backend id to use and why, from the backends there are and the
 * answers of `accepts`; throws when the requested backend cannot run the calls.
 */
export function chooseBackend(
  requested: TrainSpec['backend'],
  device: number,
  available: readonly string[],
  calls: readonly TracedCall[],
  accepts: AcceptsFn,
): { id: string; reason: string } {
  const cudaId = `cuda:${device}`
  if (requested === 'webgpu') {
    if (!available.includes('webgpu')) throw new Error(`backend 'webgpu' is not available: no WebGPU adapter was found; available: ${available.join(', ')}`)
    const refused = refusals('webgpu', calls, accepts)
    if (refused.length)
      throw new Error(`backend webgpu cannot train this model: it refuses ${describeRefusals(refused, calls.length)}; use backend 'cpu' or 'auto'`)
    return { id: 'webgpu', reason: 'webgpu (asked for)' }
  }
  if (requested === 'cuda') {
    if (!available.includes(cudaId)) throw new Error(`backend 'cuda' device ${device} is not available; available: ${available.join(', ')}`)
    const refused = refusals(cudaId, calls, accepts)
    if (refused.length)
      throw new Error(`backend ${cudaId} cannot train this model: it refuses ${describeRefusals(refused, calls.length)}; use backend 'cpu' or 'auto'`)
    return { id: cudaId, reason: `${cudaId} (asked for)` }
  }
  if (requested === 'cpu') {
    onCpu(calls, accepts)
    return { id: 'cpu', reason: 'cpu (asked for)' }
  }
  // auto: the CUDA device, else a WebGPU adapter (the caller lists 'webgpu' only for a hardware one), else the CPU.
  const passed: string[] = []
  if (available.includes(cudaId)) {
    const refused = refusals(cudaId, calls, accepts)
    if (!refused.length) return { id: cudaId, reason: `auto picked ${cudaId}: it accepts all ${calls.length} of the model's op calls` }
    passed.push(`${cudaId} refuses ${describeRefusals(refused, calls.length, 1)}`)
  } else passed.push('no CUDA device')
  if (available.includes('webgpu')) {
    const refused = refusals('webgpu', calls, accepts)
    if (!refused.length)
      return { id: 'webgpu', reason: `auto picked webgpu: ${passed.join('; ')}, and the WebGPU adapter accepts all ${calls.length} op calls` }
    passed.push(`webgpu refuses ${describeRefusals(refused, calls.length, 1)}`)
  }
  onCpu(calls, accepts)
  return { id: 'cpu', reason: `auto picked cpu: ${passed.join('; ')}` }
}

/** Throws naming the refused calls unless the CPU takes every call. */
function onCpu(calls: readonly TracedCall[], accepts: AcceptsFn): void {
  const refused = refusals('cpu', calls, accepts)
  // bf16 and f16 are mixed precision for GPUs; the CPU has no 16-bit kernels (only the cast).
  for (const [dtype, where] of [
    ['bf16', 'a CUDA device'],
    ['f16', 'a WebGPU adapter'],
  ] as const)
    if (calls.some((c) => c.op !== 'cast' && Object.values(c.inputs).some((t) => t.dtype === dtype)))
      throw new Error(`precision '${dtype}' needs ${where}, and the run goes to the CPU; use precision 'f32' (or 'f64') on the CPU`)
  if (refused.length) throw new Error(`backend cpu cannot train this model: it refuses ${describeRefusals(refused, calls.length)}`)
}

/** The addon's answer for a traced call (for 'webgpu', the WebGPU backend's, from the addon's plan). */
export const addonAccepts: AcceptsFn = (backendId, call) =>
  backendId === 'webgpu' ? webGpuAccepts(call) : loadAddon().accepts(backendId, call.op, call.inputs, call.attrs, call.outputs)

/**
 * The backend for a run of the model whose training step makes `calls`
 * (trace-ops.ts): 'cuda' when that device accepts every call, 'auto' the
 * CUDA device when it does, else the CPU; the CPU must accept every call too.
 */
export function selectBackend(requested: TrainSpec['backend'], device: number, calls: readonly TracedCall[]): BackendChoice {
  if (requested === 'webgpu') throw new Error("backend 'webgpu' needs its adapter opened first: use selectWebGpuBackend")
  const { id, reason } = chooseBackend(requested, device, loadAddon().backends(), calls, addonAccepts)
  return { backend: nativeBackend(id), reason }
}

/** The WebGPU backend for `calls` (a profile asked for it by name): the adapter opened, every call accepted, or why not. */
export async function selectWebGpuBackend(calls: readonly TracedCall[]): Promise<BackendChoice> {
  const probe = await probeWebGpu()
  if (!probe.adapter) throw new Error(`backend 'webgpu' is not available: ${probe.reason}`)
  const { reason } = chooseBackend('webgpu', 0, ['webgpu'], calls, addonAccepts)
  return { backend: await webGpuBackend(), reason }
}
