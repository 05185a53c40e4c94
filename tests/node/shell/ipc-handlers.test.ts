// The desktop app's IPC table against the real services, with fake senders:
// only the app's own top-level frame may call.
import { afterAll, describe, expect, it } from 'vitest'
import { LAB_API_METHOD_NAMES } from '../../../electron/api/labapi'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { labDeps } from '../../fixtures/lab'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIpcHandlers } from '../../../electron/shell/ipc-handlers'

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const table = createIpcHandlers(createLabHandlers(labDeps(engine, events)))
afterAll(() => engine.stop())

describe('IPC handlers', () => {
  it('has one channel per LabApi method and nothing else', () => {
    expect([...table.keys()].sort()).toEqual(LAB_API_METHOD_NAMES.map((m) => `labapi:${m}`).sort())
  })

  it('refuses foreign frames before running anything', async () => {
    const call = table.get('labapi:engineInfo')!
    for (const sender of [
      undefined,
      { url: 'https://evil.example/', isAppMainFrame: true },
      { url: 'file:///tmp/x.html', isAppMainFrame: true },
      { url: 'linea://app/index.html', isAppMainFrame: false }, // an iframe inside the app
      { url: 'linea://other/index.html', isAppMainFrame: true },
    ]) {
      const r = await call(sender, {})
      expect(r).toEqual({ ok: false, error: { code: 'bad_request', message: 'refused engineInfo: the call did not come from the Linea app window' } })
    }
    expect(engine.pid).toBeUndefined()
  })

  it('serves the app frame, with parameter checks', async () => {
    const app = { url: 'linea://app/index.html#/engine', isAppMainFrame: true }
    const info = await table.get('labapi:engineInfo')!(app, {})
    expect(info.ok && (info.result as { devices: { id: string }[] }).devices[0]!.id).toBe('cpu')
    const bad = await table.get('labapi:demoForward')!(app, { seqLen: -1 })
    expect(bad.ok).toBe(false)
    if (!bad.ok) expect(bad.error.code).toBe('bad_request')
  })
})
