// Raw HTTP and WebSocket exchanges with a server on 127.0.0.1, for requests
// that fetch and the ws client refuse to send (malformed targets, bad
// frames, a client that resets the connection), plus a recorder of the
// exceptions and rejections that reach this process's event loop.
import net from 'node:net'
import WebSocket from 'ws'

export interface RawAnswer {
  /** The status code of the first response line, or 0 when the server closed without one. */
  status: number
  /** Everything the server sent, as latin1 text. */
  text: string
}

/**
 * Sends `bytes` on a fresh connection and collects what comes back until the
 * server closes it (send `Connection: close`). With `reset`, the client
 * resets the connection right after sending and nothing is collected; with
 * `headOnly`, it hangs up once the response head is in (a 101 keeps the
 * connection open).
 */
export function rawExchange(
  port: number,
  bytes: string | Buffer,
  options: { reset?: boolean; headOnly?: boolean; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  const timeoutMs = options.timeoutMs ?? 10_000
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = net.connect(port, '127.0.0.1')
    const deadline = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no complete answer within ${timeoutMs} ms to ${JSON.stringify(String(bytes).slice(0, 120))}`))
    }, timeoutMs)
    let settled = false
    const done = () => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      const text = Buffer.concat(chunks).toString('latin1')
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text)
      resolve({ status: m ? Number(m[1]) : 0, text })
    }
    socket.on('connect', () => {
      socket.write(bytes)
      if (options.reset) {
        socket.resetAndDestroy()
        done()
      }
    })
    socket.on('data', (c) => {
      chunks.push(c)
      if (options.headOnly && Buffer.concat(chunks).includes('\r\n\r\n')) {
        done()
        socket.destroy()
      }
    })
    // A reset or EPIPE after the server answered and closed still counts as its answer.
    socket.on('error', () => {})
    socket.on('close', done)
  })
}

/** A GET (or other) request with the given target and headers, as raw text. */
export function rawRequest(port: number, target: string, headers: Record<string, string> = {}, method = 'GET', body = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close']
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
  if ((body || method === 'POST') && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length'))
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`)
  return `${lines.join('\r\n')}\r\n\r\n${body}`
}

/** The handshake of a WebSocket upgrade to `target`. */
export function rawUpgrade(port: number, target: string, headers: Record<string, string> = {}): string {
  const lines = [
    `GET ${target} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
  ]
  // A header given replaces the default of that name.
  const given = new Set(Object.keys(headers).map((k) => k.toLowerCase()))
  const kept = lines.filter((l, i) => i === 0 || !given.has(l.slice(0, l.indexOf(':')).toLowerCase()))
  for (const [k, v] of Object.entries(headers)) kept.push(`${k}: ${v}`)
  return `${kept.join('\r\n')}\r\n\r\n`
}

/** One reply of the server to a call: `{ id, result }` or `{ id, error }`. */
export type Reply = { id: unknown; result?: unknown; error?: { code: string; message: string } }

/**
 * A WebSocket to the server whose replies can be awaited one at a time
 * (events, `{ event, data }`, are set aside). Send one message, await its
 * reply, then the next: replies to concurrent calls may come in any order.
 */
export interface Socket {
  ws: WebSocket
  /** Sends text (or bytes as a binary message) and resolves with the next reply. */
  call(message: string | Buffer, timeoutMs?: number): Promise<Reply>
  /** Resolves when the socket is closed, with the close code. */
  closed: Promise<number>
}

export function openSocket(wsUrl: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers: { Authorization: `Bearer ${token}` } })
    const replies: Reply[] = []
    let wake: (() => void) | undefined
    let closeCode: number | undefined
    const closed = new Promise<number>((done) =>
      ws.on('close', (code) => {
        closeCode = code
        done(code)
        wake?.()
      }),
    )
    ws.on('message', (m) => {
      const msg = JSON.parse(m.toString()) as Reply & { event?: string }
      if (msg.event !== undefined) return
      replies.push(msg)
      wake?.()
    })
    ws.on('error', () => {}) // a close follows; `closed` tells it
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('open', () =>
      resolve({
        ws,
        closed,
        call: (message, timeoutMs = 20_000) =>
          new Promise<Reply>((done, fail) => {
            const deadline = setTimeout(() => fail(new Error(`no reply within ${timeoutMs} ms to ${JSON.stringify(String(message).slice(0, 120))}`)), timeoutMs)
            wake = () => {
              if (replies.length) {
                clearTimeout(deadline)
                wake = undefined
                done(replies.shift()!)
              } else if (closeCode !== undefined) {
                clearTimeout(deadline)
                wake = undefined
                fail(new Error(`the socket closed (${closeCode}) before a reply to ${JSON.stringify(String(message).slice(0, 120))}`))
              }
            }
            ws.send(message, { binary: Buffer.isBuffer(message) })
          }),
      }),
    )
  })
}

/**
 * Records what reaches the event loop unhandled while installed: an
 * exception thrown in a server callback, a rejected promise nobody awaited.
 */
export function crashRecorder(): { seen: string[]; stop(): void } {
  const seen: string[] = []
  const onException = (err: unknown) => seen.push(`uncaughtException: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  const onRejection = (err: unknown) => seen.push(`unhandledRejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  process.on('uncaughtException', onException)
  process.on('unhandledRejection', onRejection)
  return {
    seen,
    stop: () => {
      process.off('uncaughtException', onException)
      process.off('unhandledRejection', onRejection)
    },
  }
}
