// A real engine process (child_process.fork): calls, errors, and what the
// host sees when the process dies mid-call.
import { afterEach, describe, expect, it } from 'vitest'
import { EngineCallError, EngineExitedError, EngineProcess, forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { until } from '../../fixtures/until'

const started: EngineProcess[] = []
function engine(): EngineProcess {
  const e = new EngineProcess(forkLauncher())
  started.push(e)
  return e
}
afterEach(() => {
  for (const e of started.splice(0)) e.stop()
})

describe('engine process', () => {
  it('answers info and the demo forward from its own process', async () => {
    const e = engine()
    const pid = await e.start()
    expect(pid).not.toBe(process.pid)
    const info = await e.call('info', {})
    expect(info.devices.map((d) => d.id)).toContain('cpu')
    const demo = await e.call('demoForward', { seqLen: 64, heads: 2, dk: 8, dv: 8, seed: 5 })
    expect(demo.outputNorm).toHaveLength(64)
    expect(demo.outputNorm.every((x) => Number.isFinite(x) && x >= 0)).toBe(true)
    const again = await e.call('demoForward', { seqLen: 64, heads: 2, dk: 8, dv: 8, seed: 5 })
    expect(again.outputNorm).toEqual(demo.outputNorm) // same seed, same numbers
  })

  it('turns an engine-side error into a rejected call and stays up', async () => {
    const e = engine()
    await expect(e.call('demoForward', { seqLen: 8, heads: 1, dk: 4, dv: 4, seed: 1, backend: 'tpu' })).rejects.toThrow(
      "backend 'tpu' is not available; available: cpu",
    )
    await expect(e.call('demoForward', { seqLen: 8, heads: 1, dk: 4, dv: 4, seed: 1, backend: 'tpu' })).rejects.toBeInstanceOf(EngineCallError)
    expect((await e.call('info', {})).version).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('rejects pending calls with the reason when the process is killed', async () => {
    const e = engine()
    const pid = await e.start()
    const pending = e.call('demoForward', { seqLen: 20000, heads: 8, dk: 64, dv: 64, seed: 1 })
    process.kill(pid, 'SIGKILL')
    await expect(pending).rejects.toBeInstanceOf(EngineExitedError)
    await expect(pending).rejects.toThrow('engine process was killed by SIGKILL')
    await expect(e.call('info', {})).rejects.toThrow('killed by SIGKILL')
  })

  it('the engine service starts a fresh process after one dies, and says so', async () => {
    const events = new LabEventBus()
    const seen: string[] = []
    events.subscribe((name, data) => seen.push(`${name}:${(data as { state: string }).state}`))
    const service = new EngineService(forkLauncher(), events)
    try {
      await service.call('info', {})
      const first = service.pid!
      process.kill(first, 'SIGKILL')
      // a call before the service has seen the exit would go to the dying process and fail with it
      await until('the service to see the engine exit', () => seen.includes('engine.status:exited'), 20_000)
      await service.call('info', {})
      expect(service.pid).not.toBe(first)
      expect(seen).toEqual(['engine.status:starting', 'engine.status:ready', 'engine.status:exited', 'engine.status:starting', 'engine.status:ready'])
    } finally {
      service.stop()
    }
  })
})
