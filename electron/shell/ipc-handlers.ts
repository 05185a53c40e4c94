// The IPC handler table of the desktop app, kept free of Electron imports so
// it can be tested with fake senders. One handler per LabApi method, named
// `labapi:<method>`; each refuses calls from any frame but the app's own.
import { LAB_API_METHOD_NAMES, type LabApiErrorBody, type LabApiHandlers, type LabApiMethod } from '../api/labapi'
import { dispatchLabApi, LabApiError } from '../services/dispatch'

/** What a handler needs to know of the frame that sent a call. */
export interface IpcSender {
  /** URL of the sending frame. */
  url: string
  /** True when the frame is the top-level frame of an app window. */
  isAppMainFrame: boolean
}

export type IpcEnvelope = { ok: true; result: unknown } | { ok: false; error: LabApiErrorBody }

export const APP_ORIGIN = 'linea://app'

export function channelFor(method: LabApiMethod): string {
  return `labapi:${method}`
}

export function isTrustedSender(sender: IpcSender | undefined): boolean {
  if (!sender || !sender.isAppMainFrame) return false
  try {
    const url = new URL(sender.url)
    return url.protocol === 'linea:' && url.host === 'app'
  } catch {
    return false
  }
}

export type IpcHandler = (sender: IpcSender | undefined, params: unknown) => Promise<IpcEnvelope>

/** channel → handler, for every LabApi method and nothing else. */
export function createIpcHandlers(handlers: LabApiHandlers): Map<string, IpcHandler> {
  const table = new Map<string, IpcHandler>()
  for (const method of LAB_API_METHOD_NAMES) {
    table.set(channelFor(method), async (sender, params) => {
      if (!isTrustedSender(sender))
        return { ok: false, error: { code: 'bad_request', message: `refused ${method}: the call did not come from the Linea app window` } }
      try {
        return { ok: true, result: await dispatchLabApi(handlers, method, params) }
      } catch (err) {
        const error = err instanceof LabApiError ? err.body : { code: 'internal' as const, message: String(err) }
        return { ok: false, error }
      }
    })
  }
  return table
}
