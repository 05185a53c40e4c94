// What the app shows when the engine cannot start, from the errors a real
// engine process sends: no addon at the given path, a file that is not an
// addon. And the About text from a real engine's answer.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { aboutText } from '../../../electron/shell/about'
import { describeEngineExit } from '../../../electron/shell/engine-exit'
import { engineFailureOf, engineFailurePage } from '../../../electron/shell/engine-failure'

const engines: EngineService[] = []
afterEach(() => {
  for (const e of engines.splice(0)) e.stop()
})

/** The error of a first `info` call to an engine process started with this addon path. */
async function startWith(addon: string): Promise<unknown> {
  const engine = new EngineService(forkLauncher({ env: { LINEA_ADDON: addon } }), new LabEventBus())
  engines.push(engine)
  return engine.call('info', {}).then(
    () => undefined,
    (err: unknown) => err,
  )
}

const DEV = { packaged: false, platform: 'linux' as const, candidates: ['/unused'] }

describe('engine start failures', () => {
  it('names the missing file and the rebuild command', async () => {
    const missing = join(tmpdir(), 'linea-no-addon', 'linea.node')
    const failure = engineFailureOf(await startWith(missing), DEV)
    expect(failure).toEqual({
      title: "Linea's native engine could not be loaded",
      files: [missing],
      error: 'no linea.node at this path',
      fix: [
        'Rebuild the native engine: npm run build:native (needs CMake ≥ 3.20, a C++17 compiler, OpenBLAS on Linux), then start the app again.',
        'Or point LINEA_ADDON at a linea.node built elsewhere.',
      ],
    })
  })

  it("quotes the loader's error for a file that is not an addon", async () => {
    const broken = join(mkdtempSync(join(tmpdir(), 'linea-broken-addon-')), 'linea.node')
    writeFileSync(broken, 'not a shared library')
    const failure = engineFailureOf(await startWith(broken), { ...DEV, packaged: true })!
    expect(failure.files).toEqual([broken])
    expect(failure.error).toMatch(/invalid ELF header|file too short|not a valid Win32 application|not a mach-o file/i)
    expect(failure.fix[0]).toBe('This installation lacks a working resources/native/linea.node: reinstall Linea.')
    const page = engineFailurePage(failure)
    expect(page).toContain(broken)
    expect(page).not.toMatch(/<script|https?:/)
  })

  it('suggests installing OpenBLAS when the loader misses it', () => {
    const err = Object.assign(
      new Error(
        "Linea's native engine (linea.node) could not be loaded.\nLooked in:\n  /opt/Linea/resources/native/linea.node\nThe loader said: libopenblas.so.0: cannot open shared object file: No such file or directory\nBuild it with: npm run build:native",
      ),
      {
        name: 'EngineCallError',
        engineName: 'AddonMissingError',
      },
    )
    const failure = engineFailureOf(err, { ...DEV, packaged: true })!
    expect(failure.files).toEqual(['/opt/Linea/resources/native/linea.node'])
    expect(failure.error).toBe('libopenblas.so.0: cannot open shared object file: No such file or directory')
    expect(failure.fix[0]).toContain('sudo apt install libopenblas0')
  })

  it('explains a process that died while starting, and ignores other errors', () => {
    const died = Object.assign(new Error(describeEngineExit(139, 'Segmentation fault\n')), { name: 'EngineExitedError' })
    expect(engineFailureOf(died, DEV)).toMatchObject({
      title: 'The engine process ended while starting',
      error: 'engine process exited with code 139; its last output:\nSegmentation fault',
    })
    expect(engineFailureOf(new Error('something else'), DEV)).toBeUndefined()
  })

  it('escapes what it quotes', () => {
    const page = engineFailurePage({ title: 't', files: ['/a/<b>.node'], error: '"x" & y', fix: [] })
    expect(page).toContain('/a/&lt;b&gt;.node')
    expect(page).toContain('&quot;x&quot; &amp; y')
  })
})

describe('About', () => {
  it("lists the real engine's backends and devices", async () => {
    const engine = new EngineService(forkLauncher(), new LabEventBus())
    engines.push(engine)
    const info = await engine.call('info', {})
    const { message, detail } = aboutText(
      info,
      { app: '0.1.0', electron: '41.7.1', chrome: '146', node: '24' },
      { defaultBackend: 'cuda', device: 1, defaultPrecision: 'auto' },
    )
    expect(message).toBe('Linea 0.1.0')
    expect(detail).toContain(`Engine ${info.version}`)
    expect(detail).toContain(`Backends built: ${info.backendsCompiled.join(', ')}`)
    expect(detail).toContain('  cpu: ')
    expect(detail).toContain('Preferences: default backend cuda, device 1')
  })

  it('says why when the engine did not answer', () => {
    const { detail } = aboutText(
      new Error('engine process exited with code 1'),
      { app: '0.1.0', electron: '41', chrome: '146', node: '24' },
      { defaultBackend: 'auto', device: 0, defaultPrecision: 'auto' },
    )
    expect(detail).toContain('The engine did not answer: engine process exited with code 1')
  })
})
