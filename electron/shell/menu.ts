// The application menu as data: a pure function of what the app knows
// (workspace, recent folders, reports, preferences, devices) and the actions
// it can take, so it is tested without Electron and rebuilt whenever one of
// those changes.
import type { MenuItemConstructorOptions } from 'electron'
import { BACKENDS, PRECISIONS } from '../api/train-spec'
import type { Preferences } from '../services/preferences'
import type { ReportKind } from './app-urls'

export interface MenuReport {
  id: string
  name: string
  kinds: ReportKind[]
}

export interface MenuState {
  appName: string
  platform: NodeJS.Platform
  /** Development build: adds the developer tools. */
  development: boolean
  workspace: string
  recent: string[]
  /** Profiles of the open workspace that have a report, newest first. */
  reports: MenuReport[]
  preferences: Preferences
  /** Devices of the engine, e.g. cuda:0; empty until the engine answered. */
  devices: { id: string; name: string; index: number; backend: string }[]
}

export interface MenuActions {
  newWorkspace(): void
  openWorkspace(): void
  openRecent(path: string): void
  openReport(id: string, kind: ReportKind): void
  chooseReportFile(): void
  setPreference(key: keyof Preferences, value: unknown): void
  about(): void
}

export const MAX_MENU_REPORTS = 10

function recentItems(state: MenuState, actions: MenuActions): MenuItemConstructorOptions[] {
  const others = state.recent.filter((p) => p !== state.workspace)
  if (!others.length) return [{ label: 'No other recent workspaces', enabled: false }]
  return others.map((path) => ({ label: path, click: () => actions.openRecent(path) }))
}

function reportItems(state: MenuState, actions: MenuActions): MenuItemConstructorOptions[] {
  const items: MenuItemConstructorOptions[] = state.reports
    .slice(0, MAX_MENU_REPORTS)
    .flatMap((r) => r.kinds.map((kind) => ({ label: `${r.name} (${kind.toUpperCase()})`, click: () => actions.openReport(r.id, kind) })))
  if (!items.length) items.push({ label: 'No reports in this workspace yet', enabled: false })
  return [...items, { type: 'separator' }, { label: 'Choose a Report File…', click: () => actions.chooseReportFile() }]
}

function preferenceItems(state: MenuState, actions: MenuActions): MenuItemConstructorOptions[] {
  const p = state.preferences
  const gpuDevices = state.devices.filter((d) => d.backend !== 'cpu')
  // Device indices the engine reported, plus the saved one even if it is absent now (so it stays visible).
  const indices = [...new Set([...gpuDevices.map((d) => d.index), p.device])].sort((a, b) => a - b)
  return [
    {
      label: 'Default Backend',
      submenu: BACKENDS.map((b) => ({
        label: b,
        type: 'radio' as const,
        checked: p.defaultBackend === b,
        click: () => actions.setPreference('defaultBackend', b),
      })),
    },
    {
      label: 'Device',
      submenu: indices.map((index) => {
        const d = gpuDevices.find((g) => g.index === index)
        return {
          label: d ? `${d.id}: ${d.name}` : `device ${index}${state.devices.length ? ' (not found now)' : ''}`,
          type: 'radio' as const,
          checked: p.device === index,
          click: () => actions.setPreference('device', index),
        }
      }),
    },
    {
      label: 'Default Precision',
      submenu: PRECISIONS.map((precision) => ({
        label: precision === 'auto' ? 'auto (bf16 on a GPU, f32 on the CPU)' : precision,
        type: 'radio' as const,
        checked: p.defaultPrecision === precision,
        click: () => actions.setPreference('defaultPrecision', precision),
      })),
    },
  ]
}

export function buildMenuTemplate(state: MenuState, actions: MenuActions): MenuItemConstructorOptions[] {
  const mac = state.platform === 'darwin'
  const about: MenuItemConstructorOptions = { label: `About ${state.appName}`, click: () => actions.about() }
  const preferences: MenuItemConstructorOptions = { label: 'Preferences', submenu: preferenceItems(state, actions) }
  const file: MenuItemConstructorOptions = {
    label: 'File',
    submenu: [
      { label: 'New Workspace…', accelerator: 'CmdOrCtrl+N', click: () => actions.newWorkspace() },
      { label: 'Open Workspace…', accelerator: 'CmdOrCtrl+O', click: () => actions.openWorkspace() },
      { label: 'Open Recent', submenu: recentItems(state, actions) },
      { type: 'separator' },
      { label: 'Open Report', submenu: reportItems(state, actions) },
      ...(mac ? [] : [{ type: 'separator' as const }, preferences, { type: 'separator' as const }, { role: 'quit' as const }]),
    ],
  }
  const view: MenuItemConstructorOptions = {
    label: 'View',
    submenu: [
      { role: 'reload' },
      ...(state.development ? [{ role: 'toggleDevTools' as const }] : []),
      { type: 'separator' },
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
    ],
  }
  const appMenu: MenuItemConstructorOptions = {
    label: state.appName,
    submenu: [
      about,
      { type: 'separator' },
      preferences,
      { type: 'separator' },
      { role: 'hide' },
      { role: 'hideOthers' },
      { role: 'unhide' },
      { type: 'separator' },
      { role: 'quit' },
    ],
  }
  return [
    ...(mac ? [appMenu] : []),
    file,
    { role: 'editMenu' },
    view,
    { role: 'windowMenu' },
    { label: 'Help', role: 'help', submenu: mac ? [{ label: 'Engine Information…', click: () => actions.about() }] : [about] },
  ]
}
