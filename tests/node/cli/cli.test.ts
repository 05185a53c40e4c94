// The `linea` command, run as a person would run it (from source, via tsx).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectRoot } from '../../../electron/engine/project-root'

function linea(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot(), 'electron', 'cli', 'index.ts'), ...args], {
    cwd: projectRoot(),
    encoding: 'utf8',
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('linea CLI', () => {
  it('info prints the engine, its backends and devices', () => {
    const r = linea('info')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Linea engine \d+\.\d+\.\d+/)
    expect(r.stdout).toContain('backends compiled: cpu')
    expect(r.stdout).toMatch(/ {2}cpu +\S/)
    expect(r.stdout).toContain('mixer_fwd')
  })

  it('info --json prints machine-readable info', () => {
    const r = linea('info', '--json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).devices[0].id).toBe('cpu')
  })

  it('an unknown command or flag prints the usage and exits 2', () => {
    const unknown = linea('trian')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("linea: unknown command 'trian'")
    expect(unknown.stderr).toContain('usage: linea <command>')
    const flag = linea('info', '--verbose')
    expect(flag.code).toBe(2)
    expect(flag.stderr).toContain("Unknown option '--verbose'")
    const port = linea('serve', '--port', 'http')
    expect(port.code).toBe(2)
    expect(port.stderr).toContain('--port http is not a port number; valid: 0 (any free port) to 65535')
    expect(linea().code).toBe(2)
  })

  it('a missing addon build is explained with how to build it', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot(), 'electron', 'cli', 'index.ts'), 'info'], {
      cwd: projectRoot(),
      encoding: 'utf8',
      env: { ...process.env, LINEA_ADDON: '/nonexistent/linea.node' },
    })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("Linea's native engine (linea.node) could not be loaded")
    expect(r.stderr).toContain('npm run build:native')
  })
})
