// The layering of docs/architecture.md, checked on every import:
//   renderer → electron/api, electron/views only (never services, engine, shell, server, jobs, workspace)
//   electron/* (main process, engine, CLI) → never renderer/
//   electron/api, electron/views → only each other (the renderer bundles them: no Node-only code)
// Relative imports are resolved against the importing file; type-only
// imports count too, since a type import is still a dependency on a layer.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectRoot } from '../../electron/platform/project-root'

const root = projectRoot()

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.(ts|vue)$/.test(e.name) ? [join(dir, e.name)] : [],
  )
}

const SPECIFIER = /(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g

/** Each relative import of a file, as a path from the project root ("electron/api/model-spec"). */
export function importsOf(file: string, text = readFileSync(file, 'utf8')): string[] {
  return [...text.matchAll(SPECIFIER)].map((m) =>
    relative(root, resolve(dirname(file), m[1]!))
      .split('\\')
      .join('/'),
  )
}

/** Why `from` may not import `to`, or undefined when the layering allows it. */
export function violation(from: string, to: string): string | undefined {
  const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`)
  if (under(from, 'renderer') && under(to, 'electron') && !under(to, 'electron/api') && !under(to, 'electron/views'))
    return 'the renderer talks only to the LabApi (electron/api) and the shared view builders (electron/views)'
  if (under(from, 'electron') && under(to, 'renderer')) return 'main-process and engine code never import the renderer; shared builders live in electron/views'
  if ((under(from, 'electron/api') || under(from, 'electron/views')) && under(to, 'electron') && !under(to, 'electron/api') && !under(to, 'electron/views'))
    return 'electron/api and electron/views are bundled into the renderer: they import only each other'
  return undefined
}

describe('module boundaries', () => {
  const files = [...sources(join(root, 'electron')), ...sources(join(root, 'renderer', 'src'))]

  it('hold for every import of electron/ and renderer/src', () => {
    const offenders: string[] = []
    for (const file of files) {
      const from = relative(root, file).split('\\').join('/')
      for (const to of importsOf(file)) {
        const why = violation(from, to)
        if (why) offenders.push(`${from} imports ${to}: ${why}`)
      }
    }
    expect(offenders).toEqual([])
  })

  it('the check sees imports and can fail', () => {
    const report = join(root, 'electron', 'reports', 'report-html.ts')
    expect(importsOf(report)).toContain('electron/views/profile-charts')
    expect(violation('electron/reports/report-html.ts', 'renderer/src/charts/profile-charts')).toMatch(/never import the renderer/)
    expect(violation('renderer/src/stores/runs.ts', 'electron/services/dispatch')).toMatch(/talks only to the LabApi/)
    expect(violation('electron/api/labapi.ts', 'electron/engine/estimate')).toMatch(/import only each other/)
    expect(violation('renderer/src/stores/runs.ts', 'electron/api/runs')).toBeUndefined()
    expect(importsOf(join(root, 'x.ts'), "import type { A } from './electron/api/a'\nconst b = await import('../renderer/b')")).toEqual([
      'electron/api/a',
      '../renderer/b',
    ])
  })
})
