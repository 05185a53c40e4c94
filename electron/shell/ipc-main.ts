// Puts the IPC handler table on ipcMain and pushes LabApi events to the app
// windows. The sender each handler checks is the frame that sent the call:
// its URL, and whether it is the top-level frame of an app window.
import { ipcMain, type IpcMainInvokeEvent, type WebContents } from 'electron'
import type { LabEventBus } from '../services/events'
import { EVENT_CHANNEL, type LabEventMessage } from './bridge'
import type { IpcHandler, IpcSender } from './ipc-handlers'

export function senderOf(event: IpcMainInvokeEvent, isAppWindow: (contents: WebContents) => boolean): IpcSender | undefined {
  const frame = event.senderFrame
  if (!frame) return undefined // the frame navigated away or was destroyed before the call arrived
  return { url: frame.url, isAppMainFrame: isAppWindow(event.sender) && frame.parent === null }
}

/** Registers every channel of the table; returns the function that removes them. */
export function registerIpcHandlers(table: Map<string, IpcHandler>, isAppWindow: (contents: WebContents) => boolean): () => void {
  for (const [channel, handler] of table) ipcMain.handle(channel, (event, params: unknown) => handler(senderOf(event, isAppWindow), params))
  return () => {
    for (const channel of table.keys()) ipcMain.removeHandler(channel)
  }
}

/** Every event of the bus goes to every app window; returns the unsubscribe function. */
export function forwardEvents(events: LabEventBus, targets: () => Iterable<WebContents>): () => void {
  return events.subscribe((event, data) => {
    const message: LabEventMessage = { event, data }
    for (const contents of targets()) if (!contents.isDestroyed()) contents.send(EVENT_CHANNEL, message)
  })
}
