// The WebGPU binding in a real package: electron-builder --dir with
// electron-builder.yml (a stand-in Electron folder where no Electron binary
// can be downloaded, as electron-app.test.ts does) leaves this platform's
// dawn.node, and only it, outside the asar where Electron's require finds it
// (app.asar.unpacked), with the package's JavaScript inside the asar.
import { listPackage } from '@electron/asar'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { projectRoot } from '../../electron/platform/project-root'

const root = projectRoot()
const electronVersion = (): string => JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version
/** The folder of this platform's prebuilt binary in npm `webgpu` (its index.js picks it the same way). */
const ownPrebuilt = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`

/** Enough of an Electron folder for electron-builder to lay the app out (it never runs). */
function standInElectronDist(): string {
  const dir = mkdtempSync(join(tmpdir(), 'linea-stand-in-electron-'))
  mkdirSync(join(dir, 'resources'))
  writeFileSync(join(dir, 'electron'), '#!/bin/sh\nexit 1\n')
  chmodSync(join(dir, 'electron'), 0o755)
  writeFileSync(join(dir, 'version'), `v${electronVersion()}`)
  writeFileSync(join(dir, 'LICENSE'), 'MIT (stand-in)\n')
  writeFileSync(join(dir, 'LICENSES.chromium.html'), '<p>stand-in</p>\n')
  return dir
}

let resources = ''

beforeAll(() => {
  if (!existsSync(join(root, 'out', 'main', 'index.js'))) throw new Error('the app is not built (no out/main/index.js); run: npm run build')
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH
  const dist =
    override ??
    (existsSync(join(root, 'node_modules', 'electron', 'dist', 'electron')) ? join(root, 'node_modules', 'electron', 'dist') : standInElectronDist())
  const out = mkdtempSync(join(tmpdir(), 'linea-dist-webgpu-'))
  const r = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'electron-builder', 'cli.js'), '--dir', `-c.electronDist=${dist}`, `-c.directories.output=${out}`],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 300_000,
    },
  )
  if (r.status !== 0) throw new Error(`electron-builder --dir failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`)
  const unpacked = readdirSync(out).find((d) => /-unpacked$/.test(d) || /^mac/.test(d))
  if (!unpacked) throw new Error(`electron-builder wrote no unpacked app into ${out}`)
  resources = process.platform === 'darwin' ? join(out, unpacked, 'Linea.app', 'Contents', 'Resources') : join(out, unpacked, 'resources')
}, 300_000)

describe.skipIf(process.platform !== 'linux' && process.platform !== 'win32' && process.platform !== 'darwin')('packaging: the WebGPU binding', () => {
  it("unpacks this platform's dawn.node, byte for byte, and ships no other platform's", () => {
    const dist = join(resources, 'app.asar.unpacked', 'node_modules', 'webgpu', 'dist')
    expect(readdirSync(dist)).toEqual([ownPrebuilt])
    const shipped = join(dist, ownPrebuilt, 'dawn.node')
    expect(readFileSync(shipped).equals(readFileSync(join(root, 'node_modules', 'webgpu', 'dist', ownPrebuilt, 'dawn.node')))).toBe(true)
  })

  it('keeps the package itself in the asar, and no binary of webgpu there', () => {
    const files = listPackage(join(resources, 'app.asar'), { isPack: false })
      .map((f) => f.replace(/\\/g, '/'))
      .filter((f) => f.startsWith('/node_modules/webgpu/'))
    expect(files).toContain('/node_modules/webgpu/index.js')
    expect(files).toContain('/node_modules/webgpu/package.json')
    // listed in the asar's index, but stored outside it: only this platform's
    const binaries = files.filter((f) => f.endsWith('.node'))
    expect(binaries).toEqual([`/node_modules/webgpu/dist/${ownPrebuilt}/dawn.node`])
  })
})
