// Resume: the checkpoint named in run.json must be a file in the run folder
// (no link out), a finished run is not resumed, a resume that cannot start
// leaves the record as it was, and the metrics of a resumed run carry each
// step once, in order.
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isUserError } from '../../../electron/api/errors'
import type { MetricsLine, RunRecord } from '../../../electron/api/runs'
import type { JobRunner } from '../../../electron/jobs/runner'
import type { LabEventBus } from '../../../electron/services/events'
import type { Workspace } from '../../../electron/workspace/workspace'
import { cancelAtFirstCheckpoint, openRunner, tinyRun } from '../../fixtures/runner'
import { tempDir } from '../../fixtures/temp'
import { thrown } from '../../fixtures/thrown'

const setup = () => openRunner('linea-resume-')

/** Step numbers of each kind of line, in file order. */
function stepsByType(lines: MetricsLine[]): Record<'train' | 'eval' | 'checkpoint', number[]> {
  const out = { train: [] as number[], eval: [] as number[], checkpoint: [] as number[] }
  for (const l of lines) if (l.type !== 'status') out[l.type].push(l.step)
  return out
}

function expectStrictlyIncreasing(steps: number[]): void {
  for (let i = 1; i < steps.length; i++) expect(steps[i], `step ${steps[i]} after ${steps[i - 1]} in ${steps.join(',')}`).toBeGreaterThan(steps[i - 1]!)
}

/** Trains a run until it is cancelled with a checkpoint (at step >= 2). */
async function cancelledRun(ws: Workspace, runner: JobRunner, events: LabEventBus, steps = 12): Promise<RunRecord> {
  const run = ws.createRun(tinyRun('long', steps))
  await cancelAtFirstCheckpoint({ runner, events }, run.id)
  const cancelled = ws.readRun(run.id)
  expect(cancelled.status).toBe('cancelled')
  expect(cancelled.checkpoint).toBeDefined()
  return cancelled
}

describe('resume', () => {
  it('writes each step once after a killed run is resumed (steps past the checkpoint are dropped)', async () => {
    const { ws, runner, events } = setup()
    const run = ws.createRun(tinyRun('killed', 10))
    let killed = false
    events.subscribe((name, data) => {
      const line = (data as { line: MetricsLine }).line
      // step 3 is past the checkpoint at step 2: the resumed run trains it again
      if (!killed && name === 'run.metrics' && line.type === 'train' && line.step === 3) {
        killed = true
        process.kill(runner.runningPid!, 'SIGKILL')
      }
    })
    runner.enqueue(run.id)
    await runner.idle()
    const failed = ws.readRun(run.id)
    expect(failed.status).toBe('failed')
    runner.resume(run.id)
    await runner.idle()
    expect(ws.readRun(run.id).status).toBe('completed')
    const m = ws.readMetrics(run.id)
    expect(m.skipped).toEqual([])
    const steps = stepsByType(m.lines)
    expect(steps.train).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    for (const s of Object.values(steps)) expectStrictlyIncreasing(s)
  })

  it('writes each step once after cancel and resume, when the cancel lands on a checkpoint step', async () => {
    const { ws, runner, events } = setup()
    const run = ws.createRun(tinyRun('every step', 8, 1))
    await cancelAtFirstCheckpoint({ runner, events }, run.id)
    expect(ws.readRun(run.id).status).toBe('cancelled')
    runner.resume(run.id)
    await runner.idle()
    expect(ws.readRun(run.id).status).toBe('completed')
    const steps = stepsByType(ws.readMetrics(run.id).lines)
    expect(steps.train).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    for (const s of Object.values(steps)) expectStrictlyIncreasing(s)
  })

  it('refuses a completed run up front and leaves it as it was', async () => {
    const { ws, runner } = setup()
    const run = ws.createRun(tinyRun('done', 2))
    runner.enqueue(run.id)
    await runner.idle()
    const before = readFileSync(join(ws.runDir(run.id), 'run.json'), 'utf8')
    const metrics = readFileSync(join(ws.runDir(run.id), 'metrics.jsonl'), 'utf8')
    const err = thrown(() => runner.resume(run.id))
    expect(isUserError(err)).toBe(true)
    expect(err.message).toBe(`run ${run.id} completed all 2 steps; there is nothing to resume (start a new run to train longer)`)
    expect(runner.queuedIds()).toEqual([])
    await runner.idle()
    expect(readFileSync(join(ws.runDir(run.id), 'run.json'), 'utf8')).toBe(before)
    expect(readFileSync(join(ws.runDir(run.id), 'metrics.jsonl'), 'utf8')).toBe(metrics)
  })

  it('refuses a run whose checkpoint file is gone, and leaves it cancelled', async () => {
    const { ws, runner, events } = setup()
    const run = await cancelledRun(ws, runner, events)
    const file = join(ws.runDir(run.id), run.checkpoint!)
    rmSync(file)
    const before = readFileSync(join(ws.runDir(run.id), 'run.json'), 'utf8')
    const err = thrown(() => runner.resume(run.id))
    expect(isUserError(err)).toBe(true)
    expect(err.message).toBe(`run ${run.id} cannot resume: its checkpoint ${file} is gone; start the run again`)
    await runner.idle()
    expect(readFileSync(join(ws.runDir(run.id), 'run.json'), 'utf8')).toBe(before)
  })

  it('refuses a checkpoint that is a link leading out of the run folder, reading nothing', async () => {
    const { ws, runner, events } = setup()
    const run = await cancelledRun(ws, runner, events)
    const file = join(ws.runDir(run.id), run.checkpoint!)
    const elsewhere = join(tempDir('linea-elsewhere-'), 'elsewhere.safetensors')
    writeFileSync(elsewhere, readFileSync(file)) // a valid checkpoint, outside the workspace
    rmSync(file)
    symlinkSync(elsewhere, file)
    const before = readFileSync(join(ws.runDir(run.id), 'run.json'), 'utf8')
    const err = thrown(() => runner.resume(run.id))
    expect(isUserError(err)).toBe(true)
    expect(err.message).toContain('leads outside')
    expect(runner.queuedIds()).toEqual([])
    await runner.idle()
    expect(readFileSync(join(ws.runDir(run.id), 'run.json'), 'utf8')).toBe(before)
  })

  it('refuses a checkpoint path in run.json that leaves the run folder', async () => {
    const { ws, runner, events } = setup()
    const run = await cancelledRun(ws, runner, events)
    const elsewhere = join(ws.root, 'elsewhere.safetensors')
    writeFileSync(elsewhere, readFileSync(join(ws.runDir(run.id), run.checkpoint!)))
    for (const checkpoint of ['../../elsewhere.safetensors', elsewhere]) {
      const record = JSON.parse(readFileSync(join(ws.runDir(run.id), 'run.json'), 'utf8'))
      writeFileSync(join(ws.runDir(run.id), 'run.json'), JSON.stringify({ ...record, checkpoint }))
      const err = thrown(() => runner.resume(run.id))
      expect(isUserError(err)).toBe(true)
      expect(runner.queuedIds()).toEqual([])
    }
    await runner.idle()
    expect(existsSync(elsewhere)).toBe(true)
  })

  it('a resume that fails loading its checkpoint leaves the run cancelled, saying why', async () => {
    const { ws, runner, events } = setup()
    const run = await cancelledRun(ws, runner, events)
    writeFileSync(join(ws.runDir(run.id), run.checkpoint!), 'not a checkpoint')
    runner.resume(run.id)
    await runner.idle()
    const after = ws.readRun(run.id)
    expect(after.status).toBe('cancelled')
    expect(after.steps).toBe(run.steps)
    expect(after.endedMs).toBe(run.endedMs)
    expect(after.failure).toMatch(/^resume failed: CheckpointError: checkpoint .*step-\d+\.safetensors: /)
    expect(ws.readMetrics(run.id).lines.at(-1)).toMatchObject({ type: 'status', status: 'cancelled', failure: after.failure })
  })

  it('a queued run whose run.json turns invalid before it starts fails with the reason, and the queue goes on', async () => {
    const { ws, runner, events } = setup()
    const a = ws.createRun(tinyRun('a', 2))
    const b = ws.createRun(tinyRun('b', 2))
    const c = ws.createRun(tinyRun('c', 2))
    const stop = events.subscribe((name, data) => {
      if (name === 'run.metrics' && (data as { runId: string }).runId === a.id && (data as { line: MetricsLine }).line.type === 'train') {
        stop()
        const path = join(ws.runDir(b.id), 'run.json')
        const record = JSON.parse(readFileSync(path, 'utf8'))
        writeFileSync(path, JSON.stringify({ ...record, modelSpec: { ...record.modelSpec, d_model: -1 } }))
      }
    })
    for (const r of [a, b, c]) runner.enqueue(r.id)
    await runner.idle()
    const last = ws.readMetrics(b.id).lines.at(-1) as Extract<MetricsLine, { type: 'status' }>
    expect(last).toMatchObject({ type: 'status', status: 'failed' })
    expect(last.failure).toContain(join(ws.runDir(b.id), 'run.json'))
    expect(last.failure).toContain('d_model')
    expect(ws.readRun(c.id).status).toBe('completed')
  })
})
