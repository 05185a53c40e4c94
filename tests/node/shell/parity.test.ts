// Headless mode and the desktop app answer alike: the same calls, through
// the headless server over HTTP and through the desktop app's IPC table
// (engine processes by fork here: utilityProcess needs Electron), give the
// same results and the same errors. And docs/parity.md lists every call
// and event.
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LAB_API_METHOD_NAMES, LAB_EVENT_NAMES, type LabApiMethod } from '../../../electron/api/labapi'
import { projectRoot } from '../../../electron/platform/project-root'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { startHeadless, type HeadlessApp } from '../../../electron/services/headless'
import { createLabServices, type LabServices } from '../../../electron/services/lab-services'
import { appSenderCheck, createIpcHandlers, type IpcHandler } from '../../../electron/shell/ipc-handlers'
import { presets } from '../../../electron/api/presets'

const root = projectRoot()
let headless: HeadlessApp
let desktop: LabServices
let table: Map<string, IpcHandler>
const headlessWs = mkdtempSync(join(tmpdir(), 'linea-parity-headless-'))
const desktopWs = mkdtempSync(join(tmpdir(), 'linea-parity-desktop-'))

beforeAll(async () => {
  headless = await startHeadless({ port: 0, workspace: headlessWs, staticDir: mkdtempSync(join(tmpdir(), 'linea-parity-static-')) })
  desktop = createLabServices({ launcher: forkLauncher(), workspace: desktopWs, renderPdf: undefined })
  table = createIpcHandlers(desktop.handlers, appSenderCheck())
})
afterAll(async () => {
  await headless?.close()
  desktop?.stop()
})

/** The server's URL without its trailing slash. */
const base = () => headless.server.url.replace(/\/$/, '')

/** One call through each front door, as { ok, result } / { ok, error } with the workspace folder named alike. */
async function both(method: LabApiMethod, params: unknown): Promise<[unknown, unknown]> {
  const res = await fetch(`${base()}/api/${method}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${headless.server.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ params }),
  })
  const body = (await res.json()) as { result?: unknown; error?: unknown }
  const http = body.error ? { ok: false, error: body.error } : { ok: true, result: body.result }
  const ipc = await table.get(`labapi:${method}`)!({ url: 'linea://app/index.html', isAppMainFrame: true }, params)
  const same = (v: unknown) => JSON.parse(JSON.stringify(v).split(headlessWs).join('<workspace>').split(desktopWs).join('<workspace>'))
  return [same(http), same(ipc)]
}

describe('headless and desktop answer alike', () => {
  const gla = () => presets().find((p) => p.preset === 'gla')!

  it.each([
    ['listPresets', {}],
    ['listTemplates', {}],
    ['validateModelSpec', { spec: { format: 'linea.model/1', d_model: -1 } }],
    ['validateTrainSpec', { spec: { format: 'linea.train/1' } }],
    ['demoForward', { seqLen: -1 }],
    ['loadModelSpec', { name: 'no-such-spec' }],
    ['listModelSpecs', {}],
    ['runMetrics', { id: 'no-such-run' }],
  ] as const)('%s', async (method, params) => {
    const [http, ipc] = await both(method, params)
    expect(ipc).toEqual(http)
  })

  it('estimateModel (each in its own engine process)', async () => {
    const [http, ipc] = await both('estimateModel', { spec: gla(), contextLength: 2048 })
    expect((http as { ok: boolean }).ok).toBe(true)
    expect(ipc).toEqual(http)
  })

  it('saveModelSpec then loadModelSpec', async () => {
    const [saved] = await both('saveModelSpec', { name: 'same', spec: gla() })
    expect((saved as { ok: boolean }).ok).toBe(true)
    const [http, ipc] = await both('loadModelSpec', { name: 'same' })
    expect(ipc).toEqual(http)
  })

  it('an unknown method is refused by both', async () => {
    const res = await fetch(`${base()}/api/trainEverything`, { method: 'POST', headers: { Authorization: `Bearer ${headless.server.token}` } })
    expect(res.status).toBe(404)
    expect(table.has('labapi:trainEverything')).toBe(false)
  })
})

describe('docs/parity.md', () => {
  const doc = readFileSync(join(root, 'docs', 'parity.md'), 'utf8')

  it('has a row for every LabApi call', () => {
    const rows = [...doc.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1])
    expect(rows.sort()).toEqual([...LAB_API_METHOD_NAMES].sort())
  })

  it('names every event', () => {
    for (const event of LAB_EVENT_NAMES) expect(doc, event).toContain(`\`${event}\``)
  })

  it('is right that both front doors compose the services with createLabServices', () => {
    for (const file of ['electron/services/headless.ts', 'electron/shell/desktop-app.ts'])
      expect(readFileSync(join(root, file), 'utf8'), file).toMatch(/createLabServices\(/)
  })
})
