// The desktop app, once Electron is ready: the LabApi services (the same
// composition as headless mode, with utility processes and printToPDF),
// the renderer protocol, the IPC table, the menu, the window, and a check
// that the engine starts (else the error window says why).
import { app, BrowserWindow, type WebContents } from 'electron'
import { join, resolve } from 'node:path'
import { addonCandidates } from '../engine/addon'
import { engineEnv } from '../jobs/engine-process'
import { dispatchLabApi } from '../services/dispatch'
import { createLabServices, type LabServices } from '../services/lab-services'
import { recentWorkspaces } from '../services/recent-workspaces'
import { defaultWorkspacePath } from '../workspace/workspace'
import { AppMenu } from './app-menu'
import { APP_ORIGIN, originOf, type ReportKind } from './app-urls'
import { createAppWindow } from './app-window'
import { configFiles } from '../services/config-files'
import { askForAnotherWorkspace, openWithSystem, showError } from './dialogs'
import { engineFailureOf } from './engine-failure'
import { showEngineFailureWindow } from './failure-window'
import { appSenderCheck, createIpcHandlers } from './ipc-handlers'
import { forwardEvents, registerIpcHandlers } from './ipc-main'
import { startupWorkspace, workspaceArg } from './launch'
import { printToPdf } from './pdf-renderer'
import { serveRenderer } from './renderer-protocol'
import { utilityLauncher } from './utility-launcher'
import { denyPermissions } from './web-security'

/** The bundles electron-vite writes under out/. */
export interface BuiltApp {
  /** out/renderer */
  rendererDir: string
  /** out/preload/index.cjs */
  preload: string
  /** out/main/engine-process.js */
  engineEntry: string
}

/** Where the packaged app ships the addon (electron-builder.yml extraResources). */
export function packagedAddonPath(resourcesPath: string): string {
  return join(resourcesPath, 'native', 'linea.node')
}

/** Opens the launch workspace; when it cannot be (locked, unreadable), asks for another or quits. */
async function openServices(build: (workspace: string) => LabServices): Promise<LabServices | undefined> {
  let { path } = startupWorkspace({ argv: process.argv, env: process.env, recent: recentWorkspaces(), fallback: defaultWorkspacePath() })
  for (;;) {
    try {
      return build(path)
    } catch (err) {
      const next = await askForAnotherWorkspace(path, (err as Error).message)
      if (!next) return undefined
      path = next
    }
  }
}

export async function startDesktopApp(built: BuiltApp): Promise<void> {
  denyPermissions()
  // Development (electron-vite dev): the renderer comes from Vite's server, and only from there.
  const devUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined
  const appUrl = devUrl ?? `${APP_ORIGIN}/index.html`
  const appOrigin = devUrl ? originOf(devUrl)! : APP_ORIGIN

  // Packaged: the engine processes load the addon shipped in resources/, and nothing else.
  // Own variables only (engineEnv): an inherited NODE_OPTIONS or a polluted prototype never reaches an engine.
  const env = engineEnv(process.env, app.isPackaged && !process.env.LINEA_ADDON ? { LINEA_ADDON: packagedAddonPath(process.resourcesPath) } : {})
  const launcher = utilityLauncher(built.engineEntry, env)
  const services = await openServices((workspace) => createLabServices({ launcher, workspace, renderPdf: printToPdf }))
  if (!services) {
    app.quit()
    return
  }

  const windows = new Set<BrowserWindow>()
  const isAppWindow = (contents: WebContents) => [...windows].some((w) => !w.isDestroyed() && w.webContents === contents)
  const mainWindow = () => [...windows][0]

  serveRenderer(built.rendererDir, (id, kind) => services.profiles.reportFile(id, kind))
  const table = createIpcHandlers(services.handlers, appSenderCheck(appOrigin), (method, sender) =>
    console.warn(`linea: refused ${method} from ${sender ? `${sender.url}${sender.isAppMainFrame ? '' : ' (not the app window)'}` : 'a gone frame'}`),
  )
  registerIpcHandlers(table, isAppWindow)
  forwardEvents(services.events, () => [...windows].filter((w) => !w.isDestroyed()).map((w) => w.webContents))

  const menu = new AppMenu({ services, window: mainWindow, development: !app.isPackaged })
  menu.refresh()
  services.events.subscribe((event) => {
    if (event === 'workspace.changed' || event === 'profile.status' || event === 'preferences.changed') menu.refresh()
  })

  const openReport = (id: string, kind: ReportKind): void => {
    let file: string
    try {
      file = services.profiles.reportFile(id, kind)
    } catch (err) {
      void showError(mainWindow(), 'Linea could not open the report', (err as Error).message)
      return
    }
    void openWithSystem(mainWindow(), file)
  }
  const openWindow = (): BrowserWindow => {
    const win = createAppWindow({ preload: built.preload, url: appUrl, appOrigin, stateFile: configFiles.windowState(), openReport })
    windows.add(win)
    win.on('closed', () => windows.delete(win))
    return win
  }
  const first = openWindow()

  app.on('second-instance', (_event, argv, workingDirectory) => {
    const win = mainWindow() ?? openWindow()
    if (win.isMinimized()) win.restore()
    win.focus()
    let path: string | undefined
    try {
      path = workspaceArg(argv)
    } catch (err) {
      void showError(win, 'Linea ignored a launch argument', (err as Error).message)
    }
    if (!path) return
    const full = resolve(workingDirectory, path)
    dispatchLabApi(services.handlers, 'openWorkspace', { path: full }).catch((err: Error) =>
      showError(win, `Linea could not open the workspace ${full}`, err.message),
    )
  })
  app.on('activate', () => {
    if (!windows.size) openWindow()
  })
  app.on('before-quit', () => services.stop())

  // The main process never loads the addon: the interactive engine process
  // does, on this first call. If it cannot, the app shows why instead.
  try {
    const info = await services.engine.call('info', {})
    menu.setDevices(info.devices)
  } catch (err) {
    const failure = engineFailureOf(err, {
      packaged: app.isPackaged,
      platform: process.platform,
      candidates: app.isPackaged ? [packagedAddonPath(process.resourcesPath)] : addonCandidates(),
    })
    if (!failure) throw err
    showEngineFailureWindow(failure)
    windows.delete(first)
    first.destroy()
  }
}
