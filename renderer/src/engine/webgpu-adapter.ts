// The Engine screen's WebGPU card: the adapter engine info lists (its name,
// whether it is a software adapter, the detail's parts as rows), or why
// there is none. Engine info carries the adapter as a device row whose detail
// is "WebGPU (Dawn): <vendor> <architecture>; [software: ...;] limits: ...;
// features: ..." (electron/engine/webgpu/adapter.ts).
import type { DeviceInfo, EngineInfo } from '../../../electron/api/labapi'
import { isSoftwareAdapter, NO_WEBGPU_ADAPTER, SOFTWARE_ADAPTER_NOTE, webGpuAdapter } from '../runs/backend-availability'

export interface WebGpuAdapterView {
  /** The adapter's name, or '' when there is none. */
  adapter: string
  /** Why there is no adapter ('' when there is one). */
  none: string
  /** The software caution, or '' for a hardware adapter. */
  software: string
  rows: { label: string; value: string }[]
  /** Which native API Dawn drives on this platform. */
  api: string
}

const API_BY_PLATFORM: Record<string, string> = {
  darwin: 'macOS: WebGPU runs on Metal (through Dawn).',
  linux: 'Linux: WebGPU runs on Vulkan (through Dawn).',
  win32: 'Windows: WebGPU runs on D3D12 (through Dawn).',
}

export function webGpuAdapterView(info: EngineInfo): WebGpuAdapterView {
  const api = API_BY_PLATFORM[info.platform] ?? `${info.platform}: WebGPU through Dawn.`
  const d = webGpuAdapter(info)
  if (!d) return { adapter: '', none: NO_WEBGPU_ADAPTER, software: '', rows: [], api }
  const rows = d.detail
    .split('; ')
    .filter((part) => part !== SOFTWARE_ADAPTER_NOTE)
    .map((part) => {
      const at = part.indexOf(': ')
      return at < 0 ? { label: 'detail', value: part } : { label: part.slice(0, at), value: part.slice(at + 2) }
    })
  return { adapter: d.name, none: '', software: isSoftwareAdapter(d) ? SOFTWARE_ADAPTER_NOTE : '', rows, api }
}

/** A device's detail for the devices table: a WebGPU adapter's first part and the software note (its card has the rest). */
export function deviceDetail(d: Pick<DeviceInfo, 'backend' | 'detail'>): string {
  if (d.backend !== 'webgpu') return d.detail
  const first = d.detail.split('; ')[0] ?? ''
  return isSoftwareAdapter(d) ? `${first}; ${SOFTWARE_ADAPTER_NOTE}` : first
}
