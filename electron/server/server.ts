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
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { WebSocketServer, type WebSocket } from 'ws'
import type { LabApiHandlers } from '../api/labapi'
import { dispatchLabApi, LabApiError } from '../services/dispatch'
import type { LabEventBus } from '../services/events'

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
    if (!allowedHosts().has(req.headers.host ?? '')) return `host '${req.headers.host ?? ''}' is not this server`
    const origin = req.headers.origin
    if (origin !== undefined && !allowedOrigins().has(origin)) return `origin '${origin}' is not allowed`
    const given = bearerToken(req) ?? cookieToken(req) ?? url.searchParams.get('token') ?? undefined
    if (!sameToken(given, token)) return 'missing or wrong token'
    return undefined
  }

  function refuse(res: ServerResponse, why: string): void {
    res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' })
    res.end(`403 forbidden: ${why}\n`)
  }

  function sendJson(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' })
    res.end(JSON.stringify(body))
  }

  async function readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of req) {
      size += (chunk as Buffer).length
      if (size > MAX_BODY_BYTES) throw new LabApiError({ code: 'bad_request', message: `request body over ${MAX_BODY_BYTES} bytes` })
      chunks.push(chunk as Buffer)
    }
    return Buffer.concat(chunks).toString('utf8')
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    if (req.method !== 'POST') {
      res.writeHead(405, { Allow: 'POST' })
      res.end()
      return
    }
    try {
      const text = await readBody(req)
      let body: { params?: unknown } = {}
      if (text.trim()) {
        try {
          body = JSON.parse(text)
        } catch {
          throw new LabApiError({ code: 'bad_request', message: 'request body is not valid JSON' })
        }
      }
      const result = await dispatchLabApi(options.handlers, method, body.params)
      sendJson(res, 200, { result })
    } catch (err) {
      const e = err instanceof LabApiError ? err.body : { code: 'internal' as const, message: String(err) }
      const status = e.code === 'bad_request' ? 400 : e.code === 'unknown_method' ? 404 : 500
      sendJson(res, status, { error: e })
    }
  }

  function serveStatic(res: ServerResponse, pathname: string): void {
    const rel = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '')
    let file = join(staticDir, rel || 'index.html')
    if (!file.startsWith(staticDir + sep) && file !== staticDir) {
      res.writeHead(404)
      res.end()
      return
    }
    if (!existsSync(file) || statSync(file).isDirectory()) {
      // The app routes in the hash, so any other path is simply missing.
      if (rel && extname(rel)) {
        res.writeHead(404, { 'Content-Type': 'text/plain' })
        res.end('not found\n')
        return
      }
      file = join(staticDir, 'index.html')
      if (!existsSync(file)) {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
        res.end(`the renderer is not built (no ${file}); run: npm run build\n`)
        return
      }
    }
    res.writeHead(200, {
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Content-Security-Policy': contentSecurityPolicy(port),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
    })
    createReadStream(file).pipe(res)
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const why = refusal(req, url)
    if (why) return refuse(res, why)
    if (url.searchParams.has('token') && req.method === 'GET') {
      // Trade the launch URL's token for a cookie and drop it from the address bar.
      url.searchParams.delete('token')
      res.writeHead(303, {
        'Set-Cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        Location: url.pathname + url.search + url.hash,
      })
      res.end()
      return
    }
    if (url.pathname.startsWith('/api/')) {
      void handleApi(req, res, url.pathname.slice('/api/'.length))
      return
    }
    if (options.files && url.pathname.startsWith('/reports/')) {
      let file: string | undefined
      try {
        file = options.files(url.pathname)
      } catch (err) {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
        res.end(`${(err as Error).message}\n`)
        return
      }
      if (file) {
        res.writeHead(200, {
          'Content-Type': MIME[extname(file)] ?? 'application/pdf',
          'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
          'X-Content-Type-Options': 'nosniff',
          'Cache-Control': 'no-store',
        })
        createReadStream(file).pipe(res)
        return
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' })
      res.end()
      return
    }
    serveStatic(res, url.pathname)
  })

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES })
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const why = url.pathname === '/ws' ? refusal(req, url) : 'not a WebSocket endpoint'
    if (why) {
      socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n403 forbidden: ${why}\n`)
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws))
  })

  function onSocket(ws: WebSocket): void {
    const unsubscribe = options.events.subscribe((event, data) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event, data }))
    })
    ws.on('close', unsubscribe)
    ws.on('message', async (raw) => {
      let msg: { id?: unknown; method?: unknown; params?: unknown }
      try {
        msg = JSON.parse(raw.toString())
      } catch {
        ws.send(JSON.stringify({ id: null, error: { code: 'bad_request', message: 'message is not valid JSON' } }))
        return
      }
      const id = typeof msg.id === 'number' || typeof msg.id === 'string' ? msg.id : null
      try {
        const result = await dispatchLabApi(options.handlers, String(msg.method), msg.params)
        ws.send(JSON.stringify({ id, result }))
      } catch (err) {
        const e = err instanceof LabApiError ? err.body : { code: 'internal', message: String(err) }
        ws.send(JSON.stringify({ id, error: e }))
      }
    })
  }

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolveListen())
  })
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
