// An engine whose parent dies (the server killed, a crash) must stop at once
// and write nothing more: not finish its step and save a checkpoint into a
// workspace another process may own by then. The parent here is a real Node
// process that started the engine through forkLauncher; it is killed with
// SIGKILL right after a checkpoint, and the engine must be gone before its
// next checkpoint, with no new file in its folder.
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterEach, describe, expect, it } from 'vitest'
import { projectRoot } from '../../../electron/platform/project-root'
import { until } from '../../fixtures/until'

const cleanup: (() => void)[] = []
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn()
})

/** No such process, or only its zombie (an orphan's new parent may not reap it at once). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return /\)\s+[ZX]\s/.test(stat)
  } catch {
    try {
      process.kill(pid, 0)
      return false
    } catch {
      return true
    }
  }
}

describe('an engine whose parent dies', () => {
  it('exits before its next checkpoint and writes nothing after the parent died', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'linea-orphan-'))
    const parent = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'engine-parent.ts'), outDir], {
      cwd: projectRoot(),
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let enginePid: number | undefined
    cleanup.push(() => {
      parent.kill('SIGKILL')
      if (enginePid && !gone(enginePid)) process.kill(enginePid, 'SIGKILL')
    })
    const checkpoints: string[] = []
    createInterface({ input: parent.stdout! }).on('line', (l) => {
      const m = JSON.parse(l) as { pid?: number; checkpoint?: string }
      if (m.pid) enginePid = m.pid
      if (m.checkpoint) checkpoints.push(m.checkpoint)
    })
    await until('the engine to save its first checkpoint', () => checkpoints.length > 0, 30_000)
    parent.kill('SIGKILL')
    const before = readdirSync(outDir).sort()
    await until(`the engine (pid ${enginePid}) to exit after its parent died`, () => gone(enginePid!), 10_000)
    const after = readdirSync(outDir).sort()
    expect(after).toEqual(before)
    expect(before.length).toBeGreaterThan(0)
  })
})
