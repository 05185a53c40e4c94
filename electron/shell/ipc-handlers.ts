// The IPC handler table of the desktop app, a pure function of the LabApi
// handlers (the services) and a sender check, so it runs in tests with fake
// senders and no Electron. One handler per LabApi method on channel
// `labapi:<method>`; each refuses a call from any frame but the app's own
// before anything runs, then goes through the same dispatch as headless mode.
import { LAB_API_METHOD_NAMES, type LabApiHandlers, type LabApiMethod } from '../api/labapi'
import { answerLabApi } from '../services/dispatch'
import { APP_ORIGIN, originOf } from './app-urls'
import { channelFor, type IpcEnvelope } from './bridge'

export { APP_ORIGIN, channelFor, type IpcEnvelope }

/** What a handler knows of the frame that sent a call. */
export interface IpcSender {
  /** URL of the sending frame. */
  url: string
  /** True when the frame is the top-level frame of an app window (not an iframe, not another window). */
  isAppMainFrame: boolean
}

export type SenderCheck = (sender: IpcSender | undefined) => boolean

/** Trusts the top-level frame of an app window showing a page of `appOrigin`. */
export function appSenderCheck(appOrigin: string = APP_ORIGIN): SenderCheck {
  return (sender) => !!sender && sender.isAppMainFrame && originOf(sender.url) === appOrigin
}

export type IpcHandler = (sender: IpcSender | undefined, params: unknown) => Promise<IpcEnvelope>

export function refusal(method: LabApiMethod): IpcEnvelope {
  return { ok: false, error: { code: 'bad_request', message: `refused ${method}: the call did not come from the Linea app window` } }
}

/** channel → handler, for every LabApi method and nothing else. */
export function createIpcHandlers(
  handlers: LabApiHandlers,
  isTrusted: SenderCheck,
  onRefused: (method: LabApiMethod, sender: IpcSender | undefined) => void = () => undefined,
): Map<string, IpcHandler> {
  const table = new Map<string, IpcHandler>()
  for (const method of LAB_API_METHOD_NAMES) {
    table.set(channelFor(method), async (sender, params) => {
      if (!isTrusted(sender)) {
        onRefused(method, sender)
        return refusal(method)
      }
      return answerLabApi(handlers, method, params) as Promise<IpcEnvelope>
    })
  }
  return table
}
