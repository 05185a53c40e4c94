// The job runner with real engine processes: a queue runs run after run,
// metrics and records are written as it trains, a killed engine fails its
// run with the reason and keeps its metrics, and the next run goes on.
import { describe, expect, it } from 'vitest'
import type { RunRecord } from '../../../electron/api/runs'
import { cancelAtFirstCheckpoint, openRunner, tinyRun } from '../../fixtures/runner'

/** A runner, and `name:status` of each run.status event. */
function setup() {
  const harness = openRunner('linea-runner-')
  const seen: string[] = []
  harness.events.subscribe((name, data) => {
    if (name === 'run.status') seen.push(`${(data as { run: RunRecord }).run.name}:${(data as { run: RunRecord }).run.status}`)
  })
  return { ...harness, seen }
}

describe('job runner', () => {
  it('runs a queue run after run, writing records and metrics', async () => {
    const { ws, runner, seen } = setup()
    const a = ws.createRun(tinyRun('a', 4))
    const b = ws.createRun(tinyRun('b', 3))
    runner.enqueue(a.id)
    runner.enqueue(b.id)
    await runner.idle()
    for (const [run, steps] of [
      [a, 4],
      [b, 3],
    ] as const) {
      const r = ws.readRun(run.id)
      expect(r.status).toBe('completed')
      expect(r.steps).toBe(steps)
      expect(r.backend).toBe('cpu (asked for); precision f32')
      expect(r.checkpoint).toMatch(/^checkpoints\/step-\d+\.safetensors$/)
      const m = ws.readMetrics(run.id)
      expect(m.skipped).toEqual([])
      expect(m.lines.filter((l) => l.type === 'train')).toHaveLength(steps)
      expect(m.lines.some((l) => l.type === 'eval')).toBe(true)
    }
    expect(seen.indexOf('a:completed')).toBeLessThan(seen.indexOf('b:running'))
  })

  it('marks a run failed when its engine process is killed, keeps its metrics, and goes on', async () => {
    const { ws, runner, events } = setup()
    const doomed = ws.createRun(tinyRun('doomed', 100000))
    const next = ws.createRun(tinyRun('next', 2))
    let killed = false
    events.subscribe((name, data) => {
      // after a few steps, kill the engine process as a native crash would
      if (!killed && name === 'run.metrics' && (data as { line: { type: string; step?: number } }).line.step === 3) {
        killed = true
        process.kill(runner.runningPid!, 'SIGKILL')
      }
    })
    runner.enqueue(doomed.id)
    runner.enqueue(next.id)
    await runner.idle()
    const failed = ws.readRun(doomed.id)
    expect(failed.status).toBe('failed')
    expect(failed.failure).toContain('the engine process ended: engine process was killed by SIGKILL')
    const m = ws.readMetrics(doomed.id)
    expect(m.skipped).toEqual([])
    expect(m.lines.filter((l) => l.type === 'train').length).toBeGreaterThanOrEqual(3)
    expect(m.lines.at(-1)).toMatchObject({ type: 'status', status: 'failed' })
    expect(ws.readRun(next.id).status).toBe('completed')
  })

  it('cancels a running run with a checkpoint, and resumes it to the end', async () => {
    const { ws, runner, events } = setup()
    const run = ws.createRun(tinyRun('long', 12))
    await cancelAtFirstCheckpoint({ runner, events }, run.id)
    const cancelled = ws.readRun(run.id)
    expect(cancelled.status).toBe('cancelled')
    expect(cancelled.steps).toBeLessThan(12)
    runner.resume(run.id)
    await runner.idle()
    const done = ws.readRun(run.id)
    expect(done.status).toBe('completed')
    expect(done.steps).toBe(12)
    const steps = ws.readMetrics(run.id).lines.flatMap((l) => (l.type === 'train' ? [l.step] : []))
    expect(steps.at(-1)).toBe(12)
  })

  it('marks runs left running by a stopped app as failed, resumable', () => {
    const { ws, runner } = setup()
    const run = ws.createRun(tinyRun('orphan', 5))
    ws.updateRun(run.id, { status: 'running' })
    expect(runner.recoverInterrupted().map((r) => r.id)).toEqual([run.id])
    expect(ws.readRun(run.id).status).toBe('failed')
    expect(ws.readRun(run.id).failure).toContain('the app stopped while the run was running')
  })
})
