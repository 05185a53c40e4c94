// The engine store against the real services and engine process (in-process
// LabApi), each test with a fresh Pinia.
import { createPinia, setActivePinia } from 'pinia'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { labDeps } from '../../fixtures/lab'
import { localLabApi } from '../../../electron/services/local-api'
import { setLabApi } from '../../../renderer/src/api/client'
import { useEngineStore } from '../../../renderer/src/stores/engine'

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
setLabApi(localLabApi(createLabHandlers(labDeps(engine, events)), events))
afterAll(() => {
  engine.stop()
  setLabApi(undefined)
})
beforeEach(() => setActivePinia(createPinia()))

describe('engine store', () => {
  it('loads engine info and follows the engine status', async () => {
    const store = useEngineStore()
    const unwatch = store.watchEngine()
    await store.loadInfo()
    unwatch()
    expect(store.infoError).toBe('')
    expect(store.info!.devices[0]!.id).toBe('cpu')
    expect(store.loadingInfo).toBe(false)
    expect(store.engineStatus?.state).toBe('ready')
  })

  it('runs the demo forward with its parameters', async () => {
    const store = useEngineStore()
    store.demoParams.seqLen = 100
    store.demoParams.heads = 2
    await store.runDemo()
    expect(store.demoError).toBe('')
    expect(store.demo!.seqLen).toBe(100)
    expect(store.demo!.outputNorm).toHaveLength(100)
    expect(store.demo!.finalStateNorm).toHaveLength(2)
    expect(store.runningDemo).toBe(false)
  })

  it('keeps a refused call as an error message naming the field', async () => {
    const store = useEngineStore()
    await store.runDemo({ seqLen: 0, heads: 1, dk: 4, dv: 4, seed: 0 })
    expect(store.demo).toBeNull()
    expect(store.demoError).toBe('demoForward: seqLen: 0 is too small; valid: >= 1')
  })
})
