// Which TrainSpec backends this machine can run, from the engine's info: a
// backend it lacks is shown disabled with the reason, and a spec asking for
// it is marked before it is started (instead of a run that fails at once).
import type { EngineInfo } from '../../../electron/api/labapi'

export const BACKEND_CHOICES = ['auto', 'cpu', 'cuda', 'webgpu'] as const

/** backend → why this machine cannot run it; backends it can run are absent. Nothing is known before the info loads. */
export function unavailableBackends(info: EngineInfo | null): Record<string, string> {
  if (!info) return {}
  const out: Record<string, string> = {}
  if (!info.devices.some((d) => d.backend === 'cuda')) out.cuda = `no CUDA GPU on this machine (CUDA: ${info.cudaStatus})`
  if (!info.devices.some((d) => d.backend === 'webgpu')) out.webgpu = 'no WebGPU backend in this build of Linea yet'
  return out
}
