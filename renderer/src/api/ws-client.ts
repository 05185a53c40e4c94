// LabApi over the headless server's WebSocket (browser mode). The session
// cookie set at launch authenticates the socket; calls made while it is
// (re)connecting wait for it. Events sent while the socket was down are
// lost, so after a reconnect the client tells its 'workspace.changed'
// listeners the workspace as it is now: the stores re-read what they show.
import { LAB_API_METHOD_NAMES, type LabApi, type LabApiErrorBody, type LabEventName, type LabEvents } from '../../../electron/api/labapi'
import { LabApiClientError } from './errors'

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void }

export interface WsClientOptions {
  url: string
  /** Factory for the socket; the browser's WebSocket by default. */
  createSocket?: (url: string) => WebSocket
}

/** The socket's state, for the "server unreachable" banner: up once opened, down from a close until it opens again. */
export type ConnectionListener = (up: boolean) => void

export type WsLabApi = LabApi & { close(): void; onConnection(fn: ConnectionListener): () => void }

export function createWsLabApi(options: WsClientOptions): WsLabApi {
  const create = options.createSocket ?? ((url: string) => new WebSocket(url))
  const pending = new Map<number, Pending>()
  const listeners = new Map<string, Set<(data: unknown) => void>>()
  let nextId = 1
  let socket: WebSocket | undefined
  let opened: Promise<WebSocket> | undefined
  let closed = false
  let retryMs = 250
  let everOpened = false
  const connectionListeners = new Set<ConnectionListener>()
  const tellConnection = (up: boolean) => {
    for (const fn of [...connectionListeners]) fn(up)
  }

  function connect(): Promise<WebSocket> {
    if (opened) return opened
    opened = new Promise((resolve, reject) => {
      const ws = create(options.url)
      socket = ws
      ws.onopen = () => {
        retryMs = 250
        tellConnection(true)
        resolve(ws)
        if (everOpened) void resync()
        everOpened = true
      }
      ws.onmessage = (e) => onMessage(String(e.data))
      ws.onclose = () => {
        opened = undefined
        const err = new LabApiClientError({ code: 'disconnected', message: 'lost the connection to the Linea server' })
        for (const p of pending.values()) p.reject(err)
        pending.clear()
        tellConnection(false)
        reject(err)
        if (!closed) setTimeout(() => void connect().catch(() => undefined), (retryMs = Math.min(retryMs * 2, 5000)))
      }
    })
    return opened
  }

  function onMessage(text: string): void {
    const msg = JSON.parse(text) as { id?: number; result?: unknown; error?: LabApiErrorBody; event?: string; data?: unknown }
    if (msg.event) {
      deliver(msg.event, msg.data)
      return
    }
    const p = msg.id != null ? pending.get(msg.id) : undefined
    if (!p) return
    pending.delete(msg.id!)
    if (msg.error) p.reject(new LabApiClientError(msg.error))
    else p.resolve(msg.result)
  }

  async function resync(): Promise<void> {
    if (!listeners.get('workspace.changed')?.size) return
    try {
      deliver('workspace.changed', await call('workspaceInfo', {}))
    } catch {
      // down again: the next reconnect tries again
    }
  }

  function deliver(event: string, data: unknown): void {
    for (const fn of [...(listeners.get(event) ?? [])]) fn(data)
  }

  async function call(method: string, params: unknown): Promise<unknown> {
    const ws = await connect()
    const id = nextId++
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject })
      ws.send(JSON.stringify({ id, method, params }))
    })
  }

  const api: Record<string, unknown> = {}
  for (const method of LAB_API_METHOD_NAMES) api[method] = (params: unknown) => call(method, params)
  api.on = <E extends LabEventName>(event: E, handler: (data: LabEvents[E]) => void) => {
    const set = listeners.get(event) ?? new Set()
    set.add(handler as (data: unknown) => void)
    listeners.set(event, set)
    void connect().catch(() => undefined)
    return () => set.delete(handler as (data: unknown) => void)
  }
  api.close = () => {
    closed = true
    socket?.close()
  }
  api.onConnection = (fn: ConnectionListener) => {
    connectionListeners.add(fn)
    void connect().catch(() => undefined)
    return () => connectionListeners.delete(fn)
  }
  return api as WsLabApi
}
