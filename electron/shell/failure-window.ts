// The window shown instead of the app when the engine cannot start: a
// static page (engine-failure.ts), no script, no preload. Closing it quits.
import { app, BrowserWindow } from 'electron'
import { engineFailurePage, type EngineFailure } from './engine-failure'

export function showEngineFailureWindow(failure: EngineFailure): BrowserWindow {
  console.error(`linea: ${failure.title}\n  file: ${failure.files.join('\n        ')}\n  error: ${failure.error}\n  fix: ${failure.fix.join('\n       ')}`)
  const win = new BrowserWindow({
    width: 760,
    height: 520,
    title: `Linea: ${failure.title}`,
    webPreferences: { javascript: false, sandbox: true, contextIsolation: true, nodeIntegration: false },
  })
  win.setMenuBarVisibility(false)
  win.on('closed', () => app.quit())
  void win.loadURL(`data:text/html;charset=utf-8,${encodeURIComponent(engineFailurePage(failure))}`)
  return win
}
