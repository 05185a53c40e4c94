// What the preload exposes as `window.linea`, built from a transport so it
// can be tested without Electron: one function per LabApi method (channel
// `labapi:<method>`, answering an envelope) and `on`, whose subscriptions
// are removed by the function it returns. No generic invoke, no other key.
// Imports only the LabApi's names and types: the sandboxed preload bundles it.
import {
  LAB_API_METHOD_NAMES,
  LAB_EVENT_NAMES,
  type LabApiErrorBody,
  type LabApiMethod,
  type LabApiParams,
  type LabApiResults,
  type LabEventName,
  type LabEvents,
} from '../api/labapi'

/** Results cross IPC as envelopes: Electron drops an Error's fields at the context bridge. */
export type IpcEnvelope<T = unknown> = { ok: true; result: T } | { ok: false; error: LabApiErrorBody }

/** The one channel main → renderer; messages are `LabEventMessage`s. */
export const EVENT_CHANNEL = 'labapi:event'

export interface LabEventMessage {
  event: LabEventName
  data: unknown
}

export function channelFor(method: LabApiMethod): string {
  return `labapi:${method}`
}

/** `window.linea` in the desktop app. */
export type LineaBridge = {
  readonly [M in LabApiMethod]: (params: LabApiParams<M>) => Promise<IpcEnvelope<LabApiResults[M]>>
} & {
  on<E extends LabEventName>(event: E, handler: (data: LabEvents[E]) => void): () => void
}

/** The two things the bridge needs from ipcRenderer. */
export interface BridgeTransport {
  invoke(channel: string, params: unknown): Promise<unknown>
  /** Starts listening on EVENT_CHANNEL; returns the function that stops. */
  listen(fn: (message: unknown) => void): () => void
}

export function isLabEventName(name: unknown): name is LabEventName {
  return typeof name === 'string' && (LAB_EVENT_NAMES as readonly string[]).includes(name)
}

export function createLineaBridge(transport: BridgeTransport): LineaBridge {
  // One IPC listener for all subscriptions (attached while any exist), so a
  // screen that subscribes and unsubscribes often leaves nothing behind.
  const handlers = new Map<LabEventName, Set<(data: unknown) => void>>()
  let stopListening: (() => void) | undefined
  const deliver = (message: unknown) => {
    const m = message as Partial<LabEventMessage> | null
    if (!m || !isLabEventName(m.event)) return
    for (const fn of [...(handlers.get(m.event) ?? [])]) fn(m.data)
  }

  const bridge: Record<string, unknown> = {}
  for (const method of LAB_API_METHOD_NAMES) {
    bridge[method] = (params: unknown) => transport.invoke(channelFor(method), params)
  }
  bridge.on = (event: unknown, handler: unknown) => {
    if (!isLabEventName(event)) throw new Error(`unknown LabApi event '${String(event)}'; valid: ${LAB_EVENT_NAMES.join(', ')}`)
    if (typeof handler !== 'function') throw new Error(`the handler for '${event}' must be a function, got ${typeof handler}`)
    const set = handlers.get(event) ?? new Set()
    handlers.set(event, set)
    // Wrapped so the same function subscribed twice is two subscriptions.
    const subscription = (data: unknown) => (handler as (d: unknown) => void)(data)
    set.add(subscription)
    stopListening ??= transport.listen(deliver)
    return () => {
      set.delete(subscription)
      if (!set.size) handlers.delete(event)
      if (!handlers.size && stopListening) {
        stopListening()
        stopListening = undefined
      }
    }
  }
  return Object.freeze(bridge) as LineaBridge
}
