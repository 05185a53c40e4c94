// The WebGPU binding in the packages: electron-builder.yml unpacks Dawn's
// dawn.node (and the D3D12 compilers beside it on Windows) from the asar,
// each platform's build keeps only its own prebuilt binary of npm `webgpu`,
// and the deb depends on the Vulkan loader. The filters are evaluated as
// electron-builder evaluates node_modules filters (its js-yaml reading of the
// file, minimatch with dot, '**/*' then the exclusions, ${arch} expanded)
// against the files npm installed, so a pattern that matches nothing fails.
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectRoot } from '../../../electron/platform/project-root'

const root = projectRoot()
const require = createRequire(import.meta.url)
// electron-builder's own dependencies (it reads its config with js-yaml and filters files with minimatch).
const yaml = require('js-yaml') as { load(text: string): unknown }
const { Minimatch } = require('minimatch') as { Minimatch: new (pattern: string, options: { dot: boolean }) => MatchPattern }
interface MatchPattern {
  negate: boolean
  match(path: string, partial?: boolean): boolean
}

interface PlatformConfig {
  files?: string[]
}
const config = yaml.load(readFileSync(join(root, 'electron-builder.yml'), 'utf8')) as {
  files: string[]
  asarUnpack?: string[]
  linux: PlatformConfig
  mac: PlatformConfig
  win: PlatformConfig
  deb: { depends: string[] }
}

const dist = join(root, 'node_modules', 'webgpu', 'dist')
/** The prebuilt folders npm installed (darwin-universal, linux-x64, ..., win32-arm64) and their files, relative to the app. */
const prebuilt = readdirSync(dist)
const files = prebuilt.flatMap((dir) => readdirSync(join(dist, dir)).map((f) => `node_modules/webgpu/dist/${dir}/${f}`))

/** Whether electron-builder copies a node_modules path: '**\/*' then the exclusions of `files`, last decision wins (its minimatchAll). */
function copied(patterns: readonly string[], arch: string, path: string, isDir: boolean): boolean {
  const parsed = ['**/*', ...patterns.filter((p) => p.startsWith('!')).map((p) => p.replace(/\$\{arch\}/g, arch))].map((p) => new Minimatch(p, { dot: true }))
  let match = false
  for (const p of parsed) {
    if (match !== p.negate) continue
    match = p.match(path, isDir && !p.negate)
  }
  return match
}

/** The prebuilt folders a platform's build keeps. */
function kept(platform: 'linux' | 'mac' | 'win', arch: string): string[] {
  const patterns = [...config.files, ...(config[platform].files ?? [])]
  return prebuilt.filter(
    (dir) =>
      copied(patterns, arch, `node_modules/webgpu/dist/${dir}`, true) &&
      files.filter((f) => f.startsWith(`node_modules/webgpu/dist/${dir}/`)).every((f) => copied(patterns, arch, f, false)),
  )
}

describe('packaging: the WebGPU binding', () => {
  it('finds the prebuilt binaries npm installed', () => {
    expect(prebuilt).toEqual(expect.arrayContaining(['darwin-universal', 'linux-x64', 'linux-arm64', 'win32-x64']))
    expect(files).toContain('node_modules/webgpu/dist/linux-x64/dawn.node')
  })

  it('unpacks every dawn.node and the DLLs beside it from the asar', () => {
    const unpack = (config.asarUnpack ?? []).map((p) => new Minimatch(p, { dot: true }))
    const packed = files.filter((f) => !unpack.some((p) => p.match(f)))
    expect(packed).toEqual([])
    expect(unpack.some((p) => p.match('node_modules/webgpu/index.js'))).toBe(false) // only the binaries
  })

  it("keeps only each platform's own binary", () => {
    expect(kept('linux', 'x64')).toEqual(['linux-x64'])
    expect(kept('linux', 'arm64')).toEqual(['linux-arm64'])
    expect(kept('mac', 'universal')).toEqual(['darwin-universal'])
    expect(kept('mac', 'arm64')).toEqual(['darwin-universal'])
    expect(kept('win', 'x64')).toEqual(['win32-x64'])
    expect(kept('win', 'arm64')).toEqual(['win32-arm64'])
    // the package itself stays
    expect(copied([...config.files, ...(config.linux.files ?? [])], 'x64', 'node_modules/webgpu/index.js', false)).toBe(true)
  })

  it('makes the deb depend on the Vulkan loader', () => {
    expect(config.deb.depends).toContain('libvulkan1')
  })
})
