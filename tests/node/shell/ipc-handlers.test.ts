// The desktop app's IPC table over the real services (composed exactly as
// the shell composes them, engine processes by fork instead of
// utilityProcess), with fake senders: only the app's own top-level frame may
// call. Then the whole path renderer → bridge → table → services → engine,
// with the renderer's own bridge client and no Electron.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LAB_API_METHOD_NAMES, type LabApiMethod } from '../../../electron/api/labapi'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { createLabServices } from '../../../electron/services/lab-services'
import { createLineaBridge, type LabEventMessage } from '../../../electron/shell/bridge'
import { appSenderCheck, createIpcHandlers, type IpcSender } from '../../../electron/shell/ipc-handlers'
import { createBridgeLabApi, type LineaBridge } from '../../../renderer/src/api/bridge-client'
import { LabApiClientError } from '../../../renderer/src/api/errors'

const services = createLabServices({ launcher: forkLauncher(), workspace: mkdtempSync(join(tmpdir(), 'linea-shell-ws-')), renderPdf: undefined })
const refused: { method: LabApiMethod; sender: IpcSender | undefined }[] = []
const table = createIpcHandlers(services.handlers, appSenderCheck(), (method, sender) => refused.push({ method, sender }))
const APP_FRAME: IpcSender = { url: 'linea://app/index.html#/compose', isAppMainFrame: true }
afterAll(() => services.stop())

const FOREIGN: (IpcSender | undefined)[] = [
  undefined, // the frame is gone
  { url: 'https://evil.example/', isAppMainFrame: true },
  { url: 'file:///tmp/x.html', isAppMainFrame: true },
  { url: 'linea://app/index.html', isAppMainFrame: false }, // an iframe inside the app, or another window
  { url: 'linea://other/index.html', isAppMainFrame: true },
  { url: 'linea://app.evil.example/index.html', isAppMainFrame: true },
  { url: 'http://localhost:5173/', isAppMainFrame: true }, // the dev server, outside development
  { url: 'not a url', isAppMainFrame: true },
]

describe('IPC handler table', () => {
  it('has one channel per LabApi method and nothing else', () => {
    expect([...table.keys()].sort()).toEqual(LAB_API_METHOD_NAMES.map((m) => `labapi:${m}`).sort())
  })

  it('refuses foreign frames before running anything', async () => {
    // a call that would change state if it ran
    const before = services.workspaces.workspace.listSpecs().length
    for (const sender of FOREIGN) {
      for (const [channel, params] of [
        ['labapi:engineInfo', {}],
        ['labapi:saveModelSpec', { name: 'intruder', spec: {} }],
        ['labapi:openWorkspace', { path: '/tmp' }],
      ] as const) {
        const method = channel.slice('labapi:'.length)
        expect(await table.get(channel)!(sender, params)).toEqual({
          ok: false,
          error: { code: 'bad_request', message: `refused ${method}: the call did not come from the Linea app window` },
        })
      }
    }
    expect(refused).toHaveLength(FOREIGN.length * 3)
    expect(refused[1]).toEqual({ method: 'saveModelSpec', sender: undefined })
    expect(services.engine.pid).toBeUndefined() // no engine process was started for them
    expect(services.workspaces.workspace.listSpecs()).toHaveLength(before)
  })

  it('trusts the dev server origin only when told to', async () => {
    const dev = createIpcHandlers(services.handlers, appSenderCheck('http://localhost:5173'))
    const fromDev = await dev.get('labapi:listPresets')!({ url: 'http://localhost:5173/#/compose', isAppMainFrame: true }, {})
    expect(fromDev.ok).toBe(true)
    const fromApp = await dev.get('labapi:listPresets')!(APP_FRAME, {})
    expect(fromApp.ok).toBe(false)
  })

  it('serves the app frame, with the same parameter checks as headless mode', async () => {
    const info = await table.get('labapi:engineInfo')!(APP_FRAME, {})
    expect(info.ok && (info.result as { devices: { id: string }[] }).devices[0]!.id).toBe('cpu')
    const bad = await table.get('labapi:demoForward')!(APP_FRAME, { seqLen: -1 })
    expect(bad.ok).toBe(false)
    if (!bad.ok) {
      expect(bad.error.code).toBe('bad_request')
      expect(bad.error.errors?.[0]?.path).toBe('seqLen')
    }
    const missing = await table.get('labapi:loadModelSpec')!(APP_FRAME, { name: 'no-such-spec' })
    expect(missing.ok).toBe(false)
    if (!missing.ok) expect(missing.error.message).toContain('no-such-spec')
  })
})

describe('renderer → preload bridge → IPC table → services', () => {
  // ipcRenderer.invoke and the event channel, played by direct calls: the
  // main process answers from the table with the app frame as the sender.
  const eventListeners = new Set<(message: unknown) => void>()
  const unsubscribeBus = services.events.subscribe((event, data) => {
    const message: LabEventMessage = { event, data }
    for (const fn of eventListeners) fn(message)
  })
  afterAll(unsubscribeBus)
  const bridge = createLineaBridge({
    invoke: (channel, params) => table.get(channel)!(APP_FRAME, structuredClone(params)),
    listen: (fn) => {
      eventListeners.add(fn)
      return () => eventListeners.delete(fn)
    },
  })
  const api = createBridgeLabApi(bridge as unknown as LineaBridge)

  it('answers calls and rebuilds errors with their code and fields', async () => {
    const presets = await api.listPresets({})
    expect(presets.map((p) => p.preset)).toContain('gla')
    const error = await api.demoForward({ seqLen: -1 } as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LabApiClientError)
    expect((error as LabApiClientError).code).toBe('bad_request')
    expect((error as LabApiClientError).errors[0]?.path).toBe('seqLen')
  })

  it('delivers events until the subscription is removed', async () => {
    const seen: string[] = []
    const off = api.on('workspace.changed', (info) => seen.push(info.path))
    expect(eventListeners.size).toBe(1)
    const second = mkdtempSync(join(tmpdir(), 'linea-shell-ws2-'))
    await api.openWorkspace({ path: second })
    expect(seen).toEqual([second])
    off()
    expect(eventListeners.size).toBe(0) // the bridge's one IPC listener is gone too
    await api.openWorkspace({ path: mkdtempSync(join(tmpdir(), 'linea-shell-ws3-')) })
    expect(seen).toEqual([second])
  })
})
