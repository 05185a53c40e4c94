// Which backends the Train form offers, from engine info: CUDA and WebGPU
// only where the engine lists their devices, a software WebGPU adapter
// offered with a caution, and nothing known before the info loads.
import { describe, expect, it } from 'vitest'
import type { DeviceInfo, EngineInfo } from '../../../../electron/api/labapi'
import { SOFTWARE_ADAPTER_NOTE as ENGINE_SOFTWARE_NOTE } from '../../../../electron/engine/webgpu/adapter'
import {
  backendCautions,
  isSoftwareAdapter,
  NO_WEBGPU_ADAPTER,
  SOFTWARE_ADAPTER_NOTE,
  unavailableBackends,
  webGpuAdapter,
} from '../../../../renderer/src/runs/backend-availability'

const cpu: DeviceInfo = { id: 'cpu', backend: 'cpu', index: 0, name: 'x86_64', memoryBytes: 2 ** 34, detail: '16 threads' }
const cuda: DeviceInfo = { id: 'cuda:0', backend: 'cuda', index: 0, name: 'NVIDIA H200', memoryBytes: 2 ** 37, detail: 'sm_90' }
const lavapipe: DeviceInfo = {
  id: 'webgpu',
  backend: 'webgpu',
  index: 0,
  name: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)',
  memoryBytes: 0,
  detail: `WebGPU (Dawn): mesa software; ${SOFTWARE_ADAPTER_NOTE}; limits: buffer 4 GiB; features: shader-f16`,
}
const nvidiaVulkan: DeviceInfo = { ...lavapipe, name: 'NVIDIA H200', detail: 'WebGPU (Dawn): nvidia hopper; limits: buffer 64 GiB; features: subgroups' }

function info(devices: DeviceInfo[]): EngineInfo {
  return {
    version: '0.1.0',
    backendsCompiled: ['cpu', 'webgpu'],
    cudaStatus: 'not built',
    devices,
    blas: 'OpenBLAS',
    cpuThreads: 16,
    compiler: 'g++',
    node: '20',
    platform: 'linux',
    arch: 'x64',
    ops: [],
  }
}

describe('backend availability', () => {
  it('knows nothing before the info loads', () => {
    expect(unavailableBackends(null)).toEqual({})
    expect(backendCautions(null)).toEqual({})
    expect(webGpuAdapter(null)).toBeUndefined()
  })

  it('disables CUDA and WebGPU, with reasons, on a machine with only the CPU', () => {
    expect(unavailableBackends(info([cpu]))).toEqual({ cuda: 'no CUDA GPU on this machine (CUDA: not built)', webgpu: NO_WEBGPU_ADAPTER })
  })

  it('offers WebGPU when the engine lists an adapter, and CUDA when it lists a CUDA device', () => {
    expect(unavailableBackends(info([cpu, lavapipe]))).toEqual({ cuda: 'no CUDA GPU on this machine (CUDA: not built)' })
    expect(unavailableBackends(info([cpu, cuda, nvidiaVulkan]))).toEqual({})
    expect(webGpuAdapter(info([cpu, cuda, nvidiaVulkan]))?.name).toBe('NVIDIA H200')
  })

  it('cautions about a software adapter, not about a hardware one', () => {
    expect(isSoftwareAdapter(lavapipe)).toBe(true)
    expect(isSoftwareAdapter(nvidiaVulkan)).toBe(false)
    // the note is about WebGPU adapters only
    expect(isSoftwareAdapter({ backend: 'cpu', detail: SOFTWARE_ADAPTER_NOTE })).toBe(false)
    expect(backendCautions(info([cpu, lavapipe]))).toEqual({ webgpu: `${lavapipe.name}: software: slower than the CPU backend` })
    expect(backendCautions(info([cpu, nvidiaVulkan]))).toEqual({})
  })

  it('reads the software note the engine writes', () => {
    expect(SOFTWARE_ADAPTER_NOTE).toBe(ENGINE_SOFTWARE_NOTE)
  })
})
