// The WebGPU device, from Dawn's Node binding (npm `webgpu`): Metal on macOS,
// Vulkan on Linux (lavapipe on a machine without a GPU), D3D12 on Windows.
// Acquires the adapter and a device with the adapter's storage limits, and
// turns device loss and uncaptured errors (validation, out of memory) into
// one recorded failure that the driver throws at its next sync point.
/// <reference types="@webgpu/types" />

/** What the adapter says about itself, for engine info and error messages. */
export interface WebGpuAdapterInfo {
  /** One line: the description (e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)"), else vendor and device. */
  name: string
  vendor: string
  architecture: string
  device: string
  description: string
  /** Optional features the device was created with (e.g. "shader-f16", "subgroups", "timestamp-query"). */
  features: string[]
  limits: {
    maxBufferSize: number
    maxStorageBufferBindingSize: number
    maxStorageBuffersPerShaderStage: number
    maxComputeWorkgroupStorageSize: number
    maxComputeInvocationsPerWorkgroup: number
    maxComputeWorkgroupsPerDimension: number
  }
  /**
   * The subgroup-matrix shape precision f16's products run on (f16 operands, f32 sums), and the
   * adapter's largest subgroup; absent unless the device has Dawn's subgroup matrices with such a
   * shape (LINEA_WEBGPU_SUBGROUP_MATRIX=0 turns them off, see subgroupMatrixOptions).
   */
  subgroupMatrix?: { fm: number; fn: number; fk: number; subgroupSize: number }
}

export interface WebGpuDevice {
  /**
   * Dawn's instance and the adapter: held for the device's lifetime. Dawn's
   * Node binding frees its instance when the GPU object is collected, and a
   * device whose instance is gone crashes the process (seen on lavapipe while
   * it compiles a shader).
   */
  instance: GPU
  adapter: GPUAdapter
  device: GPUDevice
  info: WebGpuAdapterInfo
  /** The first uncaptured error or loss since the last check, as an Error; clears it. */
  takeFailure(): Error | undefined
  /** Records a failure seen elsewhere (a popped error scope). */
  fail(err: Error): void
  /** True once the device is lost (destroyed or by the driver); every later call fails. */
  readonly lost: boolean
}

/** Thrown when no adapter is found or the binding cannot load: says why and what to install. */
export class WebGpuUnavailableError extends Error {
  constructor(why: string) {
    super(
      `WebGPU is not available: ${why}. Linux needs a Vulkan driver and loader (libvulkan1; with no GPU, ` +
        `Mesa's lavapipe: mesa-vulkan-drivers >= 25, from bookworm-backports on Debian 12); macOS uses Metal.`,
    )
    this.name = 'WebGpuUnavailableError'
  }
}

/** Limits asked of the device: the adapter's own, so big tensors and many bindings fit. */
const REQUESTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const

/** Optional features worth having when the adapter offers them (later kernels use them). */
const WANTED_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix' as GPUFeatureName]

/**
 * Dawn's subgroup matrices (NVIDIA's cooperative matrices through Vulkan, Apple's simdgroup
 * matrices through Metal) are experimental: Dawn offers them only with its unsafe APIs allowed,
 * and on NVIDIA's Vulkan driver their f16 shapes only with f16 turned back on (Dawn leaves it off
 * there because some conformance tests crashed, crbug.com/tint/2164). Both toggles are asked for
 * unless LINEA_WEBGPU_SUBGROUP_MATRIX=0: the unsafe APIs are unsafe for web pages running
 * untrusted shaders, not for Linea's own kernels, and with both on every WebGPU suite passed on the
 * H200 (native/lab/webgpu_matmul_subgroup_matrix/ says what the products gained).
 */
export function subgroupMatrixOptions(options: string[], wanted = environment('LINEA_WEBGPU_SUBGROUP_MATRIX') !== '0'): string[] {
  if (!wanted) return options
  const key = 'enable-dawn-features='
  const toggles = ['allow_unsafe_apis', 'vulkan_enable_f16_on_nvidia']
  const given = options.find((o) => o.startsWith(key))
  if (!given) return [...options, key + toggles.join(',')]
  const have = given.slice(key.length).split(',')
  return options.map((o) => (o === given ? [o, ...toggles.filter((t) => !have.includes(t))].join(',') : o))
}

/** An environment variable of the engine's process (read through globalThis: the renderer's type check, which reaches this file, has no Node types). */
function environment(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name]
}

type SubgroupMatrixConfig = Record<'componentType' | 'resultComponentType' | 'M' | 'N' | 'K', unknown>

/** The f16 -> f32 subgroup-matrix shape to multiply with (16 x 16 x 16 where offered), if the device has the feature. */
function chooseSubgroupMatrix(adapter: GPUAdapter, device: GPUDevice): WebGpuAdapterInfo['subgroupMatrix'] {
  if (!device.features.has('chromium-experimental-subgroup-matrix') || !device.features.has('shader-f16')) return undefined
  // Dawn lists the shapes in the adapter's info (experimental; fields are getters: read by name).
  const info = adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: SubgroupMatrixConfig[]; subgroupMinSize?: number; subgroupMaxSize?: number }
  const shapes = [...(info.subgroupMatrixConfigs ?? [])]
    .filter((c) => String(c.componentType) === 'f16' && String(c.resultComponentType) === 'f32')
    .map((c) => ({ fm: Number(c.M), fn: Number(c.N), fk: Number(c.K) }))
    // The kernel's tiles (kernels/matmul_subgroup_matrix.ts) are multiples of 16 and its depth of 32.
    .filter((s) => 16 % s.fm === 0 && 16 % s.fn === 0 && 32 % s.fk === 0 && s.fn % 2 === 0)
    .sort((a, b) => b.fm * b.fn * b.fk - a.fm * a.fn * a.fk)
  const best = shapes[0]
  const subgroupSize = info.subgroupMaxSize
  // The kernel counts its subgroups as invocations / subgroupSize: an adapter whose subgroups may be
  // smaller than its largest (AMD's 32 or 64) would run more subgroups than it tiles for.
  if (!best || !subgroupSize || info.subgroupMinSize !== subgroupSize) return undefined
  return { ...best, subgroupSize }
}

/**
 * Dawn rounds timestamp queries down to 2^16 ns (65.5 us) unless told not to: browsers must keep
 * web pages from timing side channels, which does not apply to Linea's own kernels. Rounded, a
 * kernel of 20 us reads 0 or 65.5 us (the H200's Vulkan call of 2026-12-01 read every kernel in
 * multiples of 0.0655 ms), which made the profiler's per-op times and the kernel breakdown
 * coarse. Adds Dawn's toggle to the create() options, beside any features the caller disables.
 */
export function withExactTimestamps(options: string[]): string[] {
  const key = 'disable-dawn-features='
  const given = options.find((o) => o.startsWith(key))
  if (given?.slice(key.length).split(',').includes('timestamp_quantization')) return options
  if (!given) return [...options, `${key}timestamp_quantization`]
  return options.map((o) => (o === given ? `${o},timestamp_quantization` : o))
}

export interface DawnModule {
  create(options: string[]): GPU
  /** The WebGPU classes and constants a browser has as globals (GPUOutOfMemoryError, ...). */
  globals: object
}

/**
 * The adapter Dawn picks (high-performance first), with Dawn's instance,
 * which must outlive anything made from the adapter. Throws
 * WebGpuUnavailableError when the binding does not load or there is no adapter.
 */
export async function findWebGpuAdapter(options: string[] = []): Promise<{ dawn: DawnModule; instance: GPU; adapter: GPUAdapter }> {
  options = subgroupMatrixOptions(withExactTimestamps(options))
  let dawn: DawnModule
  try {
    dawn = (await import('webgpu')) as DawnModule
  } catch (err) {
    throw new WebGpuUnavailableError(`the Dawn binding (npm 'webgpu') did not load: ${(err as Error).message}`)
  }
  let adapter: GPUAdapter | null
  let instance: GPU
  try {
    instance = dawn.create(options)
    adapter = await instance.requestAdapter({ powerPreference: 'high-performance' })
  } catch (err) {
    throw new WebGpuUnavailableError(`requestAdapter failed: ${(err as Error).message}`)
  }
  if (!adapter) throw new WebGpuUnavailableError('no adapter was found')
  return { dawn, instance, adapter }
}

/**
 * Opens the first WebGPU adapter Dawn finds and a device on it. `options` go
 * to Dawn's create() (e.g. "backend=vulkan", "adapter=<name>").
 */
export async function openWebGpuDevice(options: string[] = []): Promise<WebGpuDevice> {
  const { dawn, instance, adapter } = await findWebGpuAdapter(options)

  const requiredLimits: Record<string, number> = {}
  for (const name of REQUESTED_LIMITS) requiredLimits[name] = adapter.limits[name]
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f))
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'linea' })

  const a = adapter.info
  const name = a.description || [a.vendor, a.device].filter(Boolean).join(' ') || 'unnamed WebGPU adapter'
  const info: WebGpuAdapterInfo = {
    name,
    vendor: a.vendor,
    architecture: a.architecture,
    device: a.device,
    description: a.description,
    features: [...device.features].sort(),
    limits: {
      maxBufferSize: device.limits.maxBufferSize,
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxStorageBuffersPerShaderStage: device.limits.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    },
    subgroupMatrix: chooseSubgroupMatrix(adapter, device),
  }

  const OutOfMemory = (dawn.globals as { GPUOutOfMemoryError?: abstract new (...args: never[]) => GPUError }).GPUOutOfMemoryError
  let failure: Error | undefined
  let lost = false
  const fail = (err: Error): void => {
    failure ??= err
  }
  device.addEventListener('uncapturederror', (event) => {
    const error = (event as GPUUncapturedErrorEvent).error
    const kind = OutOfMemory && error instanceof OutOfMemory ? 'out of memory' : 'error'
    fail(new Error(`WebGPU ${kind} on ${name}: ${error.message}`))
  })
  void device.lost.then((why) => {
    lost = true
    // A destroy() we asked for is not a failure of the job.
    if (why.reason !== 'destroyed') fail(new Error(`WebGPU device lost on ${name}: ${why.message || why.reason}`))
  })

  return {
    instance,
    adapter,
    device,
    info,
    fail,
    takeFailure() {
      const f = failure
      failure = undefined
      return f
    },
    get lost() {
      return lost
    },
  }
}
