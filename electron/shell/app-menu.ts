// The application menu, kept current: rebuilt from the services' state
// whenever the workspace, its reports, the preferences or the engine's
// devices change. Workspace actions go through the same LabApi dispatch as
// the renderer's calls, so they are checked and evented the same way.
import { app, dialog, Menu, type BrowserWindow } from 'electron'
import { join } from 'node:path'
import type { EngineInfo } from '../api/labapi'
import { dispatchLabApi } from '../services/dispatch'
import type { LabServices } from '../services/lab-services'
import { recentWorkspaces } from '../services/recent-workspaces'
import { aboutText } from './about'
import { chooseExistingWorkspace, chooseNewWorkspace, chooseReportFile, openWithSystem, showError } from './dialogs'
import { isWorkspaceFolder } from './launch'
import { buildMenuTemplate, type MenuActions, type MenuReport, type MenuState } from './menu'
import type { Preferences } from '../api/preferences'
import type { ReportKind } from './app-urls'

export interface AppMenuOptions {
  services: LabServices
  /** The window dialogs attach to. */
  window: () => BrowserWindow | undefined
  development: boolean
}

export class AppMenu {
  private devices: EngineInfo['devices'] = []
  private readonly actions: MenuActions

  constructor(private readonly options: AppMenuOptions) {
    for (const p of options.services.preferences.read().problems) console.warn(`linea: ${p}`)
    this.actions = {
      newWorkspace: () => void this.pickAndOpen(chooseNewWorkspace),
      openWorkspace: () => void this.pickAndOpen(chooseExistingWorkspace),
      openRecent: (path) => void this.openRecent(path),
      openReport: (id, kind) => void this.openReport(id, kind),
      chooseReportFile: () => void this.chooseReport(),
      setPreference: (key, value) => void this.setPreference(key, value),
      about: () => void this.about(),
    }
  }

  setDevices(devices: EngineInfo['devices']): void {
    this.devices = devices
    this.refresh()
  }

  refresh(): void {
    Menu.setApplicationMenu(Menu.buildFromTemplate(buildMenuTemplate(this.state(), this.actions)))
  }

  private state(): MenuState {
    const { workspaces, profiles } = this.options.services
    const reports: MenuReport[] = profiles
      .list()
      .filter((p) => p.report)
      .map((p) => ({ id: p.id, name: p.name, kinds: p.report?.pdf ? ['html', 'pdf'] : ['html'] }))
    return {
      appName: app.getName(),
      platform: process.platform,
      development: this.options.development,
      workspace: workspaces.workspace.root,
      recent: recentWorkspaces(),
      reports,
      preferences: this.options.services.preferences.read().preferences,
      devices: this.devices,
    }
  }

  private async open(path: string): Promise<void> {
    try {
      await dispatchLabApi(this.options.services.handlers, 'openWorkspace', { path })
    } catch (err) {
      await showError(this.options.window(), `Linea could not open the workspace ${path}`, (err as Error).message)
    }
    this.refresh() // workspace.changed refreshes too; this covers a failure
  }

  private async pickAndOpen(choose: (parent: BrowserWindow | undefined) => Promise<string | undefined>): Promise<void> {
    const path = await choose(this.options.window())
    if (path) await this.open(path)
  }

  private async openRecent(path: string): Promise<void> {
    if (!isWorkspaceFolder(path)) {
      await showError(this.options.window(), `${path} is no longer a Linea workspace`, 'It was moved or deleted, or its workspace.json is gone.')
      return
    }
    await this.open(path)
  }

  private async openReport(id: string, kind: ReportKind): Promise<void> {
    let file: string
    try {
      file = this.options.services.profiles.reportFile(id, kind)
    } catch (err) {
      await showError(this.options.window(), 'Linea could not open the report', (err as Error).message)
      return
    }
    await openWithSystem(this.options.window(), file)
  }

  private async chooseReport(): Promise<void> {
    const file = await chooseReportFile(this.options.window(), join(this.options.services.workspaces.workspace.root, 'profiles'))
    if (file) await openWithSystem(this.options.window(), file)
  }

  /** Through the LabApi, like the renderer's calls: checked, written, and evented ('preferences.changed' refreshes the menu). */
  private async setPreference(key: keyof Preferences, value: unknown): Promise<void> {
    try {
      await dispatchLabApi(this.options.services.handlers, 'setPreferences', { [key]: value })
    } catch (err) {
      await showError(this.options.window(), 'Linea could not save the preference', (err as Error).message)
      this.refresh() // back to the value in force
    }
  }

  private async about(): Promise<void> {
    let info: EngineInfo | Error
    try {
      info = await this.options.services.engine.call('info', {})
    } catch (err) {
      info = err as Error
    }
    const versions = { app: app.getVersion(), electron: process.versions.electron ?? '?', chrome: process.versions.chrome ?? '?', node: process.versions.node }
    const { message, detail } = aboutText(info, versions, this.options.services.preferences.read().preferences)
    const parent = this.options.window()
    const options = { type: 'info' as const, title: `About ${app.getName()}`, message, detail, buttons: ['OK'] }
    if (parent) await dialog.showMessageBox(parent, options)
    else await dialog.showMessageBox(options)
  }
}
