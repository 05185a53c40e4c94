// What a caller can send the headless server that it must survive: every
// request, upgrade and WebSocket message is answered (400 for a malformed
// one, with a message saying what is wrong), nothing reaches the event loop
// unhandled, and no file outside the renderer folder or the workspace's
// profiles folder is served, whatever links point there.
import { execFileSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readlinkSync, symlinkSync, writeFileSync, constants } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { startServer, type RunningServer } from '../../../electron/server/server'
import { startHeadless, type HeadlessApp } from '../../../electron/services/headless'
import { createLabServices } from '../../../electron/services/lab-services'
import { tempDir } from '../../fixtures/temp'
import { until } from '../../fixtures/until'
import { crashRecorder, openSocket, rawExchange, rawRequest, rawUpgrade } from './raw-http'

let app: HeadlessApp
let base: string
let port: number
let token: string
let staticDir: string
let workspace: string
const crashes = crashRecorder()
/** Outside both served folders: what no link may reveal. */
const outside = tempDir('linea-outside-')
const SECRET = 'SECRET-OUTSIDE-THE-SERVED-FOLDERS'
const BIG = 32 << 20

beforeAll(async () => {
  process.env.LINEA_CONFIG_DIR = tempDir('linea-config-')
  writeFileSync(join(outside, 'secret.txt'), SECRET)
  writeFileSync(join(outside, 'report.html'), SECRET)
  staticDir = tempDir('linea-static-')
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Linea test page</title>')
  writeFileSync(join(staticDir, 'app.js'), 'console.log("app")')
  writeFileSync(join(staticDir, 'big.bin'), Buffer.alloc(BIG, 7))
  symlinkSync(join(outside, 'secret.txt'), join(staticDir, 'leak.txt'))
  symlinkSync(outside, join(staticDir, 'outdir'))
  symlinkSync(join(staticDir, 'app.js'), join(staticDir, 'same.js'))
  execFileSync('mkfifo', [join(staticDir, 'pipe.js')])
  mkdirSync(join(staticDir, 'folder.js'))

  workspace = tempDir('linea-ws-')
  const profiles = join(workspace, 'profiles')
  mkdirSync(join(profiles, 'real'), { recursive: true })
  writeFileSync(join(profiles, 'real', 'report.html'), '<p>the real report</p>')
  mkdirSync(join(profiles, 'linked-file'))
  symlinkSync(join(outside, 'report.html'), join(profiles, 'linked-file', 'report.html'))
  symlinkSync(outside, join(profiles, 'linked-folder'))
  mkdirSync(join(profiles, 'folder', 'report.html'), { recursive: true })

  app = await startHeadless({ staticDir, workspace })
  base = app.server.url.replace(/\/$/, '')
  port = app.server.port
  token = app.server.token
})
afterAll(async () => {
  // A server that opened the FIFO for reading waits for a writer in a thread of the pool: give it one.
  try {
    closeSync(openSync(join(staticDir, 'pipe.js'), constants.O_WRONLY | constants.O_NONBLOCK))
  } catch {
    // nobody was waiting on it
  }
  await app?.close()
  crashes.stop()
})
afterEach(async () => {
  const seen = crashes.seen.splice(0) // each test answers for its own
  expect(seen, 'exceptions or rejections reached the event loop').toEqual([])
  expect((await health()).status, 'the server still answers').toBe(200)
})

const auth = () => ({ Authorization: `Bearer ${token}` })

async function health() {
  const res = await fetch(`${base}/api/workspaceInfo`, { method: 'POST', headers: auth(), body: '{"params":{}}' })
  return { status: res.status, body: await res.text() }
}

async function postRaw(method: string, body: string) {
  const res = await fetch(`${base}/api/${method}`, { method: 'POST', headers: auth(), body })
  return { status: res.status, json: (await res.json()) as { result?: unknown; error?: { code: string; message: string } } }
}

describe('malformed requests without a token', () => {
  it('a request target the URL parser refuses is a 400, before any token check', async () => {
    for (const target of ['http://x:99999/', 'http://[/', 'ftp://%/', '*']) {
      const r = await rawExchange(port, rawRequest(port, target))
      expect(r.status, target).toBe(400)
      expect(r.text, target).toContain(`the request target '${target}' is not a valid path or URL`)
    }
    // Node's parser refuses these itself: 400, no message
    for (const target of ['http://a b/', 'x']) expect((await rawExchange(port, rawRequest(port, target))).status, target).toBe(400)
  })

  it('an upgrade with such a target is refused with 400 too', async () => {
    const r = await rawExchange(port, rawUpgrade(port, 'http://x:99999/ws'))
    expect(r.status).toBe(400)
  })

  it('a client that resets the connection right after a refused upgrade does not crash the server', async () => {
    for (let i = 0; i < 20; i++) await rawExchange(port, rawUpgrade(port, '/ws'), { reset: true })
    for (let i = 0; i < 20; i++) await rawExchange(port, rawUpgrade(port, '/not-ws', auth()), { reset: true })
    for (let i = 0; i < 20; i++) await rawExchange(port, rawUpgrade(port, 'http://x:99999/ws'), { reset: true })
  })

  it('huge headers get 431, and a request with no Host gets 403', async () => {
    expect((await rawExchange(port, rawRequest(port, '/', { Cookie: `a=${'x'.repeat(100_000)}` }))).status).toBe(431)
    expect((await rawExchange(port, `GET / HTTP/1.0\r\n\r\n`)).status).toBe(403)
  })
})

describe('malformed requests with the token', () => {
  it('a bad percent-escape in a path is a 400 naming the path', async () => {
    for (const path of ['/%', '/%zz', '/%C0', '/assets/%E0%A4%A', '/reports/%/report.html']) {
      const r = await rawExchange(port, rawRequest(port, path, auth()))
      expect(r.status, path).toBe(400)
      expect(r.text).toContain('percent-escape')
    }
  })

  it('a body that is not a JSON object is a 400 saying what a body is', async () => {
    for (const body of ['null', '[]', '[{"params":{}}]', '3', '"params"', 'true']) {
      const r = await postRaw('workspaceInfo', body)
      expect(r.status, body).toBe(400)
      expect(r.json.error).toMatchObject({ code: 'bad_request' })
      expect(r.json.error!.message).toContain('request body must be a JSON object like {"params": {...}}')
    }
    const typo = await postRaw('workspaceInfo', '{"parms": {}}')
    expect(typo.status).toBe(400)
    expect(typo.json.error!.message).toContain("'parms'")
    expect((await postRaw('workspaceInfo', '{"params": {}}')).status).toBe(200)
    expect((await postRaw('workspaceInfo', '')).status).toBe(200) // no body: no params
  })

  it('a body announced over the size limit is refused at once with 413', async () => {
    const r = await rawExchange(port, rawRequest(port, '/api/workspaceInfo', { ...auth(), 'Content-Length': String(17 << 20) }, 'POST'))
    expect(r.status).toBe(413)
    expect(r.text).toContain('request body over')
  })

  it('odd method names are unknown methods, named in a clipped message', async () => {
    for (const name of ['__proto__', 'constructor', 'hasOwnProperty', 'toString', '%E2%80%AE', 'engineInfo%00', 'x'.repeat(5000)]) {
      const r = await postRaw(name, '{}')
      expect(r.status, name.slice(0, 20)).toBe(404)
      expect(r.json.error!.code).toBe('unknown_method')
      expect(r.json.error!.message.length).toBeLessThan(300)
    }
  })

  it('the launch URL redirect stays on this server', async () => {
    for (const target of [`//evil.example/?token=${token}`, `/\\evil.example/?token=${token}`, `///evil.example/x?token=${token}`]) {
      const r = await rawExchange(port, rawRequest(port, target))
      expect(r.status, target).toBe(303)
      const location = /\r\nLocation: ([^\r]*)/i.exec(r.text)?.[1] ?? ''
      expect(location, target).toMatch(/^\/(?![/\\])/)
    }
  })
})

describe('the WebSocket', () => {
  const wsUrl = () => `${base.replace('http', 'ws')}/ws`

  it('answers a message that is not a call object with bad_request, and keeps the socket', async () => {
    const s = await openSocket(wsUrl(), token)
    try {
      for (const text of ['null', '3', '"workspaceInfo"', '[]', '[{"id":1,"method":"workspaceInfo"}]', '{}', 'true']) {
        const reply = await s.call(text)
        expect(reply.id, text).toBeNull()
        expect(reply.error, text).toMatchObject({ code: 'bad_request' })
      }
      expect(await s.call('{"id": 7}')).toMatchObject({ id: 7, error: { code: 'bad_request', message: expect.stringContaining('method') } })
      expect(await s.call('{"id": 8, "method": 5}')).toMatchObject({ id: 8, error: { code: 'bad_request' } })
      expect(await s.call('{"id": 9, "method": "nope"}')).toMatchObject({ id: 9, error: { code: 'unknown_method' } })
      expect(await s.call('{"id": 10, "method": "workspaceInfo", "params": {}, "extra": 1}')).toMatchObject({
        id: 10,
        error: { code: 'bad_request', message: expect.stringContaining("'extra'") },
      })
      expect(await s.call(Buffer.from([0xff, 0xfe, 0x00, 0x80]))).toMatchObject({ id: null, error: { code: 'bad_request' } })
      expect(await s.call('{"id": 11, "method": "workspaceInfo", "params": null}')).toMatchObject({ id: 11, result: { path: expect.any(String) } })
    } finally {
      s.ws.close()
    }
  })

  it('closes a socket that sends an invalid frame, and serves the others', async () => {
    for (const frame of [
      [0xff, 0x80, 0, 0, 0, 0], // reserved bits and an unknown opcode
      [0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f], // an unmasked client frame
      [0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28], // a text frame that is not UTF-8
    ]) {
      const s = await openSocket(wsUrl(), token)
      ;(s.ws as unknown as { _socket: { write(b: Buffer): void } })._socket.write(Buffer.from(frame))
      expect(await s.closed).toBeGreaterThanOrEqual(1000)
    }
  })

  it('closes a socket that sends a message over the size limit', async () => {
    const s = await openSocket(wsUrl(), token)
    s.ws.send(Buffer.alloc((16 << 20) + 1, 32))
    expect(await s.closed).toBe(1009)
  })
})

describe('files', () => {
  const get = (path: string) => rawExchange(port, rawRequest(port, path, auth()))

  it('serves the renderer, following links that stay inside it', async () => {
    expect((await get('/app.js')).text).toContain('console.log("app")')
    expect((await get('/same.js')).text).toContain('console.log("app")')
    expect((await get('/')).text).toContain('Linea test page')
  })

  it('does not follow a link out of the renderer folder', async () => {
    for (const path of ['/leak.txt', '/outdir/secret.txt', '/outdir/']) {
      const r = await get(path)
      expect(r.text, path).not.toContain(SECRET)
    }
    expect((await get('/leak.txt')).status).toBe(404)
    expect((await get('/outdir/secret.txt')).status).toBe(404)
  })

  it('serves regular files only: a FIFO or a folder named like a file is not found', async () => {
    expect((await get('/pipe.js')).status).toBe(404)
    expect((await get('/folder.js')).status).toBe(404)
  })

  it('serves a profile report, but not one that is a link out of the workspace or a folder', async () => {
    const real = await get('/reports/real/report.html')
    expect(real.status).toBe(200)
    expect(real.text).toContain('the real report')
    for (const id of ['linked-file', 'linked-folder', 'folder']) {
      const r = await get(`/reports/${id}/report.html`)
      expect(r.status, id).toBe(404)
      expect(r.text, id).not.toContain(SECRET)
    }
  })

  it('a client that hangs up mid-download leaves no file open behind', async () => {
    if (!existsSync('/proc/self/fd')) return // Linux shows open files here; elsewhere nothing to look at
    const big = join(staticDir, 'big.bin')
    const openOnBig = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === big
        } catch {
          return false
        }
      }).length
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((done, fail) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.write(rawRequest(port, '/big.bin', auth())))
        socket.once('data', () => {
          socket.destroy()
          done()
        })
        socket.on('error', fail)
      })
    }
    await until('the server to close big.bin after the clients hung up', () => openOnBig() === 0, 10_000)
  })
})

describe('a served file that fails while it is read', () => {
  let server: RunningServer
  let stop: () => void
  beforeAll(async () => {
    const services = createLabServices({
      launcher: forkLauncher(),
      workspace: tempDir('linea-ws-'),
      renderPdf: undefined,
      preferencesFile: join(tempDir('linea-config-'), 'p.json'),
    })
    stop = services.stop
    // /proc/self/mem is a regular file whose first page cannot be read (EIO): a read error after the headers went out.
    server = await startServer({ handlers: services.handlers, events: services.events, staticDir, files: () => '/proc/self/mem' })
  })
  afterAll(async () => {
    await server?.close()
    stop?.()
  })

  it('ends that response and keeps serving', async () => {
    if (!existsSync('/proc/self/mem')) return
    const r = await rawExchange(server.port, rawRequest(server.port, '/reports/x/report.html', { Authorization: `Bearer ${server.token}` }))
    expect(r.text).not.toMatch(/\r\n0\r\n\r\n$/) // not a complete chunked body
    const ok = await fetch(`${server.url}api/listPresets`, { method: 'POST', headers: { Authorization: `Bearer ${server.token}` } })
    expect(ok.status).toBe(200)
    expect(crashes.seen).toEqual([])
  })
})
