// The WebGPU adapter as engine info shows it: found without opening a device
// (engine info is asked every few seconds while the Engine screen is open),
// once per process. A software adapter (Mesa's lavapipe/llvmpipe, SwiftShader,
// WARP) runs WGSL on the CPU's cores: it is listed, and said to be slower than
// the CPU backend, so nobody takes it for a GPU.
/// <reference types="@webgpu/types" />
import type { DeviceInfo } from '../../api/labapi'
import { findWebGpuAdapter } from './device'

/** The words a software adapter's line in engine info carries (the Engine screen and the Train form show them). */
export const SOFTWARE_ADAPTER_NOTE = 'software: slower than the CPU backend'

/** The limits a kernel launch depends on, as the adapter reports them. */
export interface WebGpuAdapterLimits {
  maxBufferSize: number
  maxStorageBufferBindingSize: number
  maxStorageBuffersPerShaderStage: number
  maxComputeWorkgroupStorageSize: number
  maxComputeInvocationsPerWorkgroup: number
  maxComputeWorkgroupsPerDimension: number
}

export interface WebGpuAdapterSummary {
  /** The description (e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)"), else vendor and device. */
  name: string
  vendor: string
  architecture: string
  device: string
  /** A CPU implementation of WebGPU (Dawn's fallback adapter, or known by name). */
  software: boolean
  /** The optional features the backend uses, where the adapter has them. */
  features: string[]
  limits: WebGpuAdapterLimits
}

/** Optional features worth listing: the ones the driver asks for (device.ts). */
const LISTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'] as const

/** Names of CPU implementations, for adapters that do not flag themselves as fallback. */
const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|microsoft basic render|\bwarp\b/i

/** Whether an adapter is a CPU implementation: its fallback flag, its architecture "software", or a known name. */
export function isSoftwareAdapter(info: Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'device' | 'description'> & { isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter) return true
  if (info.architecture.toLowerCase() === 'software') return true
  return SOFTWARE_NAMES.test([info.vendor, info.device, info.description].join(' '))
}

/** What an adapter says about itself, in the summary's form. */
export function summarizeAdapter(adapter: Pick<GPUAdapter, 'info' | 'features' | 'limits'>): WebGpuAdapterSummary {
  const a = adapter.info
  const l = adapter.limits
  return {
    name: a.description || [a.vendor, a.device].filter(Boolean).join(' ') || 'unnamed WebGPU adapter',
    vendor: a.vendor,
    architecture: a.architecture,
    device: a.device,
    software: isSoftwareAdapter(a),
    features: LISTED_FEATURES.filter((f) => adapter.features.has(f)),
    limits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
  }
}

const mib = (bytes: number): string => (bytes >= 2 ** 30 ? `${+(bytes / 2 ** 30).toFixed(1)} GiB` : `${+(bytes / 2 ** 20).toFixed(1)} MiB`)

/**
 * The adapter as a device row of engine info. WebGPU does not say how much
 * memory an adapter has, so memoryBytes is 0 (shown as unknown); the detail
 * names vendor, architecture, software or not, the limits and the features.
 */
export function webGpuDeviceInfo(a: WebGpuAdapterSummary): DeviceInfo {
  const l = a.limits
  const parts = [
    `WebGPU (Dawn): ${[a.vendor, a.architecture].filter(Boolean).join(' ') || 'vendor not given'}`,
    ...(a.software ? [SOFTWARE_ADAPTER_NOTE] : []),
    `limits: buffer ${mib(l.maxBufferSize)}, storage binding ${mib(l.maxStorageBufferBindingSize)}, ` +
      `${l.maxStorageBuffersPerShaderStage} storage buffers per stage, workgroup memory ${l.maxComputeWorkgroupStorageSize / 1024} KiB, ` +
      `${l.maxComputeInvocationsPerWorkgroup} invocations per workgroup`,
    `features: ${a.features.join(', ') || 'none of shader-f16, subgroups, timestamp-query'}`,
  ]
  return { id: 'webgpu', backend: 'webgpu', index: 0, name: a.name, memoryBytes: 0, detail: parts.join('; ') }
}

export type WebGpuAdapterProbe = { adapter: WebGpuAdapterSummary } | { adapter: undefined; reason: string }

let probed: Promise<WebGpuAdapterProbe> | undefined

/**
 * The adapter Dawn picks, or why there is none; asked once per process (an
 * adapter does not come or go while the app runs, and Dawn's instance is
 * dropped at once: no device is opened).
 */
export function probeWebGpuAdapter(): Promise<WebGpuAdapterProbe> {
  probed ??= findWebGpuAdapter().then(
    ({ adapter }) => ({ adapter: summarizeAdapter(adapter) }),
    (err: unknown) => ({ adapter: undefined, reason: (err as Error).message }),
  )
  return probed
}
