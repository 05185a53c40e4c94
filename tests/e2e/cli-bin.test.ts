// The `linea` command as package.json declares it ("bin": bin/linea.js), run
// the way `npx linea` runs it: the built CLI answers through it, with the
// engine's real info.
import { spawnSync } from 'node:child_process'
import { accessSync, constants, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectRoot } from '../../electron/platform/project-root'

const root = projectRoot()
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }

describe('the linea command of package.json', () => {
  it('exists and is executable', () => {
    expect(Object.keys(pkg.bin)).toEqual(['linea'])
    const bin = join(root, pkg.bin.linea!)
    accessSync(bin, constants.X_OK)
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true)
  })

  it('runs the CLI: info --json describes the engine, an unknown command exits 2 with the usage', () => {
    const bin = join(root, pkg.bin.linea!)
    const info = spawnSync(bin, ['info', '--json'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    expect(info.status, info.stderr).toBe(0)
    const parsed = JSON.parse(info.stdout) as { version: string; ops: unknown[] }
    expect(parsed.version).toMatch(/^\d+\.\d+\.\d+$/)
    expect(parsed.ops.length).toBeGreaterThan(20)
    const bad = spawnSync(bin, ['bogus'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain("unknown command 'bogus'")
  })
})
