// The app window: the renderer from linea://app (or the dev server), the
// preload bridge, sandboxed; its size and position restored; report links
// opened through the app instead of a new window; nothing else opens.
import { BrowserWindow, screen } from 'electron'
import { decideWindowOpen, type ReportKind } from './app-urls'
import { initialWindowBounds, MIN_WINDOW_SIZE, readWindowState, saveWindowState } from './window-state'

export interface AppWindowOptions {
  preload: string
  /** linea://app/index.html, or the Vite dev server's URL in development. */
  url: string
  appOrigin: string
  /** window-state.json */
  stateFile: string
  openReport(id: string, kind: ReportKind): void
}

export function createAppWindow(options: AppWindowOptions): BrowserWindow {
  const initial = initialWindowBounds(
    readWindowState(options.stateFile),
    screen.getAllDisplays().map((d) => d.workArea),
  )
  const win = new BrowserWindow({
    ...(initial.x !== undefined && initial.y !== undefined ? { x: initial.x, y: initial.y } : {}),
    width: initial.width,
    height: initial.height,
    minWidth: MIN_WINDOW_SIZE.width,
    minHeight: MIN_WINDOW_SIZE.height,
    show: false,
    title: 'Linea',
    webPreferences: {
      preload: options.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
    },
  })
  if (initial.maximized) win.maximize()
  win.once('ready-to-show', () => win.show())

  // A report link (target=_blank on the Profile screen, as in headless mode)
  // opens the file with the system's viewer; every other window is refused.
  const follow = (url: string): void => {
    const decision = decideWindowOpen(url, options.appOrigin)
    if (decision.action === 'open-report') options.openReport(decision.id, decision.kind)
    else console.warn(`linea: ${decision.reason}`)
  }
  win.webContents.setWindowOpenHandler(({ url }) => {
    follow(url)
    return { action: 'deny' }
  })
  win.webContents.on('will-navigate', (event, url) => {
    event.preventDefault()
    follow(url)
  })

  win.on('close', () => saveWindowState(options.stateFile, { bounds: win.getNormalBounds(), maximized: win.isMaximized() }))
  void win.loadURL(options.url)
  return win
}
