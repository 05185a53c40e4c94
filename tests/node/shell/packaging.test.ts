// Packaging checks that need no Electron: the beforePack hook's refusals,
// and that what electron-builder.yml leaves out of the package is never
// loaded by the processes the package runs (main, engine).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectRoot } from '../../../electron/platform/project-root'

const root = projectRoot()
const { packagingProblems } = createRequire(import.meta.url)(join(root, 'build', 'before-pack.cjs')) as {
  packagingProblems: (p: {
    root: string
    platform: string
    arch: string
    targets: string[]
    hostPlatform: string
    hostArch: string
    allowNativeArch: boolean
  }) => string[]
}

/** A checkout with what the hook looks at: the bundle, the addon, CMake's cache. */
function checkout(options: { bundled?: boolean; addon?: boolean; nativeArch?: 'ON' | 'OFF' }): string {
  const dir = mkdtempSync(join(tmpdir(), 'linea-checkout-'))
  if (options.bundled ?? true) {
    mkdirSync(join(dir, 'out', 'main'), { recursive: true })
    writeFileSync(join(dir, 'out', 'main', 'index.js'), '')
  }
  if (options.addon ?? true) {
    mkdirSync(join(dir, 'native', 'build', 'Release'), { recursive: true })
    writeFileSync(join(dir, 'native', 'build', 'Release', 'linea.node'), '')
  }
  if (options.nativeArch)
    writeFileSync(join(dir, 'native', 'build', 'CMakeCache.txt'), `CMAKE_BUILD_TYPE:STRING=Release\nLINEA_NATIVE_ARCH:BOOL=${options.nativeArch}\n`)
  return dir
}

const HOST = { platform: 'linux', arch: 'x64', targets: ['AppImage', 'deb'], hostPlatform: 'linux', hostArch: 'x64', allowNativeArch: false }

describe('beforePack hook', () => {
  it('lets a portable build through', () => {
    expect(packagingProblems({ ...HOST, root: checkout({ nativeArch: 'OFF' }) })).toEqual([])
  })

  it('refuses a checkout without the addon or the bundle, saying what to run', () => {
    const dir = checkout({ bundled: false, addon: false })
    expect(packagingProblems({ ...HOST, root: dir })).toEqual([
      `the app is not bundled (no ${join(dir, 'out', 'main', 'index.js')}); run: npm run build`,
      `no native engine at ${join(dir, 'native', 'build', 'Release', 'linea.node')}; build it first: LINEA_CMAKE_ARGS="-DLINEA_NATIVE_ARCH=OFF" npm run build:native`,
    ])
  })

  it('refuses to package an addon for another OS or CPU', () => {
    const dir = checkout({ nativeArch: 'OFF' })
    const problems = packagingProblems({ ...HOST, root: dir, platform: 'win32', arch: 'arm64' })
    expect(problems).toHaveLength(2)
    expect(problems[0]).toContain('is built for linux, but this package is for win32')
    expect(problems[1]).toContain('is built for x64, but this package is for arm64')
  })

  it('refuses an addon tuned for this CPU, unless the package stays here', () => {
    const dir = checkout({ nativeArch: 'ON' })
    const [problem] = packagingProblems({ ...HOST, root: dir })
    expect(problem).toContain('was built with LINEA_NATIVE_ARCH=ON (-march=native)')
    expect(problem).toContain('LINEA_CMAKE_ARGS="-DLINEA_NATIVE_ARCH=OFF" npm run build:native')
    expect(packagingProblems({ ...HOST, root: dir, targets: [] })).toEqual([]) // --dir
    expect(packagingProblems({ ...HOST, root: dir, allowNativeArch: true })).toEqual([])
  })
})

/** Bare module specifiers loaded at run time by `entry` and everything it imports (relative imports followed; type-only imports skipped). */
function runtimePackages(entry: string): Map<string, string> {
  const found = new Map<string, string>() // package → first importing file
  const seen = new Set<string>()
  const queue = [entry]
  const IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm
  while (queue.length) {
    const file = queue.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!
      if (spec.startsWith('.')) {
        const base = resolve(dirname(file), spec)
        const target = [base, `${base}.ts`, join(base, 'index.ts')].find((p) => existsSync(p) && p.endsWith('.ts'))
        if (target) queue.push(target)
      } else if (!spec.startsWith('node:') && spec !== 'electron') {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!
        if (!found.has(pkg)) found.set(pkg, relative(root, file))
      }
    }
  }
  return found
}

describe('what the package leaves out', () => {
  const config = readFileSync(join(root, 'electron-builder.yml'), 'utf8')
  const excluded = /["']!node_modules\/\{([^}]+)\}\{,\/\*\*\}["']/.exec(config)?.[1]?.split(',') ?? []

  it('is listed in electron-builder.yml', () => {
    expect(excluded).toContain('vue')
    expect(excluded).toContain('playwright-core')
  })

  it('is not loaded by the main process or the engine process', () => {
    const loaded = new Map([...runtimePackages(join(root, 'electron', 'shell', 'main.ts')), ...runtimePackages(join(root, 'electron', 'engine', 'process.ts'))])
    expect(loaded.has('zod')).toBe(true) // the walk reaches the services
    expect(loaded.has('echarts')).toBe(true) // and the report's charts
    const offenders = excluded.filter((pkg) => [...loaded.keys()].some((l) => l === pkg || l.startsWith(`${pkg}/`)))
    expect(offenders.map((pkg) => `${pkg} (imported by ${loaded.get(pkg)})`)).toEqual([])
  })

  it('ships the addon from where build:native puts it', () => {
    expect(config).toMatch(/from: native\/build\/Release\n\s+to: native\n\s+filter:\n\s+- linea.node/)
    expect(readFileSync(join(root, 'scripts', 'build-native.mjs'), 'utf8')).toContain("join(root, 'native', 'build', 'Release', 'linea.node')")
  })
})
