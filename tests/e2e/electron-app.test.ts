// The desktop app, packaged and launched.
//
// 1. Packaging: electron-builder --dir with electron-builder.yml, into a
//    temporary folder. With no Electron binary (this build machine installs
//    Electron with ELECTRON_SKIP_BINARY_DOWNLOAD=1) a stand-in Electron
//    folder takes the binary's place, so the app's layout is still checked:
//    bundles and templates in app.asar, the addon beside it in resources/.
// 2. The app: only where an Electron binary exists (ELECTRON_OVERRIDE_DIST_PATH,
//    or a normal `npm install` that downloaded one) and a display does. The
//    packaged app is launched through Playwright's Electron support with a
//    fresh workspace and config folder, then: linea://app with its CSP and
//    exactly the LabApi on window.linea, navigation and new windows refused,
//    composer → train (in a utility process) → inspect, and the window's
//    size restored at the next launch.
import { listPackage, extractFile } from '@electron/asar'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { _electron, type ElectronApplication, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LAB_API_METHOD_NAMES } from '../../electron/api/labapi'
import { projectRoot } from '../../electron/platform/project-root'
import { CSP } from '../../electron/shell/app-urls'
import { artifactsDir } from './browser'

const root = projectRoot()

/** The Electron executable inside an unpacked Electron folder, per OS. */
const ELECTRON_IN_DIST: Partial<Record<NodeJS.Platform, string>> = { linux: 'electron', win32: 'electron.exe', darwin: 'Electron.app/Contents/MacOS/Electron' }

/** An unpacked Electron to package with, or why there is none. */
function electronDist(): { dist: string } | { missing: string } {
  const binary = ELECTRON_IN_DIST[process.platform]
  if (!binary) return { missing: `no Electron for platform ${process.platform}` }
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH
  if (override) {
    // asked for explicitly: a wrong path is an error, not a skip
    if (!existsSync(join(override, binary)))
      throw new Error(`ELECTRON_OVERRIDE_DIST_PATH=${override} has no ${binary}; point it at an unpacked Electron ${electronVersion()} folder`)
    return { dist: override }
  }
  const installed = join(root, 'node_modules', 'electron', 'dist')
  if (existsSync(join(installed, binary))) return { dist: installed }
  return {
    missing: `no Electron binary: node_modules/electron has no dist/ (installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1) and ELECTRON_OVERRIDE_DIST_PATH is not set; set it to an unpacked Electron ${electronVersion()} to run these tests`,
  }
}

function electronVersion(): string {
  return JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version
}

/** Enough of an Electron folder for electron-builder to lay the app out (it never runs). */
function standInElectronDist(): string {
  const dir = mkdtempSync(join(tmpdir(), 'linea-stand-in-electron-'))
  mkdirSync(join(dir, 'resources'))
  writeFileSync(join(dir, 'electron'), '#!/bin/sh\necho "stand-in for the Electron binary, which this machine cannot download" >&2\nexit 1\n')
  chmodSync(join(dir, 'electron'), 0o755)
  writeFileSync(join(dir, 'version'), `v${electronVersion()}`)
  writeFileSync(join(dir, 'LICENSE'), 'MIT (stand-in)\n')
  writeFileSync(join(dir, 'LICENSES.chromium.html'), '<p>stand-in</p>\n')
  return dir
}

/** Runs `electron-builder --dir` for this OS; returns the unpacked app's folder. */
function packageUnpacked(dist: string): { appDir: string; resources: string; executable: string; log: string } {
  const out = mkdtempSync(join(tmpdir(), 'linea-dist-'))
  const cli = join(root, 'node_modules', 'electron-builder', 'cli.js')
  const r = spawnSync(process.execPath, [cli, '--dir', `-c.electronDist=${dist}`, `-c.directories.output=${out}`], {
    cwd: root,
    encoding: 'utf8',
    timeout: 300_000,
  })
  const log = `${r.stdout}\n${r.stderr}`
  if (r.status !== 0) throw new Error(`electron-builder --dir failed (exit ${r.status}):\n${log}`)
  const unpacked = readdirSync(out).find((d) => /-unpacked$/.test(d) || /^mac/.test(d))
  if (!unpacked) throw new Error(`electron-builder wrote no unpacked app into ${out}: ${readdirSync(out).join(', ')}\n${log}`)
  const appDir = join(out, unpacked)
  if (process.platform === 'darwin')
    return { appDir, resources: join(appDir, 'Linea.app', 'Contents', 'Resources'), executable: join(appDir, 'Linea.app', 'Contents', 'MacOS', 'Linea'), log }
  return { appDir, resources: join(appDir, 'resources'), executable: join(appDir, process.platform === 'win32' ? 'Linea.exe' : 'linea'), log }
}

const found = electronDist()
const display = process.platform !== 'linux' || !!process.env.DISPLAY || !!process.env.WAYLAND_DISPLAY
const skipApp = 'missing' in found ? found.missing : !display ? 'no display (DISPLAY / WAYLAND_DISPLAY unset): run under xvfb-run' : undefined
if (skipApp) console.warn(`electron-app: the desktop app tests are skipped: ${skipApp}`)

let packaged: ReturnType<typeof packageUnpacked>

beforeAll(() => {
  const main = join(root, 'out', 'main', 'index.js')
  if (!existsSync(main)) throw new Error(`the app is not built (no ${main}); run: npm run build`)
  packaged = packageUnpacked('dist' in found ? found.dist : standInElectronDist())
}, 300_000)

describe('packaging (electron-builder --dir)', () => {
  it('puts the bundles, package.json and the templates into app.asar', () => {
    const asar = join(packaged.resources, 'app.asar')
    const files = new Set(listPackage(asar, { isPack: false }).map((f) => f.replace(/\\/g, '/')))
    for (const f of ['/package.json', '/out/main/index.js', '/out/main/engine-process.js', '/out/preload/index.cjs', '/out/renderer/index.html'])
      expect(files.has(f), f).toBe(true)
    const templates = readdirSync(join(root, 'workspace-templates')).filter((f) => f.endsWith('.json'))
    expect(templates.length).toBeGreaterThan(0)
    for (const t of templates) expect(files.has(`/workspace-templates/${t}`), t).toBe(true)
    const pkg = JSON.parse(extractFile(asar, 'package.json').toString('utf8'))
    expect([pkg.name, pkg.main]).toEqual(['linea', 'out/main/index.js']) // projectRoot() finds the app by this name
    expect(files.has('/out/main/index.js.map')).toBe(false)
  })

  it("ships the main process's dependencies and leaves out the renderer's", () => {
    const modules = new Set(
      listPackage(join(packaged.resources, 'app.asar'), { isPack: false })
        .map((f) => f.replace(/\\/g, '/'))
        .filter((f) => f.startsWith('/node_modules/'))
        .map((f) => f.split('/')[2]),
    )
    for (const dep of ['echarts', 'zrender', 'ws', 'zod']) expect(modules.has(dep), dep).toBe(true)
    for (const dep of ['vue', 'pinia', 'vue-router', 'node-addon-api', 'playwright-core']) expect(modules.has(dep), dep).toBe(false)
  })

  it('puts the native addon outside the asar, byte for byte', () => {
    const shipped = join(packaged.resources, 'native', 'linea.node')
    expect(existsSync(shipped)).toBe(true)
    expect(readFileSync(shipped).equals(readFileSync(join(root, 'native', 'build', 'Release', 'linea.node')))).toBe(true)
  })
})

describe.skipIf(!!skipApp)(skipApp ? `the desktop app (skipped: ${skipApp})` : 'the desktop app', () => {
  const workspace = mkdtempSync(join(tmpdir(), 'linea-desktop-ws-'))
  const configDir = mkdtempSync(join(tmpdir(), 'linea-desktop-config-'))
  let app: ElectronApplication
  let page: Page

  async function launch(): Promise<void> {
    app = await _electron.launch({
      executablePath: packaged.executable,
      args: ['--workspace', workspace],
      env: { ...process.env, LINEA_CONFIG_DIR: configDir, ELECTRON_ENABLE_LOGGING: '1' } as Record<string, string>,
      timeout: 60_000,
    })
    page = await app.firstWindow()
    // a fresh workspace lands on the Start screen, one with runs on Compose: go to Compose either way
    await page.click('[data-testid=nav-compose]', { timeout: 60_000 })
    await page.waitForSelector('[data-testid=layer-stack]', { timeout: 60_000 })
  }

  beforeAll(launch, 120_000)
  afterAll(async () => {
    await app?.close()
  })

  it('serves the renderer from linea://app with the strict CSP, and window.linea is exactly the LabApi', async () => {
    expect(page.url()).toMatch(/^linea:\/\/app\/index\.html#\//)
    expect(await page.evaluate(() => fetch('/index.html').then((r) => r.headers.get('content-security-policy')))).toBe(CSP)
    const keys = await page.evaluate(() => Object.keys((window as unknown as { linea: object }).linea).sort())
    expect(keys).toEqual([...LAB_API_METHOD_NAMES, 'on'].sort())
    expect(await page.evaluate(() => [typeof (window as { require?: unknown }).require, typeof (globalThis as { process?: unknown }).process])).toEqual([
      'undefined',
      'undefined',
    ])
  })

  it('refuses navigation away and new windows', async () => {
    const before = page.url()
    expect(await page.evaluate(() => window.open('https://example.com/') === null)).toBe(true)
    // the main process refuses the navigation in will-navigate and says so: wait for that, then look
    const refused = app.waitForEvent('console', { predicate: (m) => m.text().includes('blocked navigation to https://example.com/'), timeout: 20_000 })
    await page.evaluate(() => {
      location.href = 'https://example.com/'
    })
    await refused
    expect(page.url()).toBe(before)
    expect(await page.evaluate(() => location.href)).toBe(before)
    expect(app.windows()).toHaveLength(1)
  })

  it('composes a model, trains it in a utility process, and opens Inspect', async () => {
    // Compose: a small GLA, saved into the workspace
    await page.fill('[data-testid=model-n_layers]', '2')
    await page.press('[data-testid=model-n_layers]', 'Tab')
    await page.fill('[data-testid=save-name]', 'desktop-gla')
    await page.click('[data-testid=save]')
    await page.waitForSelector('[data-testid=composer-status]:text("saved as desktop-gla")')
    expect(existsSync(join(workspace, 'specs', 'desktop-gla.json'))).toBe(true)
    await page.screenshot({ path: join(artifactsDir(), 'electron-compose.png') })

    // Train: that spec, scaled down to seconds on a CPU
    await page.click('[data-testid=nav-train]')
    await page.waitForSelector('[data-testid=train-form]')
    await page.focus('[data-testid=train-model]')
    await page.waitForSelector('[data-testid=train-model] option[value="saved:desktop-gla"]', { state: 'attached' })
    await page.selectOption('[data-testid=train-model]', 'saved:desktop-gla')
    for (const [field, value] of [
      ['train-steps', '40'],
      ['train-batch_size', '8'],
      ['train-schedule-warmup_steps', '5'],
      ['train-eval-every', '20'],
      ['train-eval-batches', '1'],
      ['train-task-seq_len', '32'],
      ['train-early_stop_accuracy', ''], // run every step
    ] as const) {
      await page.fill(`[data-testid=${field}]`, value)
      await page.press(`[data-testid=${field}]`, 'Tab')
    }
    await page.selectOption('[data-testid=train-backend]', 'cpu')
    await page.click('[data-testid=train-start]')
    await page.waitForSelector('[data-testid=live-run-status]:text("running")', { timeout: 60_000 })
    // the job's engine is an Electron utility process, not a child of Node
    const engines = await app.evaluate(({ app }) => app.getAppMetrics().filter((m) => m.type === 'Utility' && m.name === 'Linea engine').length)
    expect(engines).toBeGreaterThanOrEqual(1)
    await page.waitForSelector('[data-testid=live-run-status]:text("completed")', { timeout: 120_000 })
    await page.screenshot({ path: join(artifactsDir(), 'electron-train.png') })

    // The run is in the workspace as headless mode writes it
    const runs = readdirSync(join(workspace, 'runs'))
    expect(runs).toHaveLength(1)
    const run = JSON.parse(readFileSync(join(workspace, 'runs', runs[0]!, 'run.json'), 'utf8'))
    expect([run.status, run.steps, run.specName]).toEqual(['completed', 40, 'desktop-gla'])
    const lines = readFileSync(join(workspace, 'runs', runs[0]!, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
    expect(lines.filter((l) => JSON.parse(l).type === 'train')).toHaveLength(40)

    // Inspect: the run's last checkpoint in an engine process, the answer cached in the run folder
    await page.click('[data-testid=nav-inspect]')
    await page.waitForFunction(() => location.hash.startsWith('#/inspect'))
    expect(await page.textContent('h1')).toContain('Inspect')
    await page.waitForSelector(`[data-testid=inspect-run] option[value="${runs[0]}"]`, { state: 'attached' })
    await page.selectOption('[data-testid=inspect-run]', runs[0]!)
    await page.fill('[data-testid=inspect-recall-examples]', '16')
    await page.click('[data-testid=inspect-start]')
    await page.waitForSelector('[data-testid=inspect-result]', { timeout: 120_000 })
    const name = await page.getAttribute('[data-testid=inspect-result]', 'data-name')
    expect(existsSync(join(workspace, 'runs', runs[0]!, 'inspect', `${name}.json`))).toBe(true)
    await page.waitForSelector('[data-testid=recall-distance-chart] canvas')
    await page.screenshot({ path: join(artifactsDir(), 'electron-inspect.png') })
  })

  it('reopens the window at the size it was closed with', async () => {
    const size = { width: 1111, height: 777 }
    await app.evaluate(({ BrowserWindow }, s) => BrowserWindow.getAllWindows()[0]!.setSize(s.width, s.height), size)
    await app.close()
    const saved = JSON.parse(readFileSync(join(configDir, 'window-state.json'), 'utf8'))
    expect({ width: saved.bounds.width, height: saved.bounds.height }).toEqual(size)
    await launch()
    const bounds = await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]!.getBounds())
    expect({ width: bounds.width, height: bounds.height }).toEqual(size)
  })
})
