// Engine info as the LabApi reports it: the native build, its devices and ops,
// and the WebGPU backend (TypeScript, in every build): its adapter as a
// device when Dawn finds one, its kernels per op beside the native ones.
import type { EngineInfo } from '../api/labapi'
import { freemem } from 'node:os'
import { loadAddon } from './addon'
import { probeWebGpuAdapter, webGpuDeviceInfo } from './webgpu/adapter'
import { WEBGPU_OPS } from './webgpu/ops'

/** The dtypes the WebGPU backend has kernels for (f32 storage; index tensors are i32 inputs, not a kernel dtype). */
const WEBGPU_KERNEL_DTYPES = ['f32']

export async function engineInfo(): Promise<EngineInfo> {
  const addon = loadAddon()
  const native = addon.info()
  const webgpu = await probeWebGpuAdapter()
  const webgpuOps = new Set(WEBGPU_OPS)
  return {
    version: native.version,
    backendsCompiled: [...native.backendsCompiled, 'webgpu'],
    cudaStatus: native.cudaStatus,
    devices: [
      // The CPU's free memory from Node (every platform); CUDA's from the driver, through the addon.
      ...native.devices.map((d) => (d.backend === 'cpu' ? { ...d, freeBytes: freemem() } : d)),
      ...(webgpu.adapter ? [webGpuDeviceInfo(webgpu.adapter)] : []),
    ],
    blas: native.blas,
    cpuThreads: native.cpuThreads,
    compiler: native.compiler,
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
    ops: addon.opTable().map((op) => ({
      name: op.name,
      doc: op.doc,
      kernels: webgpuOps.has(op.name) ? { ...op.kernels, webgpu: WEBGPU_KERNEL_DTYPES } : op.kernels,
    })),
  }
}
