// The preload bridge: `window.linea` is exactly the LabApi (see bridge.ts),
// over ipcRenderer. Runs sandboxed, bundled as CommonJS.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import { createLineaBridge, EVENT_CHANNEL } from './bridge'

const bridge = createLineaBridge({
  invoke: (channel, params) => ipcRenderer.invoke(channel, params),
  listen: (fn) => {
    const listener = (_event: IpcRendererEvent, message: unknown) => fn(message)
    ipcRenderer.on(EVENT_CHANNEL, listener)
    return () => void ipcRenderer.removeListener(EVENT_CHANNEL, listener)
  },
})

contextBridge.exposeInMainWorld('linea', bridge)
