// Engine info as the LabApi reports it: the native build, its devices and ops.
import type { EngineInfo } from '../api/labapi'
import { freemem } from 'node:os'
import { loadAddon } from './addon'

export function engineInfo(): EngineInfo {
  const addon = loadAddon()
  const native = addon.info()
  return {
    version: native.version,
    backendsCompiled: native.backendsCompiled,
    cudaStatus: native.cudaStatus,
    // The CPU's free memory from Node (every platform); CUDA's from the driver, through the addon.
    devices: native.devices.map((d) => (d.backend === 'cpu' ? { ...d, freeBytes: freemem() } : d)),
    blas: native.blas,
    cpuThreads: native.cpuThreads,
    compiler: native.compiler,
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
    ops: addon.opTable().map((op) => ({ name: op.name, doc: op.doc, kernels: op.kernels })),
  }
}
