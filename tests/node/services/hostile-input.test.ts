// The probe's worst finding: one startTemplate call walked __proto__ in its
// path setter and polluted Object.prototype for the whole server; a
// NODE_OPTIONS planted there reached the next engine process. Both front
// doors share the dispatcher and handlers, so both are checked here: the
// LabApi as the server dispatches it, and the desktop app's IPC table.
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { answerLabApi } from '../../../electron/services/dispatch'
import { createLabServices } from '../../../electron/services/lab-services'
import { appSenderCheck, createIpcHandlers } from '../../../electron/shell/ipc-handlers'

const services = createLabServices({ launcher: forkLauncher(), workspace: mkdtempSync(join(tmpdir(), 'linea-proto-ws-')), renderPdf: undefined })
const ipc = createIpcHandlers(services.handlers, appSenderCheck())
const APP_FRAME = { url: 'linea://app/index.html#/train', isAppMainFrame: true }
afterAll(() => services.stop())

const prototypeKeys = () => Object.getOwnPropertyNames(Object.prototype).sort()
const before = prototypeKeys()
afterEach(() => {
  // Undo a pollution so one failure does not poison the other tests.
  for (const k of Object.getOwnPropertyNames(Object.prototype)) if (!before.includes(k)) delete (Object.prototype as Record<string, unknown>)[k]
})

const marker = join(mkdtempSync(join(tmpdir(), 'linea-proto-')), 'ran')
const attacks: Record<string, unknown>[] = [
  { overrides: { 'train.__proto__.NODE_OPTIONS': `--eval require('fs').writeFileSync('${marker}','')` } },
  { overrides: { 'model.__proto__.polluted': 1 } },
  { overrides: { 'train.constructor.prototype.polluted': 1 } },
  { inputs: { 'train.task.__proto__.polluted': 1 } },
  { overrides: JSON.parse('{"__proto__": {"polluted": 1}}') },
]

describe('a LabApi caller cannot reach Object.prototype', () => {
  it.each(attacks.map((a) => [JSON.stringify(a), a]))('startTemplate %s is a bad request and changes nothing', async (_name, attack) => {
    const runsBefore = services.workspaces.workspace.listRuns().runs.length
    const answer = await answerLabApi(services.handlers, 'startTemplate', { id: 'hybrid-ratio-sweep', ...attack })
    expect(answer.ok).toBe(false)
    if (!answer.ok) {
      expect(answer.error.code).toBe('bad_request')
      expect(answer.error.message).toMatch(/__proto__|constructor/)
    }
    expect(prototypeKeys()).toEqual(before)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(services.workspaces.workspace.listRuns().runs.length).toBe(runsBefore)
  })

  it('through the desktop app IPC table too', async () => {
    const handler = ipc.get('labapi:startTemplate')!
    const answer = await handler(APP_FRAME, { id: 'hybrid-ratio-sweep', overrides: { 'train.__proto__.NODE_OPTIONS': '--eval 1' } })
    expect(answer).toMatchObject({ ok: false, error: { code: 'bad_request' } })
    expect(prototypeKeys()).toEqual(before)
  })

  it('and the server keeps answering afterwards', async () => {
    const answer = await answerLabApi(services.handlers, 'listTemplates', {})
    expect(answer.ok).toBe(true)
    expect(existsSync(marker)).toBe(false)
  })
})

describe('caller mistakes are bad requests with short messages', () => {
  it('a deeply nested value anywhere is refused before any handler walks it', async () => {
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = { a: deep }
    for (const [method, params] of [
      ['startTemplate', { id: 'hybrid-ratio-sweep', overrides: { 'train.steps': deep } }],
      ['validateModelSpec', { spec: deep }],
      ['saveModelSpec', { name: 'x', spec: deep }],
    ] as const) {
      const answer = await answerLabApi(services.handlers, method, params)
      expect(answer).toMatchObject({ ok: false, error: { code: 'bad_request' } })
      if (!answer.ok) expect(answer.error.message).toMatch(/nested over 32 levels deep/)
    }
  })

  it('a 100 KB value is not echoed back whole', async () => {
    const huge = 'x'.repeat(100_000)
    for (const [method, params] of [
      ['startTemplate', { id: huge }],
      ['startTemplate', { id: 'hybrid-ratio-sweep', overrides: { [huge]: 1 } }],
      ['loadModelSpec', { name: huge }],
      [huge, {}],
      ['startRun', { name: 'r', modelSpec: { name: huge }, trainSpec: {} }],
    ] as const) {
      const answer = await answerLabApi(services.handlers, method, params)
      expect(answer.ok).toBe(false)
      if (!answer.ok) {
        expect(['bad_request', 'unknown_method']).toContain(answer.error.code)
        expect(JSON.stringify(answer.error).length).toBeLessThan(4000)
      }
    }
  })
})
