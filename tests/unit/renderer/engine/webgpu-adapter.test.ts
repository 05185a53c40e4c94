// The Engine screen's WebGPU card, from engine info as the engine writes it
// (webGpuDeviceInfo): the adapter's name, the software caution, the rows.
import { describe, expect, it } from 'vitest'
import type { EngineInfo } from '../../../../electron/api/labapi'
import { webGpuDeviceInfo, type WebGpuAdapterSummary } from '../../../../electron/engine/webgpu/adapter'
import { deviceDetail, webGpuAdapterView } from '../../../../renderer/src/engine/webgpu-adapter'
import { NO_WEBGPU_ADAPTER } from '../../../../renderer/src/runs/backend-availability'

const summary: WebGpuAdapterSummary = {
  name: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)',
  vendor: 'mesa',
  architecture: 'software',
  device: 'llvmpipe',
  software: true,
  features: ['shader-f16', 'subgroups'],
  limits: {
    maxBufferSize: 2 ** 32,
    maxStorageBufferBindingSize: 2 ** 27,
    maxStorageBuffersPerShaderStage: 16,
    maxComputeWorkgroupStorageSize: 32768,
    maxComputeInvocationsPerWorkgroup: 1024,
    maxComputeWorkgroupsPerDimension: 65535,
  },
}

const info = (platform: string, withAdapter: WebGpuAdapterSummary | null): EngineInfo => ({
  version: '0.1.0',
  backendsCompiled: ['cpu', 'webgpu'],
  cudaStatus: 'not built',
  devices: [{ id: 'cpu', backend: 'cpu', index: 0, name: 'cpu', memoryBytes: 1, detail: '' }, ...(withAdapter ? [webGpuDeviceInfo(withAdapter)] : [])],
  blas: '',
  cpuThreads: 1,
  compiler: '',
  node: '',
  platform,
  arch: 'x64',
  ops: [],
})

describe('WebGPU adapter card', () => {
  it('names a software adapter as such, with its vendor, limits and features as rows', () => {
    const v = webGpuAdapterView(info('linux', summary))
    expect(v.adapter).toBe(summary.name)
    expect(v.none).toBe('')
    expect(v.software).toBe('software: slower than the CPU backend')
    expect(Object.fromEntries(v.rows.map((r) => [r.label, r.value]))).toEqual({
      'WebGPU (Dawn)': 'mesa software',
      limits: 'buffer 4 GiB, storage binding 128 MiB, 16 storage buffers per stage, workgroup memory 32 KiB, 1024 invocations per workgroup',
      features: 'shader-f16, subgroups',
    })
    expect(v.api).toContain('Vulkan')
  })

  it('gives a hardware adapter no caution, and names the API per platform', () => {
    const v = webGpuAdapterView(info('darwin', { ...summary, name: 'Apple M3 Max', vendor: 'apple', architecture: 'metal-3', software: false }))
    expect(v.software).toBe('')
    expect(v.api).toContain('Metal')
    expect(webGpuAdapterView(info('win32', null)).api).toContain('D3D12')
  })

  it('says why there is no adapter', () => {
    const v = webGpuAdapterView(info('linux', null))
    expect(v).toMatchObject({ adapter: '', none: NO_WEBGPU_ADAPTER, software: '', rows: [] })
  })

  it("shortens an adapter's detail in the devices table to its first part and the software note", () => {
    expect(deviceDetail(webGpuDeviceInfo(summary))).toBe('WebGPU (Dawn): mesa software; software: slower than the CPU backend')
    expect(deviceDetail(webGpuDeviceInfo({ ...summary, software: false }))).toBe('WebGPU (Dawn): mesa software')
    expect(deviceDetail({ backend: 'cpu', detail: '16 threads' })).toBe('16 threads')
  })
})
