// The setup every e2e file shares: `linea serve` (a fresh workspace and
// config folder, or a workspace the file prepares first) and a Chromium page
// on it, opened before the file's tests and closed after them; and, for tests
// that wait on the app's work, the page's LabApi traffic over its WebSocket.
import type { Browser, Page, WebSocket } from 'playwright-core'
import { afterAll, beforeAll } from 'vitest'
import { launchChromium } from './browser'
import { serveBuiltApp, type Served } from './serve'

export interface AppOptions {
  viewport?: { width: number; height: number }
  /** Prepares the workspace to serve (trains runs with the CLI, ...) and returns its path; a fresh empty one by default. */
  workspace?: () => string | Promise<string>
}

export interface ServedApp {
  served: Served
  browser: Browser
  page: Page
}

/**
 * Serves the built app and opens a page on it for this file's tests (a
 * beforeAll; closed in an afterAll). The objects exist once beforeAll ran, so
 * what this returns forwards to them: use them inside tests and hooks.
 */
export function useServedApp(options: AppOptions = {}): ServedApp {
  let now: ServedApp | undefined
  beforeAll(async () => {
    const workspace = options.workspace ? await options.workspace() : undefined
    const served = await serveBuiltApp(workspace)
    let browser: Browser | undefined
    try {
      browser = await launchChromium()
      const page = await browser.newPage({ viewport: options.viewport ?? { width: 1500, height: 1300 } })
      now = { served, browser, page }
    } catch (err) {
      await browser?.close()
      await served.stop()
      throw err
    }
  })
  afterAll(async () => {
    try {
      await now?.browser.close()
    } finally {
      await now?.served.stop()
    }
  })
  return { served: forward('served', () => now?.served), browser: forward('browser', () => now?.browser), page: forward('page', () => now?.page) }
}

/** An object that stands for the one `get` returns once it exists. */
function forward<T extends object>(what: string, get: () => T | undefined): T {
  const target = () => get() ?? fail(`the e2e ${what} is opened in beforeAll: use it inside a test or hook`)
  return new Proxy({} as T, {
    get(_, key) {
      const t = target()
      const value: unknown = Reflect.get(t, key, t)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value
    },
    has: (_, key) => Reflect.has(target(), key),
  })
}

function fail(message: string): never {
  throw new Error(message)
}

/** One LabApi message on the page's WebSocket: a call it sent, or a reply or event it received. */
export type LabMessage =
  | { sent: true; id: number; method: string; params: unknown }
  | { sent: false; id: number; result?: unknown; error?: { message: string } }
  | { sent: false; event: string; data: unknown }

/** Records the page's LabApi messages from now on (sockets it opens later included). */
export function recordLabApi(page: Page): {
  messages: LabMessage[]
  waitFor(what: string, pred: (m: LabMessage) => boolean, from?: number, timeoutMs?: number): Promise<LabMessage>
} {
  const messages: LabMessage[] = []
  const waiters = new Set<() => void>()
  const push = (sent: boolean, payload: string | Buffer) => {
    let m: Record<string, unknown>
    try {
      m = JSON.parse(String(payload)) as Record<string, unknown>
    } catch {
      return
    }
    messages.push({ ...m, sent } as LabMessage)
    for (const w of waiters) w()
  }
  page.on('websocket', (ws: WebSocket) => {
    ws.on('framesent', (f) => push(true, f.payload))
    ws.on('framereceived', (f) => push(false, f.payload))
  })
  return {
    messages,
    /** The first message from index `from` on that `pred` accepts, as soon as it arrives. */
    waitFor(what, pred, from = 0, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.slice(from).find(pred)
          if (!found) return false
          waiters.delete(check)
          clearTimeout(timer)
          resolve(found)
          return true
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} on the page's LabApi socket`))
        }, timeoutMs)
        waiters.add(check)
        check()
      })
    },
  }
}
