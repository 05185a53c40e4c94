// The adapter summary engine info shows: software adapters known by their
// fallback flag, architecture or name; limits and features as the adapter
// gives them; the device row with memory unknown (WebGPU does not say).
import { describe, expect, it } from 'vitest'
import { isSoftwareAdapter, SOFTWARE_ADAPTER_NOTE, summarizeAdapter, webGpuDeviceInfo } from '../../../../electron/engine/webgpu/adapter'

const hw = { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', description: 'NVIDIA H200 (Vulkan 1.4)' }

const limits = {
  maxBufferSize: 2 ** 36,
  maxStorageBufferBindingSize: 2 ** 31,
  maxStorageBuffersPerShaderStage: 10,
  maxComputeWorkgroupStorageSize: 49152,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupsPerDimension: 65535,
}

describe('WebGPU adapter summary', () => {
  it('tells software adapters from hardware ones', () => {
    expect(isSoftwareAdapter(hw)).toBe(false)
    expect(isSoftwareAdapter({ ...hw, isFallbackAdapter: true })).toBe(true)
    expect(isSoftwareAdapter({ vendor: 'mesa', architecture: 'software', device: '', description: '' })).toBe(true)
    expect(isSoftwareAdapter({ vendor: 'mesa', architecture: '', device: '', description: 'llvmpipe: Mesa 25.0.7' })).toBe(true)
    expect(isSoftwareAdapter({ vendor: 'google', architecture: '', device: 'SwiftShader Device', description: '' })).toBe(true)
    expect(isSoftwareAdapter({ vendor: 'microsoft', architecture: '', device: 'Microsoft Basic Render Driver', description: '' })).toBe(true)
  })

  it('summarizes an adapter: name, the features the backend uses, limits', () => {
    const s = summarizeAdapter({
      info: { ...hw, isFallbackAdapter: false } as GPUAdapterInfo,
      features: new Set(['subgroups', 'timestamp-query', 'texture-compression-bc']) as unknown as GPUSupportedFeatures,
      limits: limits as GPUSupportedLimits,
    })
    expect(s).toEqual({
      name: hw.description,
      vendor: 'nvidia',
      architecture: 'hopper',
      device: hw.device,
      software: false,
      features: ['subgroups', 'timestamp-query'],
      limits,
    })
  })

  it('writes the device row: the software note only for a software adapter, memory unknown', () => {
    const s = { name: 'NVIDIA H200', vendor: 'nvidia', architecture: 'hopper', device: 'h200', software: false, features: [], limits }
    const row = webGpuDeviceInfo(s)
    expect(row).toMatchObject({ id: 'webgpu', backend: 'webgpu', index: 0, name: 'NVIDIA H200', memoryBytes: 0 })
    expect(row.detail).toBe(
      'WebGPU (Dawn): nvidia hopper; limits: buffer 64 GiB, storage binding 2 GiB, 10 storage buffers per stage, workgroup memory 48 KiB, ' +
        '1024 invocations per workgroup; features: none of shader-f16, subgroups, timestamp-query',
    )
    expect(webGpuDeviceInfo({ ...s, software: true }).detail).toContain(`; ${SOFTWARE_ADAPTER_NOTE}; `)
  })
})
