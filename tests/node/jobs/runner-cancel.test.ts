// Cancel when the engine cannot listen: a cancel is a message the engine
// reads between steps, so an engine stuck inside a step (here: a real engine
// process blocked reading a real FIFO) never sees it. The runner kills the
// process after a grace period, or at once with force, and the run ends
// cancelled saying so; the queue goes on.
import { execFileSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunRecord } from '../../../electron/api/runs'
import { forkLauncher, type EngineLauncher } from '../../../electron/jobs/engine-process'
import { dispatchLabApi } from '../../../electron/services/dispatch'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { labDepsFor } from '../../fixtures/lab'
import { openRunner, processGone, tinyRun } from '../../fixtures/runner'
import { tempDir } from '../../fixtures/temp'
import { until } from '../../fixtures/until'

const cleanup: (() => void)[] = []
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn()
})

/**
 * A launcher whose engines, asked to train a run named "...blocked...",
 * block reading a FIFO nobody writes, before the engine sees the call (a
 * preload prepends the listener). `blocked` exists once one is stuck.
 */
function blockingLauncher(): { launcher: EngineLauncher; blocked: string } {
  const dir = tempDir('linea-block-')
  const fifo = join(dir, 'never-written.fifo')
  execFileSync('mkfifo', [fifo])
  const blocked = join(dir, 'blocked')
  const preload = join(dir, 'block-on-fifo.cjs')
  writeFileSync(
    preload,
    `const fs = require('node:fs')
process.prependListener('message', (m) => {
  if (m && m.type === 'call' && m.method === 'train' && String(m.params.outDir).includes('blocked')) {
    fs.writeFileSync(${JSON.stringify(blocked)}, String(process.pid))
    fs.readFileSync(${JSON.stringify(fifo)}) // blocks: no writer, ever
  }
})
`,
  )
  return { launcher: forkLauncher({ env: { NODE_OPTIONS: `--require ${preload}` } }), blocked }
}

describe('cancelling a run whose engine is stuck', () => {
  it('kills the engine process after the grace period; the run ends cancelled and the queue goes on', async () => {
    const { launcher, blocked } = blockingLauncher()
    const { ws, runner } = openRunner('linea-cancel-', launcher, { cancelGraceMs: 300 })
    const stuck = ws.createRun(tinyRun('blocked', 1000))
    const next = ws.createRun(tinyRun('next', 2))
    runner.enqueue(stuck.id)
    runner.enqueue(next.id)
    await until('the engine to block on the FIFO', () => existsSync(blocked), 20_000)
    const pid = runner.runningPid!
    runner.cancel(stuck.id)
    await until('the stuck run to end', () => ws.readRun(stuck.id).status === 'cancelled', 20_000)
    expect(processGone(pid)).toBe(true)
    const run = ws.readRun(stuck.id)
    expect(run.failure).toBe('the engine did not stop within 0.3 s of the cancel, so its process was killed; the run has no checkpoint: start it again')
    expect(ws.readMetrics(stuck.id).lines.at(-1)).toMatchObject({ type: 'status', status: 'cancelled', failure: run.failure })
    await runner.idle()
    expect(ws.readRun(next.id).status).toBe('completed')
  })

  it('cancelRun with force kills the engine at once (through the LabApi)', async () => {
    const events = new LabEventBus()
    const { launcher, blocked } = blockingLauncher()
    const engine = new EngineService(forkLauncher(), events)
    const workspaces = new WorkspaceService(tempDir('linea-cancel-'), launcher, events)
    cleanup.push(() => {
      engine.stop()
      workspaces.close()
    })
    const handlers = createLabHandlers(labDepsFor(engine, workspaces, events))
    const run = (await dispatchLabApi(handlers, 'startRun', tinyRun('blocked', 1000))) as RunRecord
    await until('the engine to block on the FIFO', () => existsSync(blocked), 20_000)
    const pid = workspaces.runner.runningPid!
    const t0 = Date.now()
    await dispatchLabApi(handlers, 'cancelRun', { id: run.id, force: true })
    await until('the run to end', () => workspaces.workspace.readRun(run.id).status === 'cancelled', 5_000)
    // at once: well inside the default grace of 10 s
    expect(Date.now() - t0).toBeLessThan(5_000)
    expect(processGone(pid)).toBe(true)
    expect(workspaces.workspace.readRun(run.id).failure).toBe(
      'cancelled with force: its engine process was killed at once; the run has no checkpoint: start it again',
    )
  })
})
