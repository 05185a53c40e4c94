// Which workspace the app opens at launch.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isWorkspaceFolder, startupWorkspace, workspaceArg } from '../../../electron/shell/launch'

// What Electron's argv looks like under Playwright: binary, app folder, Chromium switches.
const ELECTRON_ARGV = ['/opt/electron/electron', '/work/linea', '--inspect=0', '--remote-debugging-port=0']

describe('launch workspace', () => {
  it('reads --workspace in both spellings among Chromium switches', () => {
    expect(workspaceArg([...ELECTRON_ARGV, '--workspace', '/tmp/ws'])).toBe('/tmp/ws')
    expect(workspaceArg([...ELECTRON_ARGV, '--workspace=/tmp/ws2'])).toBe('/tmp/ws2')
    expect(workspaceArg(ELECTRON_ARGV)).toBeUndefined()
  })

  it('says what is missing when --workspace has no folder', () => {
    expect(() => workspaceArg(['app', '--workspace'])).toThrow('--workspace needs a folder after it, got nothing')
    expect(() => workspaceArg(['app', '--workspace', '--no-sandbox'])).toThrow("--workspace needs a folder after it, got '--no-sandbox'")
    expect(() => workspaceArg(['app', '--workspace='])).toThrow('--workspace= needs a folder')
  })

  it('prefers --workspace, then LINEA_WORKSPACE, then the latest recent workspace that exists, then the default', () => {
    const gone = join(tmpdir(), 'linea-no-such-workspace')
    const kept = mkdtempSync(join(tmpdir(), 'linea-recent-'))
    writeFileSync(join(kept, 'workspace.json'), '{}')
    const notWorkspace = mkdtempSync(join(tmpdir(), 'linea-plain-'))
    mkdirSync(join(notWorkspace, 'sub'))
    const base = { argv: ELECTRON_ARGV, env: {}, recent: [gone, notWorkspace, kept], fallback: '/home/u/Linea/workspace' }
    expect(startupWorkspace({ ...base, argv: [...ELECTRON_ARGV, '--workspace', 'rel/ws'], env: { LINEA_WORKSPACE: '/env/ws' } })).toEqual({
      path: resolve('rel/ws'),
      why: '--workspace',
    })
    expect(startupWorkspace({ ...base, env: { LINEA_WORKSPACE: '/env/ws' } })).toEqual({ path: '/env/ws', why: 'LINEA_WORKSPACE' })
    expect(startupWorkspace(base)).toEqual({ path: kept, why: 'the most recent workspace' })
    expect(startupWorkspace({ ...base, recent: [gone] })).toEqual({ path: '/home/u/Linea/workspace', why: 'the default workspace' })
    expect(isWorkspaceFolder(notWorkspace)).toBe(false)
  })
})
