// The backend and precision of a training run: the requested backend (or
// 'auto') chosen by the calls its training step makes (backend-select.ts),
// with precision 'auto' resolved as bf16 where a CUDA device takes the run in
// bf16 and f32 otherwise (on the CPU or WebGPU, or where the device refuses a bf16 call).
import type { ModelSpec } from '../api/model-spec'
import type { TrainSpec } from '../api/train-spec'
import { addonAccepts, chooseBackend, type AcceptsFn } from './backend-select'
import { loadAddon } from './addon'
import type { Backend } from './backend'
import { nativeBackend } from './native-backend'
import { resolvePrecision, type RunPrecision } from './precision'
import { traceRun, type TracedCall } from './trace-ops'
import { probeWebGpuAdapter } from './webgpu/adapter'
import { probeWebGpu, webGpuBackend } from './webgpu/backend'

export interface RunChoice {
  id: string
  precision: RunPrecision
  /** One line for the run record: backend, precision and why. */
  reason: string
}

/**
 * Chooses from the backends there are (`available`): a precision other than
 * 'auto' is traced once and goes where chooseBackend sends it; 'auto' tries
 * bf16 on the CUDA device first (unless the CPU is asked for), then f32.
 */
export async function chooseRun(
  train: Pick<TrainSpec, 'backend' | 'device' | 'precision'>,
  available: readonly string[],
  trace: (precision: RunPrecision) => Promise<readonly TracedCall[]>,
  accepts: AcceptsFn,
): Promise<RunChoice> {
  const { backend, device, precision } = train
  if (precision !== 'auto') {
    const { id, reason } = chooseBackend(backend, device, available, await trace(precision), accepts)
    return { id, precision, reason: `${reason}; precision ${precision}` }
  }
  const cudaId = `cuda:${device}`
  let bf16Refused = ''
  if (backend !== 'cpu' && backend !== 'webgpu' && available.includes(cudaId)) {
    try {
      const { id, reason } = chooseBackend(backend, device, available, await trace('bf16'), accepts)
      if (id === cudaId) return { id, precision: resolvePrecision('auto', id), reason: `${reason}; precision auto: bf16 on the GPU` }
    } catch (err) {
      bf16Refused = ` (bf16: ${(err as Error).message})`
    }
  }
  const { id, reason } = chooseBackend(backend, device, available, await trace('f32'), accepts)
  return { id, precision: 'f32', reason: `${reason}; precision auto: f32${bf16Refused}` }
}

/**
 * The backend and precision for a run of `model` under `train`, from the
 * addon's backends and WebGPU's adapter: asked for by name, any adapter;
 * for 'auto' without a CUDA device, a hardware adapter only (a software one,
 * Mesa's lavapipe say, is slower than the CPU backend).
 */
export async function selectRun(model: ModelSpec, train: TrainSpec): Promise<RunChoice & { backend: Backend }> {
  const available = loadAddon().backends()
  if (train.backend === 'webgpu') {
    const probe = await probeWebGpu()
    if (!probe.adapter) throw new Error(`backend 'webgpu' is not available: ${probe.reason}`)
    available.push('webgpu')
  }
  if (train.backend === 'auto' && !available.includes(`cuda:${train.device}`)) {
    const probe = await probeWebGpuAdapter()
    if (probe.adapter && !probe.adapter.software) available.push('webgpu')
  }
  const choice = await chooseRun(train, available, (precision) => traceRun(model, train, precision), addonAccepts)
  return { ...choice, backend: choice.id === 'webgpu' ? await webGpuBackend() : nativeBackend(choice.id) }
}
