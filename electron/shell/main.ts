// The Electron main process: one window onto the renderer, the LabApi over
// IPC, engine jobs in utility processes. The only place Electron is imported
// (with the other files of electron/shell).
import { app, BrowserWindow, ipcMain, type IpcMainInvokeEvent } from 'electron'
import { join } from 'node:path'
import { LabEventBus } from '../services/events'
import { EngineService } from '../services/engine-service'
import { createLabHandlers } from '../services/lab-service'
import { defaultWorkspacePath } from '../workspace/workspace'
import { WorkspaceService } from '../services/workspace-service'
import { ProfileService } from '../services/profile-service'
import { InspectService } from '../services/inspect-service'
import { createIpcHandlers, type IpcSender } from './ipc-handlers'
import { registerAppScheme, serveRenderer } from './renderer-protocol'
import { utilityLauncher } from './utility-launcher'

const outDir = join(import.meta.dirname, '..')
const windows = new Set<BrowserWindow>()

function senderOf(event: IpcMainInvokeEvent): IpcSender | undefined {
  const frame = event.senderFrame
  if (!frame) return undefined
  const owner = BrowserWindow.fromWebContents(event.sender)
  return { url: frame.url, isAppMainFrame: !!owner && windows.has(owner) && frame === event.sender.mainFrame }
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    title: 'Linea',
    webPreferences: {
      preload: join(outDir, 'preload', 'index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    },
  })
  windows.add(win)
  win.on('closed', () => windows.delete(win))
  win.webContents.on('will-navigate', (e) => e.preventDefault())
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }))
  void win.loadURL('linea://app/index.html')
  return win
}

registerAppScheme()
app.whenReady().then(() => {
  serveRenderer(join(outDir, 'renderer'))
  const events = new LabEventBus()
  const launcher = utilityLauncher(join(outDir, 'main', 'engine-process.js'))
  const engine = new EngineService(launcher, events)
  const workspaces = new WorkspaceService(defaultWorkspacePath(), launcher, events)
  // PDFs of reports come from printToPDF with the desktop app (wired in the Electron issue).
  const profiles = new ProfileService(workspaces, launcher, events, undefined)
  const inspections = new InspectService(workspaces, launcher, events)
  const handlers = createLabHandlers({ engine, workspaces, profiles, inspections })
  for (const [channel, handler] of createIpcHandlers(handlers)) {
    ipcMain.handle(channel, (event, params) => handler(senderOf(event), params))
  }
  events.subscribe((event, data) => {
    for (const win of windows) win.webContents.send('labapi:event', { event, data })
  })
  createWindow()
  app.on('activate', () => {
    if (windows.size === 0) createWindow()
  })
  app.on('before-quit', () => {
    engine.stop()
    profiles.stop()
    workspaces.close()
  })
})
app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})
