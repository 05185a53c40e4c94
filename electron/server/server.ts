// Headless mode: the built renderer and the LabApi over HTTP + WebSocket,
// bound to 127.0.0.1 only.
//
// Guarding a local server against the web pages a user visits:
// - every request must carry the per-launch token (cookie, bearer header or
//   ?token= on the first page load, which swaps it for a SameSite=Strict
//   cookie and redirects to a clean URL);
// - the Host header must name this server (defeats DNS rebinding);
// - an Origin header, when present, must be this server's own origin
//   (a cross-site page cannot open the WebSocket or POST).
// A refused request gets 403 and nothing runs.
//
// Guarding the process against what callers send, token or not: every
// request, upgrade and WebSocket message ends in one guard (`fail`, the
// upgrade's catch, `answerMessage`'s catch) that answers 400 for a malformed
// request (a target the URL parser refuses, a bad percent-escape, a body or
// message that is not a call object), 404 for an unknown method, 500 for our
// own bugs, and lets nothing reach the event loop. Sockets, requests,
// responses and file streams all have error listeners: a client that resets
// or hangs up, or a file that fails while it is read, ends that one answer.
// Files are served only when they are regular files inside their folder
// (links resolved: none may lead out of it).
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { constants as fsConstants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, resolve } from 'node:path'
import { pipeline, type Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import { clip, UserError } from '../api/errors'
import type { LabApiErrorBody, LabApiHandlers } from '../api/labapi'
import { answerLabApi, errorBody } from '../services/dispatch'
import type { LabEventBus } from '../services/events'
import { resolveInside } from '../workspace/paths'

export interface ServerOptions {
  handlers: LabApiHandlers
  events: LabEventBus
  /** The built renderer (index.html and assets). */
  staticDir: string
  /** Files outside the renderer the app may open (reports): URL path → file path, or undefined. */
  files?: (path: string) => string | undefined
  /** 0 picks a free port. */
  port?: number
  token?: string
}

export interface RunningServer {
  url: string
  /** The URL to open, token included. */
  launchUrl: string
  port: number
  token: string
  close(): Promise<void>
}

const COOKIE = 'linea_token'
const MAX_BODY_BYTES = 16 << 20

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.pdf': 'application/pdf',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
}

/**
 * A request the server cannot make sense of (a target the URL parser
 * refuses, a bad percent-escape, a body that is not a call): the caller's
 * mistake, answered `status` (400 unless said) with the message.
 */
class RequestProblem extends UserError {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message)
  }
}

function statusFor(code: LabApiErrorBody['code']): number {
  return code === 'bad_request' ? 400 : code === 'unknown_method' ? 404 : 500
}

/** "null", "an array", "a number", ... for messages about what was sent instead. */
function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'nothing'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The request target as a URL. An origin-form target ("/path?query") is
 * read as a path of this server, so "//host/x" stays a path and never names
 * a host; absolute-form ("http://host/path") is parsed as it is.
 */
function parseTarget(target = '/'): URL {
  try {
    return target.startsWith('/') ? new URL(`http://127.0.0.1${target}`) : new URL(target)
  } catch {
    throw new RequestProblem(`the request target '${clip(target, 200)}' is not a valid path or URL`)
  }
}

/** A URL path with its percent-escapes decoded. */
function decodePath(pathname: string): string {
  try {
    return decodeURIComponent(pathname)
  } catch {
    throw new RequestProblem(
      `the path '${clip(pathname, 200)}' has a bad percent-escape: '%' must begin a %XX escape of valid UTF-8 (write %25 for '%' itself)`,
    )
  }
}

/** The `params` of an HTTP call's body: `{"params": {...}}`, or an empty body for none. */
function bodyParams(text: string): unknown {
  if (!text.trim()) return undefined
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (err) {
    throw new RequestProblem(`request body is not valid JSON (${clip((err as Error).message, 200)})`)
  }
  if (!isPlainObject(body)) throw new RequestProblem(`request body must be a JSON object like {"params": {...}}; got ${kindOf(body)}`)
  const other = Object.keys(body).find((k) => k !== 'params')
  if (other !== undefined)
    throw new RequestProblem(`request body has the key '${clip(other, 40)}'; it must be a JSON object like {"params": {...}}, with nothing else`)
  return Object.hasOwn(body, 'params') ? body.params : undefined
}

/** A WebSocket message's text: ws hands over a Buffer, or fragments, or an ArrayBuffer. */
function messageText(raw: RawData): string {
  if (Buffer.isBuffer(raw)) return raw.toString('utf8')
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8')
  return Buffer.from(raw).toString('utf8')
}

type WsReply = { id: number | string | null; result?: unknown; error?: LabApiErrorBody }

function contentSecurityPolicy(port: number): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join('; ')
}

function sameToken(given: string | undefined, token: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=')
    if (k === COOKIE) return v.join('=')
  }
  return undefined
}

function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization
  return h?.startsWith('Bearer ') ? h.slice(7) : undefined
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const token = options.token ?? randomBytes(32).toString('hex')
  const staticDir = resolve(options.staticDir)
  let port = 0
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`])
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`])

  /** Returns why a request is refused, or undefined when it may proceed. */
  function refusal(req: IncomingMessage, url: URL): string | undefined {
    if (!allowedHosts().has(req.headers.host ?? '')) return `host '${clip(req.headers.host ?? '', 100)}' is not this server`
    const origin = req.headers.origin
    if (origin !== undefined && !allowedOrigins().has(origin)) return `origin '${clip(origin, 100)}' is not allowed`
    // Any one of the offered tokens may carry the request: a cookie left by
    // an earlier launch (cookies ignore ports) must not shadow this launch's
    // ?token=, which then replaces it.
    const offered = [url.searchParams.get('token') ?? undefined, bearerToken(req), cookieToken(req)]
    if (offered.some((given) => sameToken(given, token))) return undefined
    if (offered[2] !== undefined && offered[0] === undefined && offered[1] === undefined)
      return 'missing or wrong token (the linea_token cookie is from another launch of the server: open the URL it printed, with ?token=)'
    return 'missing or wrong token'
  }

  function refuse(res: ServerResponse, why: string): void {
    res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(`403 forbidden: ${why}\n`)
  }

  function notFound(res: ServerResponse, why = 'not found'): void {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' })
    res.end(`${why}\n`)
  }

  function sendJson(res: ServerResponse, status: number, body: unknown): void {
    // Serialized before the head goes out: a result that cannot be written leaves no half answer.
    const text = JSON.stringify(body)
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' })
    res.end(text)
  }

  /**
   * The guard every request ends in when something threw or rejected: 400
   * (or the RequestProblem's status) for the caller's mistakes, 404 for an
   * unknown method, 500 for our bugs, logged. Never throws; a response
   * already under way is cut short, all that is left to do then.
   */
  function fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    try {
      const body = errorBody(err)
      const status = err instanceof RequestProblem ? err.status : statusFor(body.code)
      if (status >= 500) console.error(`linea server: ${req.method} ${clip(req.url ?? '', 200)} failed:`, err)
      if (res.headersSent) res.destroy()
      else sendJson(res, status, { error: body })
    } catch {
      res.destroy()
    }
  }

  /** The request body as text; refused with 413 past MAX_BODY_BYTES (announced or sent). */
  function readBody(req: IncomingMessage): Promise<string> {
    const tooLarge = () => new RequestProblem(`request body over ${MAX_BODY_BYTES} bytes; no LabApi call needs that much`, 413)
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return Promise.reject(tooLarge())
    return new Promise((resolveBody, reject) => {
      const chunks: Buffer[] = []
      let size = 0
      req.on('data', (chunk: Buffer) => {
        size += chunk.length
        // Past the limit the answer goes at once; the rest is drained and dropped, so the connection ends cleanly.
        if (size > MAX_BODY_BYTES) reject(tooLarge())
        else chunks.push(chunk)
      })
      req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')))
      req.on('error', reject)
      // After 'end' this is a no-op; before it, the client went away mid-body.
      req.on('close', () => reject(new RequestProblem('the connection closed before the request body ended')))
    })
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST' })
      res.end()
      return
    }
    const params = bodyParams(await readBody(req))
    const answer = await answerLabApi(options.handlers, method, params)
    if (answer.ok) sendJson(res, 200, { result: answer.result })
    else sendJson(res, statusFor(answer.error.code), { error: answer.error })
  }

  /**
   * Streams `file` when it is a regular file; false when it is not one (a
   * folder, a FIFO, a device) or cannot be opened, and nothing was sent.
   * Opened without blocking (opening a FIFO would hold a thread of the pool
   * until someone writes to it) and checked on the open descriptor, so what
   * is checked is what is read.
   */
  async function serveFile(req: IncomingMessage, res: ServerResponse, file: string, headers: Record<string, string>): Promise<boolean> {
    let handle: FileHandle
    try {
      handle = await open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0))
    } catch {
      return false
    }
    let streaming = false
    try {
      if (!(await handle.stat()).isFile()) return false
      res.writeHead(200, headers)
      if (req.method === 'HEAD') {
        res.end()
        return true
      }
      // pipeline, not pipe: a client that hangs up, or a read that fails, destroys both ends and closes the file.
      streaming = true
      pipeline(handle.createReadStream(), res, (err) => {
        if (err) res.destroy()
      })
      return true
    } finally {
      if (!streaming) await handle.close().catch(() => {})
    }
  }

  function staticHeaders(file: string): Record<string, string> {
    return {
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Content-Security-Policy': contentSecurityPolicy(port),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
    }
  }

  async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const rel = decodePath(pathname).replace(/^[/\\]+/, '')
    let file: string
    try {
      // No '..', no absolute part, no link that leads out of the renderer folder.
      file = resolveInside(staticDir, rel || 'index.html')
    } catch {
      return notFound(res)
    }
    if (await serveFile(req, res, file, staticHeaders(file))) return
    // The app routes in the hash, so any other path with an extension is simply missing; one without is the app.
    if (rel && extname(rel)) return notFound(res)
    let index: string | undefined
    try {
      index = resolveInside(staticDir, 'index.html')
    } catch {
      index = undefined
    }
    if (index && (await serveFile(req, res, index, staticHeaders(index)))) return
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(`the renderer is not built (no ${resolve(staticDir, 'index.html')}); run: npm run build\n`)
  }

  /** /reports/...: true when `files` maps the path (served, or 404), false when the path is the renderer's. */
  async function serveReport(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    let file: string | undefined
    try {
      file = options.files!(pathname)
    } catch (err) {
      notFound(res, errorBody(err).message)
      return true
    }
    if (file === undefined) return false
    const headers = {
      'Content-Type': MIME[extname(file)] ?? 'application/pdf',
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
    }
    if (!(await serveFile(req, res, file, headers))) notFound(res, `${clip(pathname, 200)} is not a file`)
    return true
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseTarget(req.url)
    const why = refusal(req, url)
    if (why) return refuse(res, why)
    if (url.searchParams.has('token') && req.method === 'GET') {
      // Trade the launch URL's token for a cookie and drop it from the address bar.
      // One leading slash only: "//host/" in a Location would send the browser to another host.
      url.searchParams.delete('token')
      res.writeHead(303, {
        'Set-Cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        Location: `/${url.pathname.replace(/^[/\\]+/, '')}${url.search}`,
      })
      res.end()
      return
    }
    if (url.pathname.startsWith('/api/')) return handleApi(req, res, url.pathname.slice('/api/'.length))
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' })
      res.end()
      return
    }
    if (options.files && url.pathname.startsWith('/reports/') && (await serveReport(req, res, url.pathname))) return
    await serveStatic(req, res, url.pathname)
  }

  const server = createServer((req, res) => {
    // A client that goes away mid-request or mid-response is not our error; the guard below answers the rest.
    req.on('error', () => {})
    res.on('error', () => res.destroy())
    handle(req, res).catch((err: unknown) => fail(req, res, err))
  })

  /** Ends an upgrade's socket with a plain HTTP answer (no WebSocket was made). */
  function endSocket(socket: Duplex, status: number, text: string): void {
    try {
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${text}\n`)
    } catch {
      socket.destroy()
    }
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES })
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands the socket over without an error listener: a client that resets it would otherwise crash the process.
    socket.on('error', () => socket.destroy())
    try {
      const url = parseTarget(req.url)
      const why = url.pathname === '/ws' ? refusal(req, url) : 'not a WebSocket endpoint'
      if (why) return endSocket(socket, 403, `403 forbidden: ${why}`)
      wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws))
    } catch (err) {
      const body = errorBody(err)
      const status = err instanceof RequestProblem ? err.status : statusFor(body.code)
      if (status >= 500) console.error(`linea server: upgrade ${clip(req.url ?? '', 200)} failed:`, err)
      endSocket(socket, status, `${status} ${body.message}`)
    }
  })

  /** One call: `{"id": 1, "method": "workspaceInfo", "params": {}}` → `{ id, result }` or `{ id, error }`. */
  async function answerMessage(raw: RawData): Promise<WsReply> {
    const bad = (id: WsReply['id'], message: string): WsReply => ({ id, error: { code: 'bad_request', message } })
    let msg: unknown
    try {
      msg = JSON.parse(messageText(raw))
    } catch {
      return bad(null, 'message is not valid JSON')
    }
    if (!isPlainObject(msg)) return bad(null, `a message must be a JSON object like {"id": 1, "method": "workspaceInfo", "params": {}}; got ${kindOf(msg)}`)
    // Own keys only: a message's fields are never read through a prototype.
    const field = (k: string) => (Object.hasOwn(msg, k) ? msg[k] : undefined)
    const rawId = field('id')
    const id = typeof rawId === 'number' || typeof rawId === 'string' ? rawId : null
    const other = Object.keys(msg).find((k) => k !== 'id' && k !== 'method' && k !== 'params')
    if (other !== undefined) return bad(id, `a message has the key '${clip(other, 40)}'; valid: id, method, params`)
    const method = field('method')
    if (typeof method !== 'string')
      return bad(
        id,
        `a message needs "method", a string naming a LabApi call (got ${kindOf(method)}), as in {"id": 1, "method": "workspaceInfo", "params": {}}`,
      )
    const answer = await answerLabApi(options.handlers, method, field('params'))
    return answer.ok ? { id, result: answer.result } : { id, error: answer.error }
  }

  function onSocket(ws: WebSocket): void {
    // An invalid frame (bad opcode, unmasked, not UTF-8, over maxPayload) is the peer's: ws closes the
    // socket with the matching code, and its 'error' needs a listener or it would reach the event loop.
    ws.on('error', () => {})
    const send = (reply: WsReply | { event: string; data: unknown }) => {
      if (ws.readyState !== ws.OPEN) return
      let text: string
      try {
        text = JSON.stringify(reply)
      } catch (err) {
        console.error('linea server: a reply could not be serialized:', err)
        text = JSON.stringify({ id: 'id' in reply ? reply.id : null, error: errorBody(err) })
      }
      ws.send(text, (err) => {
        if (err) ws.terminate()
      })
    }
    const unsubscribe = options.events.subscribe((event, data) => send({ event, data }))
    ws.on('close', unsubscribe)
    ws.on('message', (raw) => {
      answerMessage(raw)
        .catch((err: unknown): WsReply => ({ id: null, error: errorBody(err) }))
        .then(send)
        .catch((err: unknown) => {
          console.error('linea server: a reply could not be sent:', err)
          ws.terminate()
        })
    })
  }

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolveListen())
  })
  server.removeAllListeners('error')
  // After listening, an error of the listening socket (e.g. out of file descriptors on accept) is logged, not fatal.
  server.on('error', (err) => console.error('linea server:', err))
  port = (server.address() as AddressInfo).port
  const url = `http://127.0.0.1:${port}/`
  return {
    url,
    launchUrl: `${url}?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((done) => {
        for (const client of wss.clients) client.terminate()
        wss.close()
        server.close(() => done())
        server.closeAllConnections()
      }),
  }
}
