// Where an inspection runs: on WebGPU when the run trained there (or the
// caller asks for it) and an adapter takes every op call the inspection
// makes, else on the first CUDA device when it takes every call, else on the
// CPU, saying why. The calls are traced first on shapes alone, as training's
// backend choice does (trace-ops.ts).
import type { TrainSpec } from '../../api/train-spec'
import { loadAddon } from '../addon'
import { addonAccepts, describeRefusals, refusals, type AcceptsFn } from '../backend-select'
import type { Backend } from '../backend'
import { readCheckpoint } from '../checkpoint/checkpoint'
import { nativeBackend } from '../native-backend'
import { TracingBackend, type TracedCall } from '../trace-ops'
import { probeWebGpu, webGpuBackend } from '../webgpu/backend'

/**
 * The backend id for `inspect` (a function of a backend) and a line saying
 * why. With `prefer` 'webgpu' (and 'webgpu' among `available`): webgpu when
 * it accepts every call `inspect` makes on the tracing backend. Otherwise
 * cuda:0 when present and it accepts every call, else cpu. A preference
 * that cannot be met is said in the reason, never dropped silently.
 */
export async function chooseInspectBackend(
  inspect: (backend: Backend) => Promise<unknown>,
  available: readonly string[] = loadAddon().backends(),
  accepts: AcceptsFn = addonAccepts,
  prefer?: 'webgpu',
): Promise<{ id: string; reason: string }> {
  let traced: TracedCall[] | undefined
  const calls = async () => {
    if (!traced) {
      const tracer = new TracingBackend()
      await inspect(tracer)
      traced = tracer.traced()
    }
    return traced
  }
  let notWebGpu = ''
  if (prefer === 'webgpu') {
    if (!available.includes('webgpu')) notWebGpu = 'no WebGPU adapter for the run that trained on webgpu; '
    else {
      const all = await calls()
      const refused = refusals('webgpu', all, accepts)
      if (!refused.length) return { id: 'webgpu', reason: `webgpu: the run trained on it, and it accepts all ${all.length} of the inspection's op calls` }
      notWebGpu = `webgpu refuses ${describeRefusals(refused, all.length, 1)}; `
    }
  }
  const cuda = 'cuda:0'
  if (!available.includes(cuda)) return { id: 'cpu', reason: `cpu: ${notWebGpu}no CUDA device` }
  const all = await calls()
  const refused = refusals(cuda, all, accepts)
  if (!refused.length) return { id: cuda, reason: `${cuda}: ${notWebGpu}it accepts all ${all.length} of the inspection's op calls` }
  return { id: 'cpu', reason: `cpu: ${notWebGpu}${cuda} refuses ${describeRefusals(refused, all.length, 1)}` }
}

/** Whether an inspection of a run trained with `trainBackend` should try WebGPU first. */
export function inspectPreference(trainBackend: TrainSpec['backend'], asked?: 'webgpu'): 'webgpu' | undefined {
  return asked ?? (trainBackend === 'webgpu' ? 'webgpu' : undefined)
}

/**
 * The backend an inspection of the checkpoint at `checkpointPath` runs on,
 * opened, and why: WebGPU when the run trained there (read from the
 * checkpoint's TrainSpec) or `asked` says so and an adapter takes every call;
 * else as chooseInspectBackend says. The engine process's inspect handler
 * calls this in place of chooseInspectBackend + nativeBackend.
 */
export async function selectInspectBackend(
  checkpointPath: string,
  inspect: (backend: Backend) => Promise<unknown>,
  asked?: 'webgpu',
): Promise<{ backend: Backend; reason: string }> {
  const prefer = inspectPreference(readCheckpoint(checkpointPath).trainSpec.backend, asked)
  const available = [...loadAddon().backends()]
  if (prefer === 'webgpu' && (await probeWebGpu()).adapter) available.push('webgpu')
  const { id, reason } = await chooseInspectBackend(inspect, available, addonAccepts, prefer)
  return { backend: id === 'webgpu' ? await webGpuBackend() : nativeBackend(id), reason }
}
