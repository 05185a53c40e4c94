// Engine info as the LabApi reports it: the native build, its devices and ops.
import type { EngineInfo } from '../api/labapi'
import { loadAddon } from './addon'

export function engineInfo(): EngineInfo {
  const addon = loadAddon()
  const native = addon.info()
  return {
    version: native.version,
    backendsCompiled: native.backendsCompiled,
    cudaStatus: native.cudaStatus,
    devices: native.devices,
    blas: native.blas,
    cpuThreads: native.cpuThreads,
    compiler: native.compiler,
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
    ops: addon.opTable().map((op) => ({ name: op.name, doc: op.doc, kernels: op.kernels })),
  }
}
