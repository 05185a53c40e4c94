// The renderer's one LabApi: the preload bridge inside the desktop app, the
// WebSocket client in a browser (headless mode). Nothing else talks to the
// main process.
import type { LabApi } from '../../../electron/api/labapi'
import { createBridgeLabApi, type LineaBridge } from './bridge-client'
import { createWsLabApi, type ConnectionListener } from './ws-client'

let api: (LabApi & { onConnection?: (fn: ConnectionListener) => () => void }) | undefined

export function labApi(): LabApi {
  if (api) return api
  const bridge = (globalThis as { linea?: LineaBridge }).linea
  api = bridge ? createBridgeLabApi(bridge) : createWsLabApi({ url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws` })
  return api
}

/**
 * Follows whether the server answers (browser mode: the WebSocket); the
 * desktop app's bridge cannot lose its main process, so there it never calls.
 */
export function onConnection(fn: ConnectionListener): () => void {
  const current = labApi() as { onConnection?: (fn: ConnectionListener) => () => void }
  return current.onConnection ? current.onConnection(fn) : () => undefined
}

/** For tests: use this LabApi instead. */
export function setLabApi(next: LabApi | undefined): void {
  api = next
}
