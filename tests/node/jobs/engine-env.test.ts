// The environment an engine process starts with: built from the parent's own
// string-valued variables only, so a polluted Object.prototype (a bug
// anywhere in the main process) cannot become an environment variable, and
// NODE_OPTIONS reaches the engine only when the launcher is given it
// explicitly. The probe: NODE_OPTIONS="--require <file that writes a marker>".
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { EngineProcess, forkLauncher } from '../../../electron/jobs/engine-process'

const started: EngineProcess[] = []
afterEach(() => {
  for (const e of started.splice(0)) e.stop()
})

/** A preload that writes `marker` when a process loads it. */
function probe(): { option: string; marker: string } {
  const dir = mkdtempSync(join(tmpdir(), 'linea-env-'))
  const marker = join(dir, 'loaded')
  const preload = join(dir, 'preload.cjs')
  writeFileSync(preload, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, String(process.pid))\n`)
  return { option: `--require ${preload}`, marker }
}

async function startEngine(launcher = forkLauncher()): Promise<void> {
  const e = new EngineProcess(launcher)
  started.push(e)
  await e.start()
  expect((await e.call('info', {})).devices.map((d) => d.id)).toContain('cpu')
}

describe('engine process environment', () => {
  it('never takes a variable from a polluted Object.prototype', async () => {
    const { option, marker } = probe()
    const proto = Object.prototype as Record<string, unknown>
    proto.NODE_OPTIONS = option
    try {
      await startEngine()
    } finally {
      delete proto.NODE_OPTIONS
    }
    expect(existsSync(marker)).toBe(false)
  })

  it('drops an inherited NODE_OPTIONS', async () => {
    const { option, marker } = probe()
    const saved = process.env.NODE_OPTIONS
    process.env.NODE_OPTIONS = option
    try {
      await startEngine()
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS
      else process.env.NODE_OPTIONS = saved
    }
    expect(existsSync(marker)).toBe(false)
  })

  it('passes NODE_OPTIONS given explicitly to the launcher', async () => {
    const { option, marker } = probe()
    await startEngine(forkLauncher({ env: { NODE_OPTIONS: option } }))
    expect(existsSync(marker)).toBe(true)
  })
})
