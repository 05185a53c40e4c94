// Only electron/shell may import 'electron': services, engine, server and
// renderer stay testable and runnable without it (headless mode, CLI).
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectRoot } from '../../../electron/platform/project-root'

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.(ts|vue)$/.test(e.name) ? [join(dir, e.name)] : [],
  )
}

const IMPORTS_ELECTRON = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"]electron(?:\/[^'"]*)?['"]/
/** An import that loads Electron when the module runs (type-only imports are erased). */
const LOADS_ELECTRON = /^(?!import type )(?:import|export)\b[^;]*?from\s+['"]electron['"]|(?:import|require)\s*\(\s*['"]electron['"]/m

describe("'electron' imports", () => {
  const root = projectRoot()
  const files = [...sources(join(root, 'electron')), ...sources(join(root, 'renderer', 'src'))].map((f) => relative(root, f).split('\\').join('/'))

  it('appear only under electron/shell', () => {
    const offenders = files.filter((f) => !f.startsWith('electron/shell/') && IMPORTS_ELECTRON.test(readFileSync(join(root, f), 'utf8')))
    expect(offenders).toEqual([])
  })

  it('the check sees the shell files that do import it', () => {
    const shell = files.filter((f) => f.startsWith('electron/shell/') && IMPORTS_ELECTRON.test(readFileSync(join(root, f), 'utf8')))
    expect(shell).toContain('electron/shell/main.ts')
    expect(shell).toContain('electron/shell/preload.ts')
  })

  it('the pure shell modules the tests load do not load it', () => {
    const load = (f: string) => LOADS_ELECTRON.test(readFileSync(join(root, 'electron', 'shell', `${f}.ts`), 'utf8'))
    for (const f of ['bridge', 'ipc-handlers', 'app-urls', 'menu', 'window-state', 'launch', 'engine-failure', 'engine-exit', 'about'])
      expect(load(f), f).toBe(false)
    expect(load('preload')).toBe(true) // the check can fail
  })
})
