// The permanent probe of the LabApi's front door: a seeded, bounded fuzz of
// the real headless server (real services, a real engine process, a temp
// workspace), over HTTP and the WebSocket. Each case is a caller's mistake:
// a valid call mutated (fields dropped, duplicated, renamed or retyped; huge
// or odd numbers and strings; deep nesting; __proto__/constructor/prototype
// keys anywhere, and as segments of startTemplate's dotted paths), an odd
// method name, a malformed request target or escape, a body or message that
// is not a call, random bytes, invalid frames, clients that reset.
//
// After every case: the server answers a health call, no answer was a 5xx
// or an 'internal'/'engine_error' error, no reply was missing,
// Object.prototype has the same own keys, and nothing reached the event
// loop unhandled. Failures are collected (grouped, the first of each group
// shrunk to a small reproduction), printed, and checked in one expect at
// the end. The summary goes to the console:
//   labapi fuzz: 3000 cases (HTTP 1500, WS 1500), 0 failures, seed 20240611
//
// Calls that would start work (a valid startRun, startTemplate or
// startProfile; a costly demoForward) are not sent: the point is the
// parser. LINEA_FUZZ_CASES=N runs N cases; LINEA_FUZZ_SEED=S another seed.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LAB_API_METHOD_NAMES, type LabApiMethod, type LabApiParams } from '../../../electron/api/labapi'
import { LAB_API_METHODS } from '../../../electron/api/labapi-schemas'
import { ModelSpecSchema } from '../../../electron/api/model-spec'
import { TrainSpecSchema } from '../../../electron/api/train-spec'
import { untrustedProblem } from '../../../electron/api/untrusted'
import { validateWith } from '../../../electron/api/validate'
import { startHeadless, type HeadlessApp } from '../../../electron/services/headless'
import { expandTemplate, loadTemplates } from '../../../electron/workspace/templates'
import { FuzzRng } from '../../fixtures/random'
import { glaLayer, modelSpec, trainSpec } from '../../fixtures/specs'
import { tempDir } from '../../fixtures/temp'
import { crashRecorder, openSocket, rawExchange, rawRequest, rawUpgrade, type Reply, type Socket } from '../server/raw-http'
import { mutate } from './mutate'
import { jsonCopy, PROTO_KEYS, randomString, randomValue } from './random'

function envInt(name: string, fallback: number): number {
  const text = process.env[name]
  if (text === undefined || text === '') return fallback
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name}=${text} is not a whole number >= 0`)
  return n
}
const SEED = envInt('LINEA_FUZZ_SEED', 20240611)
const CASES = envInt('LINEA_FUZZ_CASES', 3000)
const CALL_TIMEOUT_MS = 30_000
/** The server's limit on a WebSocket message (and on a body). */
const MAX_MESSAGE_BYTES = 16 << 20

let app: HeadlessApp
let base: string
let port: number
let token: string
let fuzzRoot: string
let workspace: string
/** A finished run of the workspace (one tiny training), so calls about runs reach a real run folder. */
let RUN_ID = '20240101T000000-no-such-run'
let RUN_CHECKPOINT: string | undefined
const crashes = crashRecorder()
const prototypeKeys = () => Object.getOwnPropertyNames(Object.prototype).sort().join(',')
const cleanPrototype = prototypeKeys()

beforeAll(async () => {
  // The services' own files (preferences, recent workspaces) go to a folder of the test's.
  process.env.LINEA_CONFIG_DIR = tempDir('linea-fuzz-config-')
  fuzzRoot = tempDir('linea-fuzz-')
  const staticDir = join(fuzzRoot, 'static')
  mkdirSync(staticDir)
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>fuzz</title>')
  writeFileSync(join(staticDir, 'app.js'), '1')
  writeFileSync(join(fuzzRoot, 'a-file'), 'not a folder')
  workspace = join(fuzzRoot, 'ws')
  app = await startHeadless({ staticDir, workspace })
  base = app.server.url.replace(/\/$/, '')
  port = app.server.port
  token = app.server.token
  const started = await httpPost('/api/startRun', JSON.stringify({ params: { name: 'fuzz seed run', modelSpec: tinyModel(), trainSpec: tinyTrain() } }))
  expect(started.status, started.text).toBe(200)
  RUN_ID = JSON.parse(started.text).result.id
  await app.workspaces.runner.idle()
  const runs = JSON.parse((await httpPost('/api/listRuns', '{}')).text).result.runs as { id: string; status: string; checkpoint?: string }[]
  const last = runs.find((r) => r.id === RUN_ID)
  expect(last, JSON.stringify(last)).toMatchObject({ status: 'completed', checkpoint: expect.any(String) })
  RUN_CHECKPOINT = last!.checkpoint
})
afterAll(async () => {
  await app?.close()
  crashes.stop()
})

// ---- valid calls, the seeds of the mutations ---------------------------------

const tinyModel = () => modelSpec({ d_model: 32, layers: [glaLayer({ heads: 2 })] })
const tinyTrain = () =>
  trainSpec({
    steps: 2,
    batch_size: 1,
    schedule: { warmup_steps: 0, decay: 'cosine', min_lr_ratio: 0.1 },
    task: { kind: 'mqar', seq_len: 16, num_kv_pairs: 2, power_a: 0.01, vocab_size: 256 },
    eval: { every: 1, batches: 1 },
  })

function validParams(method: LabApiMethod): Record<string, unknown> {
  switch (method) {
    case 'validateModelSpec':
    case 'startProfile':
      return method === 'startProfile'
        ? { spec: modelSpec(), name: 'fuzz', settings: { batchSize: 1, seqLen: 8, repeats: 1, warmup: 0, sweepLengths: [8] } }
        : { spec: modelSpec() }
    case 'validateTrainSpec':
      return { spec: tinyTrain() }
    case 'demoForward':
      return { seqLen: 8, heads: 1, dk: 4, dv: 4, seed: 1 }
    case 'estimateModel':
      return { spec: modelSpec(), contextLength: 1024 }
    case 'exportDesign':
      return { spec: modelSpec(), seed: 1 }
    case 'openWorkspace':
      return { path: join(fuzzRoot, 'other-ws') }
    case 'saveModelSpec':
      return { name: 'fuzz spec', spec: modelSpec() }
    case 'loadModelSpec':
      return { name: 'fuzz spec' }
    case 'startTemplate':
      return { id: 'hybrid-ratio-sweep', inputs: {}, overrides: { 'train.steps': 1 } }
    case 'startRun':
      return { name: 'fuzz run', modelSpec: tinyModel(), trainSpec: tinyTrain(), specName: 'fuzz spec' }
    case 'runMetrics':
    case 'cancelRun':
    case 'resumeRun':
    case 'exportRunCsv':
    case 'getProfile':
      return { id: method === 'getProfile' ? '20240101T000000-no-such-profile' : RUN_ID }
    case 'archiveRun':
      return { id: RUN_ID, archived: false }
    case 'tagRun':
      return { id: RUN_ID, add: ['fuzz'], remove: ['gone'] }
    case 'deleteRun':
      return { id: '20240101T000000-no-such-run' }
    case 'listCheckpoints':
    case 'listInspections':
      return { runId: RUN_ID }
    case 'startInspect':
      return {
        runId: RUN_ID,
        checkpoint: RUN_CHECKPOINT,
        input: { kind: 'task', example: 0 },
        heads: [0],
        stateSteps: [0],
        maxAttentionT: 16,
        localWindow: 4,
        refresh: true,
      }
    case 'getInspection':
    case 'cancelInspect':
      return { runId: RUN_ID, name: 'x' }
    case 'cancelProfile':
      return { id: '20240101T000000-no-such-profile' }
    case 'setPreferences':
      return { defaultBackend: 'cpu', device: 0 }
    default:
      return {}
  }
}

const templates = loadTemplates()

/** A path record key whose segments would walk a prototype: the server must refuse it, and the test must not walk it itself. */
const walksPrototype = (record: unknown) =>
  typeof record === 'object' && record !== null && Object.keys(record).some((k) => k.split('.').some((s) => (PROTO_KEYS as readonly string[]).includes(s)))

/**
 * Why a call is not sent: it would start work (a training run, a profile, a
 * big forward pass) because it is still valid after mutation. Checked the
 * way the server checks it, on the JSON the server would see.
 */
function notSent(method: LabApiMethod, params: unknown): string | undefined {
  const p = jsonCopy(params ?? {})
  if (untrustedProblem(p)) return undefined
  const parsed = LAB_API_METHODS[method].safeParse(p)
  if (!parsed.success) return undefined
  /** The checked params as `m`'s: the switch below says which method this is. */
  const d = <M extends LabApiMethod>(_m: M) => parsed.data as LabApiParams<M>
  switch (method) {
    case 'startRun': {
      const { modelSpec, trainSpec } = d('startRun')
      return validateWith(ModelSpecSchema, modelSpec).ok && validateWith(TrainSpecSchema, trainSpec).ok ? 'a valid startRun' : undefined
    }
    case 'startProfile':
      return validateWith(ModelSpecSchema, d('startProfile').spec).ok ? 'a valid startProfile' : undefined
    case 'exportDesign':
      // A valid spec is initialized and written: a mutated one may be large.
      return validateWith(ModelSpecSchema, d('exportDesign').spec).ok ? 'a valid exportDesign' : undefined
    case 'deleteRun':
      return d('deleteRun').id === RUN_ID ? 'a deleteRun of the seed run' : undefined
    case 'startTemplate': {
      const { id, inputs, overrides } = d('startTemplate')
      const t = templates.find((x) => x.id === id)
      if (!t || walksPrototype(inputs) || walksPrototype(overrides)) return undefined
      try {
        expandTemplate(t, inputs, overrides)
        return 'a valid startTemplate'
      } catch {
        return undefined
      }
    }
    case 'demoForward': {
      const { seqLen, heads, dk, dv } = d('demoForward')
      return seqLen * heads * dk * dv > 4_000_000 ? 'a costly demoForward' : undefined
    }
    case 'startInspect': {
      // Sent when it names another run or checkpoint (a path the server must confine to the run folder).
      const { runId, checkpoint } = d('startInspect')
      return runId === RUN_ID && (checkpoint === undefined || checkpoint === RUN_CHECKPOINT) ? 'a valid startInspect' : undefined
    }
    case 'openWorkspace': {
      // Only folders under the fuzz root: a mutated path must not make folders elsewhere.
      const { path } = d('openWorkspace')
      return typeof path === 'string' && !path.startsWith(`${fuzzRoot}/`) ? 'a workspace outside the fuzz folder' : undefined
    }
    default:
      return undefined
  }
}

/** Keeps openWorkspace's path (when a string) under the fuzz root, without '..'. */
function confine(method: LabApiMethod, params: unknown): unknown {
  if (method !== 'openWorkspace' || typeof params !== 'object' || params === null || Array.isArray(params)) return params
  const p = params as Record<string, unknown>
  if (typeof p.path === 'string' && !p.path.startsWith(`${fuzzRoot}/`)) p.path = `${fuzzRoot}/w/${p.path.replace(/\.\./g, '__')}`
  else if (typeof p.path === 'string') p.path = p.path.replace(/\.\./g, '__')
  return params
}

// ---- sending, and judging the answers ------------------------------------------

const auth = () => ({ Authorization: `Bearer ${token}` })
const clipText = (s: string, n = 600) => (s.length <= n ? s : `${s.slice(0, n)}… (${s.length} characters)`)
/**
 * A failure's signature, to group the instances of one bug over both
 * transports: the error code and its message up to the first quoted value
 * (what the caller sent, clipped or not), numbers blanked.
 */
const signature = (wrong: string) =>
  wrong
    .replace(/^HTTP \d+ |^WS /, '')
    .replace(/'.*$/s, "'…'")
    .replace(/\d+/g, 'N')
    .slice(0, 160)

async function httpPost(path: string, body: string | Buffer): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: auth(),
    body: typeof body === 'string' ? body : new Uint8Array(body),
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  })
  return { status: res.status, text: await res.text() }
}

/** Why an HTTP answer to a caller's mistake is wrong ("HTTP 500 internal: <message>"), or undefined. */
function judgeHttp(status: number, text: string): string | undefined {
  let error: { code?: string; message?: string } | undefined
  try {
    error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error
  } catch {
    // a plain-text answer (403, 404 of a file)
  }
  const code = error?.code
  if (status >= 500 || code === 'internal' || code === 'engine_error') return `HTTP ${status} ${code ?? ''}: ${clipText(error?.message ?? text, 300)}`
  return undefined
}

/** Why a WebSocket reply to a caller's mistake is wrong ("WS internal: <message>"), or undefined. */
function judgeReply(reply: Reply): string | undefined {
  const code = reply.error?.code
  if (code === 'internal' || code === 'engine_error') return `WS ${code}: ${clipText(reply.error!.message, 300)}`
  return undefined
}

let ws: Socket | undefined
async function socket(): Promise<Socket> {
  if (!ws || ws.ws.readyState !== ws.ws.OPEN) ws = await openSocket(`${base.replace('http', 'ws')}/ws`, token)
  return ws
}

async function wsCall(message: string | Buffer): Promise<Reply> {
  return (await socket()).call(message, CALL_TIMEOUT_MS)
}

let nextId = 1
/**
 * Sends a call; resolves with why its answer is wrong (undefined when right)
 * and what a start call that passed returned. An answer is also wrong when
 * it is a result for parameters the method's schema (or the first look at
 * untrusted input) refuses: the front door let something through.
 */
async function sendCall(transport: 'HTTP' | 'WS', method: string, params: unknown, rawBody?: string): Promise<{ wrong?: string; started?: unknown }> {
  const mustRefuse = rawBody === undefined && schemaRefuses(method, params)
  const accepted = (result: unknown) =>
    mustRefuse ? `${transport} answered a result for parameters the ${method} schema refuses: ${clipText(JSON.stringify(result) ?? '', 200)}` : undefined
  if (transport === 'HTTP') {
    const r = await httpPost(`/api/${method}`, rawBody ?? JSON.stringify({ params }))
    const result = r.status === 200 ? (JSON.parse(r.text) as { result: unknown }).result : undefined
    return { wrong: judgeHttp(r.status, r.text) ?? (r.status === 200 ? accepted(result) : undefined), started: /^start/.test(method) ? result : undefined }
  }
  const id = nextId++
  const message = JSON.stringify({ id, method, params })
  if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES) {
    // Over the server's limit: it must close the socket with 1009 (message too big), not answer.
    const s = await socket()
    s.ws.send(message)
    const code = await s.closed
    return { wrong: code === 1009 ? undefined : `a message over ${MAX_MESSAGE_BYTES} bytes closed the socket with ${code}, not 1009` }
  }
  const reply = await wsCall(message)
  if (reply.id !== id) return { wrong: `WS reply id ${JSON.stringify(reply.id)} to a call with id ${id}` }
  const answered = Object.hasOwn(reply, 'result')
  return { wrong: judgeReply(reply) ?? (answered ? accepted(reply.result) : undefined), started: answered && /^start/.test(method) ? reply.result : undefined }
}

/** Whether the server must refuse `params` for `method` before any handler runs (null and no params are {}). */
function schemaRefuses(method: string, params: unknown): boolean {
  if (!(LAB_API_METHOD_NAMES as readonly string[]).includes(method)) return true
  const p = params === undefined || params === null ? {} : jsonCopy(params)
  return untrustedProblem(p) !== undefined || !LAB_API_METHODS[method as LabApiMethod].safeParse(p).success
}

// ---- the case families -----------------------------------------------------------

interface Failure {
  family: string
  transport: string
  method: string
  wrong: string
  repro: string
  /** Another attempt with the same inputs, for shrinking; resolves with why it is wrong. */
  retry?: (params: unknown) => Promise<string | undefined>
  params?: unknown
}

/** Percent-encoding of a string's UTF-8 (lone surrogates become U+FFFD, where encodeURIComponent would throw). */
const pct = (s: string) =>
  [...Buffer.from(s, 'utf8')]
    .map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('')

const ODD_METHODS = [
  '',
  ' ',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  'engineInfo ',
  'EngineInfo',
  'engineinfo',
  'engineInfo\u0000',
  'engine/Info',
  '../engineInfo',
  'workspaceInfo/x',
  'a'.repeat(100_000),
  '\ud800',
  '🦀',
]

/** Request targets for raw HTTP: escapes, traversal, absolute forms, odd ports and hosts. */
function randomTarget(rng: FuzzRng): string {
  const hex = () => rng.pick(['0', '2', '7', 'a', 'C', 'F', 'z', 'g', ''])
  switch (rng.int(12)) {
    case 0:
      return `/%${hex()}${hex()}`
    case 1:
      return rng.pick(['/%C0', '/%C0%AF', '/%E0%80%AF', '/%ED%A0%80', '/%F4%90%80%80', '/%FF', '/%', '/%%', '/%zz', '/a%2', '/assets/%E0%A4%A'])
    case 2:
      return `http://${rng.pick(['x', '127.0.0.1', '[', '[::1', 'a@b', '%', ''])}:${rng.pick([0, 80, 99999, 1e9, -1, ''])}/${rng.pick(['', 'ws', 'api/workspaceInfo'])}`
    case 3:
      return rng.pick([
        '//evil.example/',
        '/\\evil.example',
        '///x',
        '/..%2f..%2f..%2fetc/passwd',
        '/%2e%2e/%2e%2e/etc/passwd',
        '/../../etc/passwd',
        '/reports/../x',
        '/reports/%2e%2e/report.html',
        '/reports/x/report.html',
        '/reports/a-b_c/report.pdf',
        '/reports/%00/report.html',
        '/%00',
        '/index.html%00.js',
      ])
    case 4:
      return `/${pct(randomString(rng).slice(0, 200)).replace(/%2F/g, rng.pick(['/', '%2F', '%2f']))}`
    case 5:
      return `/${'a/'.repeat(rng.int(2000))}`
    case 6:
      return `/?token=${rng.pick(['', 'x', '%', '%zz', token, `${token}&token=x`])}`
    case 7:
      return rng.pick(['*', 'x', 'ftp://%/', 'file:///etc/passwd', 'javascript:alert(1)', 'data:,x', 'http://[/', 'http://x:99999/'])
    case 8:
      return `/api/${pct(rng.pick(ODD_METHODS)).slice(0, 4000)}`
    case 9:
      return `/api/${rng.pick(['%', '%zz', '%C0', '..%2fworkspaceInfo', 'workspaceInfo?x=%', 'workspaceInfo#x'])}`
    case 10:
      return `/app.js?${'x'.repeat(rng.int(8000))}`
    default:
      return `/${rng.pick(['app.js', 'index.html', 'nope.js', 'nope', ''])}${rng.pick(['', '/', '?', '?a=%', '#x'])}`
  }
}

function randomHeaders(rng: FuzzRng): Record<string, string> {
  const h: Record<string, string> = {}
  const t = rng.int(5)
  if (t === 0) h.Authorization = `Bearer ${token}`
  else if (t === 1) h.Cookie = `linea_token=${token}`
  else if (t === 2) h.Authorization = rng.pick(['Bearer', 'Bearer ', `Bearer ${token}x`, 'Basic x', `bearer ${token}`])
  else if (t === 3) h.Cookie = rng.pick(['linea_token', 'linea_token=', ';;;', `a=b; linea_token=${token}; linea_token=x`, '=x'])
  if (rng.chance(0.2)) h.Origin = rng.pick(['null', 'https://evil.example', `http://127.0.0.1:${port}`, '', 'http://localhost'])
  if (rng.chance(0.1)) h['Content-Type'] = rng.pick(['application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16'])
  if (rng.chance(0.05)) h['Content-Length'] = rng.pick(['-1', 'abc', '1e3', String(17 << 20), '99999999999999999999'])
  return h
}

/** A body that is not `{"params": {...}}`. */
function randomBody(rng: FuzzRng): string | Buffer {
  switch (rng.int(8)) {
    case 0:
      return rng.pick(['null', '[]', '3', '"x"', 'true', 'false', '-0', '1e400', '[{"params":{}}]', '{"params":{}}{"params":{}}'])
    case 1:
      return rng.bytes(1 + rng.int(200))
    case 2:
      return JSON.stringify(randomValue(rng))
    case 3:
      return JSON.stringify({ params: {}, [randomString(rng).slice(0, 30)]: randomValue(rng) })
    case 4:
      return `\ufeff{"params":{}}`
    case 5:
      return rng.pick([
        '{"params":',
        '{',
        '{"params":{}',
        '{"params":{"a":1,}}',
        "{'params':{}}",
        '{"params":NaN}',
        '{"params":Infinity}',
        '{"__proto__":{"polluted":1}}',
        '{"params":{"__proto__":{"polluted":1}}}',
        '{"constructor":{"prototype":{"polluted":1}}}',
      ])
    case 6:
      return `{"params": ${'['.repeat(rng.pick([100, 10_000, 100_000]))}`
    default:
      return JSON.stringify({ params: randomValue(rng) })
  }
}

/** The body text of a call with a raw mutation: truncated, a number made odd, bytes inserted. */
function rawMutation(rng: FuzzRng, text: string): string {
  switch (rng.int(4)) {
    case 0:
      return text.slice(0, rng.int(text.length))
    case 1: {
      const odd = rng.pick(['1e400', '-1e400', '1e-400', '-0', '123456789012345678901234567890', '0.00000000000000000000001', 'NaN', 'Infinity', '0x10', '01'])
      let done = false
      return text.replace(/-?\d+(\.\d+)?([eE][+-]?\d+)?/g, (m) => (!done && rng.chance(0.3) ? ((done = true), odd) : m))
    }
    case 2: {
      const at = rng.int(text.length + 1)
      return text.slice(0, at) + rng.pick(['\u0000', ',', '"', '\\', '}', ']', '\ud800', '\uffff', ' ']) + text.slice(at)
    }
    default:
      // a duplicate key: JSON.parse keeps the last one
      return text.replace(/^\{"params":/, '{"params":{},"params":')
  }
}

// ---- the fuzz ------------------------------------------------------------------------

describe('LabApi fuzz', () => {
  it(`survives ${CASES} malformed calls, targets, bodies and messages (seed ${SEED})`, async () => {
    const rng = new FuzzRng(SEED)
    const failures: Failure[] = []
    const counts = { HTTP: 0, WS: 0, skipped: 0, started: 0 }
    const skippedWhy = new Map<string, number>()
    const started0 = Date.now()

    let previousRepro = '(none)'
    async function afterCase(family: string, transport: string, method: string, repro: string): Promise<void> {
      const fail = (wrong: string) => failures.push({ family, transport, method, wrong, repro })
      // An exception in a server callback can surface a little after the request that caused it: name the case before too.
      const seen = crashes.seen.splice(0)
      for (const s of seen) failures.push({ family, transport, method, wrong: clipText(s, 800), repro: `${repro}\n  or the case before: ${previousRepro}` })
      previousRepro = repro
      if (prototypeKeys() !== cleanPrototype) {
        fail(`Object.prototype changed: own keys now ${prototypeKeys()}`)
        for (const k of Object.getOwnPropertyNames(Object.prototype))
          if (!cleanPrototype.split(',').includes(k)) delete (Object.prototype as Record<string, unknown>)[k]
      }
      try {
        const h = await httpPost('/api/workspaceInfo', '{"params":{}}')
        const path = h.status === 200 ? (JSON.parse(h.text) as { result?: { path?: unknown } }).result?.path : undefined
        if (typeof path !== 'string') fail(`the health call answered ${h.status}: ${clipText(h.text, 200)}`)
        else if (path !== workspace) {
          // An openWorkspace that passed: back to the workspace with the seed run.
          const back = await httpPost('/api/openWorkspace', JSON.stringify({ params: { path: workspace } }))
          if (back.status !== 200) fail(`reopening the fuzz workspace answered ${back.status}: ${clipText(back.text, 200)}`)
        }
      } catch (err) {
        fail(`the health call failed: ${(err as Error).message}`)
      }
    }

    /** Cancels what a start call that should not have passed started (and records it). */
    async function undoStart(result: unknown): Promise<void> {
      counts.started++
      const runs = Array.isArray(result) ? result : [result]
      for (const r of runs) {
        const id = (r as { id?: unknown })?.id
        if (typeof id === 'string') await httpPost('/api/cancelRun', JSON.stringify({ params: { id } })).catch(() => {})
      }
    }

    let done = 0
    while (done < CASES) {
      const transport = done % 2 === 0 ? 'HTTP' : 'WS'
      const roll = rng.uniform()
      let family = ''
      let method = ''
      let repro = ''
      try {
        if (roll < 0.62) {
          // a valid call, mutated (one in ten not mutated, except the calls that start work)
          family = 'mutated call'
          method = rng.pick(LAB_API_METHOD_NAMES)
          const valid = validParams(method as LabApiMethod)
          const params = confine(
            method as LabApiMethod,
            rng.chance(0.1) ? valid : mutate(rng, valid, method === 'startTemplate' ? ['inputs', 'overrides'] : []),
          )
          const why = notSent(method as LabApiMethod, params)
          if (why) {
            counts.skipped++
            skippedWhy.set(why, (skippedWhy.get(why) ?? 0) + 1)
            continue
          }
          const rawBody = transport === 'HTTP' && rng.chance(0.15) ? rawMutation(rng, JSON.stringify({ params })) : undefined
          repro =
            transport === 'HTTP'
              ? `POST /api/${method} ${clipText(rawBody ?? JSON.stringify({ params }))}`
              : `WS ${clipText(JSON.stringify({ id: 1, method, params }))}`
          const r = await sendCall(transport, method, params, rawBody)
          if (r.started !== undefined) await undoStart(r.started)
          if (r.wrong) {
            const m = method
            failures.push({
              family,
              transport,
              method,
              wrong: r.wrong,
              repro,
              params: rawBody === undefined ? params : undefined,
              retry: async (p) => (await sendCall(transport, m, p)).wrong,
            })
          }
        } else if (roll < 0.67) {
          family = 'odd method name'
          method = rng.chance(0.5) ? rng.pick(ODD_METHODS) : randomString(rng)
          const params = rng.chance(0.5) ? {} : randomValue(rng)
          if (transport === 'HTTP') {
            const path = `/api/${pct(method).slice(0, 6000)}`
            repro = `POST ${clipText(path, 200)} ${clipText(JSON.stringify({ params }))}`
            const r = await httpPost(path, JSON.stringify({ params }))
            const wrong = judgeHttp(r.status, r.text)
            if (wrong) failures.push({ family, transport, method, wrong, repro })
          } else {
            repro = `WS ${clipText(JSON.stringify({ id: 1, method, params }))}`
            const r = await sendCall('WS', method, params)
            if (r.wrong) failures.push({ family, transport, method, wrong: r.wrong, repro })
          }
        } else if (transport === 'HTTP') {
          const sub = rng.uniform()
          if (sub < 0.4) {
            family = 'request target'
            const verb = rng.pick(['GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'BREW'])
            const target = randomTarget(rng)
            const headers = randomHeaders(rng)
            const text = rawRequest(port, target, headers, verb, verb === 'POST' && rng.chance(0.5) ? '{"params":{}}' : '')
            repro = `raw ${JSON.stringify(clipText(text, 800))}`
            const r = await rawExchange(port, text, { timeoutMs: CALL_TIMEOUT_MS })
            // 0: the server closed without an answer; only right when the request could not even be parsed (Node's parser answers those itself, usually 400).
            if (r.status === 0 || r.status >= 500)
              failures.push({ family, transport, method: verb, wrong: `answered ${r.status || 'nothing'}: ${clipText(r.text, 300)}`, repro })
          } else if (sub < 0.75) {
            family = 'bad body'
            method = rng.pick(LAB_API_METHOD_NAMES)
            const body = randomBody(rng)
            repro = `POST /api/${method} ${clipText(JSON.stringify(String(body)))}`
            const r = await httpPost(`/api/${method}`, body)
            const wrong = judgeHttp(r.status, r.text)
            if (wrong) failures.push({ family, transport, method, wrong, repro })
          } else if (sub < 0.9) {
            family = 'upgrade'
            const target = rng.chance(0.6) ? '/ws' : randomTarget(rng)
            const headers = randomHeaders(rng)
            if (rng.chance(0.3)) headers['Sec-WebSocket-Version'] = rng.pick(['8', '', 'x', '13, 8'])
            if (rng.chance(0.2))
              headers['Sec-WebSocket-Protocol'] = rng.pick([
                '',
                ',',
                'a,,b',
                'a, a',
                '"x"',
                randomString(rng)
                  // eslint-disable-next-line no-control-regex -- drops control characters on purpose: a header value cannot carry them
                  .replace(/[\r\n\u0000-\u001f\u007f-\uffff]/g, '')
                  .slice(0, 100),
              ])
            if (rng.chance(0.2))
              headers['Sec-WebSocket-Extensions'] = rng.pick([
                'permessage-deflate; server_max_window_bits=99',
                'permessage-deflate; x=',
                ';;',
                'x; y="',
                'permessage-deflate, permessage-deflate',
              ])
            if (rng.chance(0.1)) headers['Sec-WebSocket-Key'] = rng.pick(['', 'x', 'dGhlIHNhbXBsZSBub25jZQ', '!!!!!!!!!!!!!!!!!!!!!!!='])
            const text = rawUpgrade(port, target, headers)
            repro = `raw ${JSON.stringify(clipText(text, 800))}`
            const r = await rawExchange(port, text, { headOnly: true, timeoutMs: CALL_TIMEOUT_MS })
            if (r.status === 0 || r.status >= 500)
              failures.push({ family, transport, method: '', wrong: `answered ${r.status || 'nothing'}: ${clipText(r.text, 300)}`, repro })
          } else {
            family = 'client reset'
            const text = rng.chance(0.5)
              ? rawUpgrade(port, rng.chance(0.5) ? '/ws' : randomTarget(rng), randomHeaders(rng))
              : rawRequest(port, randomTarget(rng), randomHeaders(rng), rng.pick(['GET', 'POST']), rng.chance(0.5) ? '{"params":' : '')
            repro = `raw, then reset: ${JSON.stringify(clipText(text, 800))}`
            await rawExchange(port, text, { reset: true })
          }
        } else {
          const sub = rng.uniform()
          if (sub < 0.9) {
            family = 'bad message'
            let message: string | Buffer
            const k = rng.int(6)
            if (k === 0) message = rng.bytes(1 + rng.int(100))
            else if (k === 1) message = randomString(rng)
            else if (k === 2) message = JSON.stringify(randomValue(rng))
            else if (k === 3) message = JSON.stringify({ id: randomValue(rng), method: rng.pick([...LAB_API_METHOD_NAMES, 'nope']), params: randomValue(rng) })
            else if (k === 4)
              message = rng.pick([
                '{"id":1,"method":"workspaceInfo","params":{},"__proto__":{"polluted":1}}',
                '{"__proto__":{"method":"workspaceInfo"}}',
                '{"id":1,"__proto__":{"method":"workspaceInfo"}}',
                '{"id":1,"method":"workspaceInfo","params":{"__proto__":{"polluted":1}}}',
                '{"id":{"__proto__":1},"method":"x"}',
              ])
            else message = JSON.stringify({ id: 1, method: 'workspaceInfo', params: {}, [randomString(rng).slice(0, 20)]: 1 })
            repro = `WS ${Buffer.isBuffer(message) ? `binary ${message.toString('hex')}` : clipText(JSON.stringify(message))}`
            const reply = await wsCall(message)
            const wrong = judgeReply(reply)
            if (wrong) failures.push({ family, transport, method: '', wrong, repro })
          } else {
            family = 'bad frame'
            // Bytes written past the ws client, straight on the socket: mostly frames the server must refuse by closing.
            const s = await socket()
            const frame = rng.chance(0.5)
              ? rng.bytes(2 + rng.int(30))
              : Buffer.from(
                  rng.pick([
                    [0xff, 0x80, 0, 0, 0, 0],
                    [0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f],
                    [0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28],
                    [0x88, 0x80, 0, 0, 0, 0],
                    [0x89, 0xfe, 0xff, 0xff],
                  ]),
                )
            repro = `WS raw bytes ${frame.toString('hex')}`
            ;(s.ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(frame)
            // Whatever the server made of them, this socket is done: a fresh one serves the next case.
            s.ws.terminate()
            await s.closed
          }
        }
      } catch (err) {
        // No answer at all (a timeout, a dropped socket): as wrong as a wrong answer.
        failures.push({ family, transport, method, wrong: `no answer: ${(err as Error).message}`, repro })
        ws?.ws.terminate()
      }
      if (transport === 'HTTP') counts.HTTP++
      else counts.WS++
      done++
      await afterCase(family, transport, method, repro)
    }
    ws?.ws.close()

    // Group, and shrink the first of each group to a small reproduction.
    const groups = new Map<string, { first: Failure; count: number; shrunk?: unknown }>()
    for (const f of failures) {
      const key = `${f.family} | ${f.method} | ${signature(f.wrong)}`
      const g = groups.get(key)
      if (g) g.count++
      else groups.set(key, { first: f, count: 1 })
    }
    for (const g of [...groups.values()].slice(0, 20))
      if (g.first.retry && g.first.params !== undefined) g.shrunk = await shrink(g.first.params, g.first.retry, signature(g.first.wrong))

    const seconds = ((Date.now() - started0) / 1000).toFixed(1)
    const skipped = counts.skipped
      ? `, ${counts.skipped} valid calls that start work not sent (${[...skippedWhy].map(([w, n]) => `${n} ${w}`).join(', ')})`
      : ''
    const leaked = counts.started ? `, ${counts.started} start calls the local checks thought invalid started work (cancelled)` : ''
    console.log(
      `labapi fuzz: ${done} cases (HTTP ${counts.HTTP}, WS ${counts.WS}), ${failures.length} failures in ${groups.size} groups, seed ${SEED}, ${seconds} s${skipped}${leaked}`,
    )
    const report = [...groups.entries()].map(([key, g]) => {
      const lines = [`[${g.count}x] ${key}`, `  wrong: ${g.first.wrong}`, `  first: ${g.first.repro}`]
      if (g.shrunk !== undefined)
        lines.push(
          `  minimal: ${g.first.transport === 'HTTP' ? `POST /api/${g.first.method} ` : `WS {"id":1,"method":"${g.first.method}","params":…} `}${clipText(JSON.stringify({ params: g.shrunk }), 1000)}`,
        )
      return lines.join('\n')
    })
    if (report.length) console.log(report.join('\n\n'))
    expect(report, `${failures.length} failures (see above)`).toEqual([])
  }, 1_800_000)
})

/**
 * Greedy shrinking: tries the value with one subtree removed or made
 * trivial, keeps any change after which the call still fails the same way,
 * until no change does (or 150 tries).
 */
async function shrink(params: unknown, retry: (p: unknown) => Promise<string | undefined>, sig: string): Promise<unknown> {
  let best = jsonCopy(params)
  let tries = 0
  const stillFails = async (p: unknown) => {
    tries++
    try {
      const wrong = await retry(p)
      return wrong !== undefined && signature(wrong) === sig
    } catch {
      return false
    }
  }
  let progress = true
  while (progress && tries < 150) {
    progress = false
    for (const candidate of simpler(best)) {
      if (tries >= 150) break
      if (await stillFails(candidate)) {
        best = candidate
        progress = true
        break
      }
    }
  }
  return best
}

/** Values one step simpler than `v`: a key or element gone, a subtree made trivial, a string halved. */
function* simpler(v: unknown): Generator<unknown> {
  if (typeof v === 'string' && v.length > 1) {
    yield v.slice(0, 1)
    yield v.slice(0, Math.ceil(v.length / 2))
  }
  if (typeof v !== 'object' || v === null) return
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) yield [...v.slice(0, i), ...v.slice(i + 1)]
    for (let i = 0; i < v.length; i++) for (const s of simpler(v[i])) yield v.map((x, j) => (j === i ? s : x))
    return
  }
  const keys = Object.keys(v)
  const rebuilt = (skip: string, replace?: { value: unknown }) => {
    const o: Record<string, unknown> = {}
    for (const k of keys)
      if (k !== skip) Object.defineProperty(o, k, { value: (v as Record<string, unknown>)[k], enumerable: true, writable: true, configurable: true })
    if (replace) Object.defineProperty(o, skip, { value: replace.value, enumerable: true, writable: true, configurable: true })
    return o
  }
  for (const k of keys) yield rebuilt(k)
  for (const k of keys) for (const s of simpler((v as Record<string, unknown>)[k])) yield rebuilt(k, { value: s })
}
