// Which TrainSpec backends this machine can run, from the engine's info: a
// backend it lacks is shown disabled with the reason, and a spec asking for
// it is marked before it is started (instead of a run that fails at once).
import type { DeviceInfo, EngineInfo } from '../../../electron/api/labapi'

export const BACKEND_CHOICES = ['auto', 'cpu', 'cuda', 'webgpu'] as const

/** Why WebGPU is missing: no adapter was found (the engine lists one as a device when Dawn finds it). */
export const NO_WEBGPU_ADAPTER = 'no WebGPU adapter on this machine (Linux needs a Vulkan driver and libvulkan1; macOS uses Metal; Windows D3D12)'

/**
 * The words engine info puts in a software adapter's detail (lavapipe,
 * llvmpipe, SwiftShader, WARP): electron/engine/webgpu/adapter.ts writes
 * them, and a test on each side holds the two to the same text.
 */
export const SOFTWARE_ADAPTER_NOTE = 'software: slower than the CPU backend'

/** backend → why this machine cannot run it; backends it can run are absent. Nothing is known before the info loads. */
export function unavailableBackends(info: EngineInfo | null): Record<string, string> {
  if (!info) return {}
  const out: Record<string, string> = {}
  if (!info.devices.some((d) => d.backend === 'cuda')) out.cuda = `no CUDA GPU on this machine (CUDA: ${info.cudaStatus})`
  if (!webGpuAdapter(info)) out.webgpu = NO_WEBGPU_ADAPTER
  return out
}

/** The WebGPU adapter engine info lists, if any. */
export function webGpuAdapter(info: EngineInfo | null): DeviceInfo | undefined {
  return info?.devices.find((d) => d.backend === 'webgpu')
}

/** Whether a device is a software WebGPU adapter (runs on the CPU's cores). */
export function isSoftwareAdapter(d: Pick<DeviceInfo, 'backend' | 'detail'>): boolean {
  return d.backend === 'webgpu' && d.detail.includes(SOFTWARE_ADAPTER_NOTE)
}

/** backend → a caution for a backend that runs but is not what its name promises (a software WebGPU adapter). */
export function backendCautions(info: EngineInfo | null): Record<string, string> {
  const adapter = webGpuAdapter(info)
  return adapter && isSoftwareAdapter(adapter) ? { webgpu: `${adapter.name}: ${SOFTWARE_ADAPTER_NOTE}` } : {}
}
