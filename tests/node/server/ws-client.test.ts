// The renderer's WebSocket client against the real headless server: calls,
// events, and what it does when the socket drops (calls in flight fail with
// 'disconnected'; it reconnects, and tells its workspace listeners the
// workspace as it is now, because events sent meanwhile were lost).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { WorkspaceInfo } from '../../../electron/api/labapi'
import { startHeadless, type HeadlessApp } from '../../../electron/services/headless'
import { createWsLabApi } from '../../../renderer/src/api/ws-client'
import { until } from '../../fixtures/until'

let app: HeadlessApp
let url: string
const sockets: WebSocket[] = []

beforeAll(async () => {
  // the services' own files (preferences, recent workspaces) in a folder of the test's, not the user's
  process.env.LINEA_CONFIG_DIR = mkdtempSync(join(tmpdir(), 'linea-config-'))
  app = await startHeadless({ staticDir: mkdtempSync(join(tmpdir(), 'linea-static-')), workspace: mkdtempSync(join(tmpdir(), 'linea-ws-')) })
  url = `${app.server.url.replace(/^http/, 'ws')}ws`
})
afterAll(async () => {
  await app.close()
})

function client() {
  return createWsLabApi({
    url,
    createSocket: (u) => {
      // the browser sends the session cookie; here the token goes as a header
      const ws = new WebSocket(u, { headers: { Authorization: `Bearer ${app.server.token}` } })
      sockets.push(ws)
      return ws as unknown as globalThis.WebSocket
    },
  })
}

describe('the WebSocket client', () => {
  it('resyncs its workspace listeners after the socket drops, and calls work again', async () => {
    const api = client()
    try {
      const seen: WorkspaceInfo[] = []
      api.on('workspace.changed', (info) => seen.push(info))
      const before = await api.workspaceInfo({})
      expect(seen).toEqual([]) // the first connection is no reconnect
      const first = sockets.at(-1)!
      first.terminate()
      await until('the resync after the reconnect', () => seen.length === 1)
      expect(seen[0]).toEqual(before)
      expect(sockets.at(-1)).not.toBe(first)
      expect((await api.workspaceInfo({})).path).toBe(before.path)
    } finally {
      api.close()
    }
  })

  it('fails a call in flight with disconnected, not silence', async () => {
    const api = client()
    try {
      await api.workspaceInfo({})
      const pending = api.engineInfo({})
      sockets.at(-1)!.terminate()
      await expect(pending).rejects.toMatchObject({ code: 'disconnected' })
    } finally {
      api.close()
    }
  })

  it('tells its connection listeners when the server stops answering and when it answers again', async () => {
    const api = client()
    try {
      const states: boolean[] = []
      api.onConnection((up) => states.push(up))
      await until('the first connection', () => states.includes(true))
      sockets.at(-1)!.terminate()
      await until('the drop and the reconnect', () => states.length >= 3)
      expect(states.slice(0, 3)).toEqual([true, false, true])
    } finally {
      api.close()
    }
  })
})
