// Engine info lists the WebGPU adapter Dawn finds (lavapipe in CI) as a
// device and the WebGPU kernels per op. Skips with one line where there is
// no adapter; with LINEA_REQUIRE_WEBGPU=1 (CI) a missing adapter fails.
import { describe, expect, it, vi } from 'vitest'
import { main } from '../../../electron/cli/main'
import { engineInfo } from '../../../electron/engine/info'
import { probeWebGpuAdapter, SOFTWARE_ADAPTER_NOTE } from '../../../electron/engine/webgpu/adapter'
import { WEBGPU_OPS } from '../../../electron/engine/webgpu/ops'

const probe = await probeWebGpuAdapter()
if (!probe.adapter) {
  if (process.env.LINEA_REQUIRE_WEBGPU === '1') throw new Error(`webgpu-info: LINEA_REQUIRE_WEBGPU=1 but ${probe.reason}`)
  console.log(`webgpu-info: skipped: ${probe.reason.split('\n')[0]}`)
}

describe('engine info: WebGPU kernels', () => {
  it('lists the WebGPU backend and its f32 kernels beside the native ones, adapter or not', async () => {
    const info = await engineInfo()
    expect(info.backendsCompiled).toEqual(expect.arrayContaining(['cpu', 'webgpu']))
    const withWebGpu = info.ops.filter((op) => op.kernels.webgpu)
    expect(withWebGpu.map((op) => op.name).sort()).toEqual([...WEBGPU_OPS].filter((name) => info.ops.some((op) => op.name === name)).sort())
    expect(withWebGpu.length).toBeGreaterThan(20)
    for (const op of withWebGpu) expect(op.kernels.webgpu).toEqual(['f32'])
    // the native kernels are still there
    expect(info.ops.find((op) => op.name === 'mixer_fwd')?.kernels.cpu).toContain('f64')
  })
})

/** What `linea <args>` writes to stdout, run in this process. */
async function linea(...args: string[]): Promise<string> {
  let out = ''
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk)
    return true
  })
  try {
    expect(await main(args)).toBe(0)
  } finally {
    write.mockRestore()
  }
  return out
}

describe.skipIf(!probe.adapter)('engine info: the WebGPU adapter', () => {
  it('`linea info` lists the adapter and the WebGPU kernels', async () => {
    const out = await linea('info')
    expect(out).toContain('backends compiled: cpu')
    const lines = out.split('\n')
    expect(lines.filter((l) => /^ {2}webgpu +/.test(l) && l.includes(`${probe.adapter!.name}, `))).toHaveLength(1)
    expect(out).toMatch(/^ {2}mixer_fwd +cpu: [^\n]*webgpu: f32/m)
  })

  it('lists the adapter as a device with vendor, limits and features', async () => {
    const a = probe.adapter!
    const info = await engineInfo()
    const devices = info.devices.filter((d) => d.backend === 'webgpu')
    expect(devices).toHaveLength(1)
    const d = devices[0]!
    expect(d).toMatchObject({ id: 'webgpu', index: 0, name: a.name, memoryBytes: 0 })
    expect(d.name.length).toBeGreaterThan(0)
    expect(d.detail).toContain(`limits: buffer `)
    expect(d.detail).toContain(`${a.limits.maxStorageBuffersPerShaderStage} storage buffers per stage`)
    expect(a.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256)
    // the CPU is still first, with its free memory
    expect(info.devices[0]?.backend).toBe('cpu')
  })

  it('says a software adapter is one (lavapipe / llvmpipe here)', async () => {
    const a = probe.adapter!
    const d = (await engineInfo()).devices.find((x) => x.backend === 'webgpu')!
    const named = /llvmpipe|lavapipe|swiftshader/i.test(`${a.name} ${a.device}`)
    if (named) expect(a.software).toBe(true)
    expect(d.detail.includes(SOFTWARE_ADAPTER_NOTE)).toBe(a.software)
  })
})
