// window.linea as the preload builds it: exactly the LabApi's methods and
// `on`, each method on its own channel, subscriptions that can be removed
// and share one IPC listener.
import { describe, expect, it } from 'vitest'
import { LAB_API_METHOD_NAMES, LAB_EVENT_NAMES } from '../../../electron/api/labapi'
import { createLineaBridge, type BridgeTransport } from '../../../electron/shell/bridge'

function fakeIpc() {
  const invoked: { channel: string; params: unknown }[] = []
  const listeners = new Set<(message: unknown) => void>()
  const transport: BridgeTransport = {
    invoke: async (channel, params) => {
      invoked.push({ channel, params })
      return { ok: true, result: channel }
    },
    listen: (fn) => {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
  }
  const emit = (message: unknown) => {
    for (const fn of [...listeners]) fn(message)
  }
  return { transport, invoked, listeners, emit }
}

describe('preload bridge', () => {
  it('exposes exactly the LabApi methods and on, frozen', () => {
    const bridge = createLineaBridge(fakeIpc().transport)
    expect(Object.keys(bridge).sort()).toEqual([...LAB_API_METHOD_NAMES, 'on'].sort())
    expect(Object.isFrozen(bridge)).toBe(true)
    expect('invoke' in bridge).toBe(false)
  })

  it('sends each method on its own channel with its parameters', async () => {
    const ipc = fakeIpc()
    const bridge = createLineaBridge(ipc.transport)
    expect(await bridge.loadModelSpec({ name: 'gla-hybrid' })).toEqual({ ok: true, result: 'labapi:loadModelSpec' })
    await bridge.engineInfo({})
    expect(ipc.invoked).toEqual([
      { channel: 'labapi:loadModelSpec', params: { name: 'gla-hybrid' } },
      { channel: 'labapi:engineInfo', params: {} },
    ])
  })

  it('delivers events by name, and removes subscriptions and then the IPC listener', () => {
    const ipc = fakeIpc()
    const bridge = createLineaBridge(ipc.transport)
    expect(ipc.listeners.size).toBe(0) // nothing listens before anyone subscribes
    const a: unknown[] = []
    const b: unknown[] = []
    const offA = bridge.on('run.status', (d) => a.push(d))
    const offB = bridge.on('engine.status', (d) => b.push(d))
    expect(ipc.listeners.size).toBe(1)
    ipc.emit({ event: 'run.status', data: 1 })
    ipc.emit({ event: 'engine.status', data: 2 })
    ipc.emit({ event: 'not.an.event', data: 3 })
    ipc.emit(null)
    expect([a, b]).toEqual([[1], [2]])
    offA()
    offA() // twice is harmless
    ipc.emit({ event: 'run.status', data: 4 })
    expect(a).toEqual([1])
    expect(ipc.listeners.size).toBe(1)
    offB()
    expect(ipc.listeners.size).toBe(0)
  })

  it('counts the same handler subscribed twice as two subscriptions', () => {
    const ipc = fakeIpc()
    const bridge = createLineaBridge(ipc.transport)
    const seen: unknown[] = []
    const handler = (d: unknown) => seen.push(d)
    const off1 = bridge.on('run.metrics', handler)
    bridge.on('run.metrics', handler)
    off1()
    ipc.emit({ event: 'run.metrics', data: 'x' })
    expect(seen).toEqual(['x'])
  })

  it('refuses unknown events and non-function handlers, naming what is valid', () => {
    const bridge = createLineaBridge(fakeIpc().transport)
    expect(() => bridge.on('run.stauts' as never, () => undefined)).toThrow(`unknown LabApi event 'run.stauts'; valid: ${LAB_EVENT_NAMES.join(', ')}`)
    expect(() => bridge.on('run.status', 'nope' as never)).toThrow("the handler for 'run.status' must be a function, got string")
  })
})
