// The application menu as data: what it offers in each state, and that its
// items call the actions they name.
import type { MenuItemConstructorOptions } from 'electron'
import { describe, expect, it } from 'vitest'
import { buildMenuTemplate, MAX_MENU_REPORTS, type MenuActions, type MenuState } from '../../../electron/shell/menu'

const STATE: MenuState = {
  appName: 'Linea',
  platform: 'linux',
  development: false,
  workspace: '/home/u/Linea/workspace',
  recent: ['/home/u/Linea/workspace', '/home/u/studies/recall'],
  reports: [
    { id: 'p2', name: 'GLA hybrid', kinds: ['html', 'pdf'] },
    { id: 'p1', name: 'Mamba2', kinds: ['html'] },
  ],
  preferences: { defaultBackend: 'auto', device: 0, defaultPrecision: 'auto' },
  devices: [
    { id: 'cpu', name: 'CPU', index: 0, backend: 'cpu' },
    { id: 'cuda:0', name: 'H100', index: 0, backend: 'cuda' },
    { id: 'cuda:1', name: 'H100', index: 1, backend: 'cuda' },
  ],
}

function recorder() {
  const calls: unknown[][] = []
  const record =
    (name: string) =>
    (...args: unknown[]) =>
      void calls.push([name, ...args])
  const actions: MenuActions = {
    newWorkspace: record('newWorkspace'),
    openWorkspace: record('openWorkspace'),
    openRecent: record('openRecent'),
    openReport: record('openReport'),
    chooseReportFile: record('chooseReportFile'),
    setPreference: record('setPreference'),
    about: record('about'),
  }
  return { calls, actions }
}

type Item = MenuItemConstructorOptions

function find(items: Item[], path: string[]): Item {
  const [head, ...rest] = path
  const item = items.find((i) => i.label === head)
  if (!item) throw new Error(`no menu item '${head}' among ${items.map((i) => i.label ?? i.role ?? i.type).join(', ')}`)
  return rest.length ? find(item.submenu as Item[], rest) : item
}

const click = (item: Item) => (item.click as () => void)()
const labels = (item: Item) => (item.submenu as Item[]).map((i) => i.label ?? i.type)

describe('application menu', () => {
  it('opens, creates and reopens workspaces, leaving out the open one', () => {
    const { calls, actions } = recorder()
    const menu = buildMenuTemplate(STATE, actions)
    click(find(menu, ['File', 'New Workspace…']))
    click(find(menu, ['File', 'Open Workspace…']))
    expect(labels(find(menu, ['File', 'Open Recent']))).toEqual(['/home/u/studies/recall'])
    click(find(menu, ['File', 'Open Recent', '/home/u/studies/recall']))
    expect(calls).toEqual([['newWorkspace'], ['openWorkspace'], ['openRecent', '/home/u/studies/recall']])
    const none = buildMenuTemplate({ ...STATE, recent: [STATE.workspace] }, actions)
    expect(find(none, ['File', 'Open Recent', 'No other recent workspaces']).enabled).toBe(false)
  })

  it('lists the reports of the workspace, each kind it has, and a file chooser', () => {
    const { calls, actions } = recorder()
    const menu = buildMenuTemplate(STATE, actions)
    expect(labels(find(menu, ['File', 'Open Report']))).toEqual([
      'GLA hybrid (HTML)',
      'GLA hybrid (PDF)',
      'Mamba2 (HTML)',
      'separator',
      'Choose a Report File…',
    ])
    click(find(menu, ['File', 'Open Report', 'GLA hybrid (PDF)']))
    click(find(menu, ['File', 'Open Report', 'Choose a Report File…']))
    expect(calls).toEqual([['openReport', 'p2', 'pdf'], ['chooseReportFile']])
    const many = Array.from({ length: 15 }, (_, i) => ({ id: `p${i}`, name: `r${i}`, kinds: ['html' as const] }))
    expect(labels(find(buildMenuTemplate({ ...STATE, reports: many }, actions), ['File', 'Open Report']))).toHaveLength(MAX_MENU_REPORTS + 2)
    expect(find(buildMenuTemplate({ ...STATE, reports: [] }, actions), ['File', 'Open Report', 'No reports in this workspace yet']).enabled).toBe(false)
  })

  it('sets the default backend and the device as radio choices, from the devices the engine found', () => {
    const { calls, actions } = recorder()
    const menu = buildMenuTemplate({ ...STATE, preferences: { defaultBackend: 'cuda', device: 1, defaultPrecision: 'auto' } }, actions)
    const backends = find(menu, ['File', 'Preferences', 'Default Backend']).submenu as Item[]
    expect(backends.map((b) => [b.label, b.type, b.checked])).toEqual([
      ['auto', 'radio', false],
      ['cpu', 'radio', false],
      ['cuda', 'radio', true],
      ['webgpu', 'radio', false],
    ])
    const devices = find(menu, ['File', 'Preferences', 'Device']).submenu as Item[]
    expect(devices.map((d) => [d.label, d.checked])).toEqual([
      ['cuda:0: H100', false],
      ['cuda:1: H100', true],
    ])
    click(backends[1]!)
    click(devices[0]!)
    expect(calls).toEqual([
      ['setPreference', 'defaultBackend', 'cpu'],
      ['setPreference', 'device', 0],
    ])
  })

  it('keeps a saved device that the engine does not report, marked as such', () => {
    const menu = buildMenuTemplate(
      { ...STATE, devices: STATE.devices.slice(0, 1), preferences: { defaultBackend: 'auto', device: 3, defaultPrecision: 'auto' } },
      recorder().actions,
    )
    expect(labels(find(menu, ['File', 'Preferences', 'Device']))).toEqual(['device 3 (not found now)'])
  })

  it('shows engine information from About, in Help (Linux, Windows) and the app menu (macOS)', () => {
    const { calls, actions } = recorder()
    click(find(buildMenuTemplate(STATE, actions), ['Help', 'About Linea']))
    const mac = buildMenuTemplate({ ...STATE, platform: 'darwin' }, actions)
    expect(mac[0]!.label).toBe('Linea')
    click(find(mac, ['Linea', 'About Linea']))
    find(mac, ['Linea', 'Preferences', 'Default Backend'])
    expect(() => find(mac, ['File', 'Preferences'])).toThrow("no menu item 'Preferences'")
    expect(calls).toEqual([['about'], ['about']])
  })

  it('offers developer tools only in development', () => {
    const devTools = (development: boolean) =>
      (find(buildMenuTemplate({ ...STATE, development }, recorder().actions), ['View']).submenu as Item[]).some((i) => i.role === 'toggleDevTools')
    expect([devTools(false), devTools(true)]).toEqual([false, true])
  })
})
