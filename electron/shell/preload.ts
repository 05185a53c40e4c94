// The preload bridge: exposes exactly the LabApi to the renderer, one
// function per method, plus event subscriptions. Results arrive as
// envelopes ({ ok, result } | { ok, error }) because errors thrown across
// the context bridge lose their fields; the renderer's client unwraps them.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import { LAB_API_METHOD_NAMES, LAB_EVENT_NAMES } from '../api/labapi'

const bridge: Record<string, unknown> = {}
for (const method of LAB_API_METHOD_NAMES) {
  bridge[method] = (params: unknown) => ipcRenderer.invoke(`labapi:${method}`, params)
}
bridge.on = (event: string, handler: (data: unknown) => void) => {
  if (!(LAB_EVENT_NAMES as readonly string[]).includes(event)) throw new Error(`unknown LabApi event '${event}'`)
  const listener = (_e: IpcRendererEvent, message: { event: string; data: unknown }) => {
    if (message.event === event) handler(message.data)
  }
  ipcRenderer.on('labapi:event', listener)
  return () => ipcRenderer.removeListener('labapi:event', listener)
}

contextBridge.exposeInMainWorld('linea', bridge)
