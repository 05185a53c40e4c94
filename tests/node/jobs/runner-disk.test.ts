// The job runner when the run's files cannot be written (a full disk, a
// file replaced by a directory): the one run fails with the file and the
// errno, its engine process is stopped, the queue goes on, and nothing is
// thrown into the event loop (which would take the server down).
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { MetricsLine, RunRecord } from '../../../electron/api/runs'
import { openRunner, processGone, tinyRun } from '../../fixtures/runner'
import { until } from '../../fixtures/until'

/** A runner, and the records it published with each run.status event. */
function setup() {
  const harness = openRunner('linea-disk-')
  const published: RunRecord[] = []
  harness.events.subscribe((name, data) => {
    if (name === 'run.status') published.push((data as { run: RunRecord }).run)
  })
  return { ...harness, published }
}

/** Replaces a file by a directory of the same name: every write to it then fails with EISDIR. */
function blockFile(path: string): void {
  rmSync(path, { force: true })
  mkdirSync(path)
}

describe('job runner when the run folder cannot be written', () => {
  it('fails the run whose metrics.jsonl is a directory before it starts, and runs the next', async () => {
    const { ws, runner, published } = setup()
    const broken = ws.createRun(tinyRun('broken', 2))
    const next = ws.createRun(tinyRun('next', 2))
    const metrics = join(ws.runDir(broken.id), 'metrics.jsonl')
    blockFile(metrics)
    runner.enqueue(broken.id)
    runner.enqueue(next.id)
    await runner.idle()
    const failed = ws.readRun(broken.id)
    expect(failed.status).toBe('failed')
    expect(failed.failure).toContain(metrics)
    expect(failed.failure).toContain('EISDIR')
    expect(published.filter((r) => r.id === broken.id).at(-1)).toMatchObject({ status: 'failed' })
    expect(ws.readRun(next.id).status).toBe('completed')
    expect(runner.runningId).toBeUndefined()
  })

  it('fails the run, stops its engine and goes on when metrics.jsonl turns into a directory mid-run', async () => {
    const { ws, runner, events, published } = setup()
    const doomed = ws.createRun(tinyRun('doomed', 100000))
    const next = ws.createRun(tinyRun('next', 2))
    const metrics = join(ws.runDir(doomed.id), 'metrics.jsonl')
    let enginePid: number | undefined
    const stop = events.subscribe((name, data) => {
      const line = (data as { runId?: string; line?: MetricsLine }).line
      if (name === 'run.metrics' && (data as { runId: string }).runId === doomed.id && line?.type === 'train' && line.step === 2) {
        stop()
        enginePid = runner.runningPid
        blockFile(metrics) // the next line's append fails: EISDIR
      }
    })
    runner.enqueue(doomed.id)
    runner.enqueue(next.id)
    await runner.idle()
    const failed = ws.readRun(doomed.id)
    expect(failed.status).toBe('failed')
    expect(failed.failure).toContain(metrics)
    expect(failed.failure).toContain('EISDIR')
    expect(failed.steps).toBeLessThan(100000)
    expect(published.filter((r) => r.id === doomed.id).at(-1)).toMatchObject({ status: 'failed' })
    expect(enginePid).toBeDefined()
    await until('the engine process of the failed run to be gone', () => processGone(enginePid!), 10_000)
    expect(ws.readRun(next.id).status).toBe('completed')
  })

  it('fails the run when run.json cannot be rewritten mid-run', async () => {
    const { ws, runner, events, published } = setup()
    const doomed = ws.createRun(tinyRun('doomed', 100000))
    const next = ws.createRun(tinyRun('next', 2))
    // run.json is written through `run.json.<pid>.tmp` and a rename: a directory there makes the write fail
    const tmp = join(ws.runDir(doomed.id), `run.json.${process.pid}.tmp`)
    const stop = events.subscribe((name, data) => {
      const line = (data as { runId?: string; line?: MetricsLine }).line
      if (name === 'run.metrics' && line?.type === 'train' && line.step === 1) {
        stop()
        mkdirSync(tmp)
      }
    })
    runner.enqueue(doomed.id)
    runner.enqueue(next.id)
    await runner.idle()
    const last = published.filter((r) => r.id === doomed.id).at(-1)!
    expect(last.status).toBe('failed')
    expect(last.failure).toContain(tmp)
    expect(last.failure).toContain('EISDIR')
    // metrics.jsonl could still be written: it says why
    const lines = ws.readMetrics(doomed.id).lines
    expect(lines.at(-1)).toMatchObject({ type: 'status', status: 'failed' })
    expect((lines.at(-1) as { failure: string }).failure).toContain('EISDIR')
    rmSync(tmp, { recursive: true })
    expect(ws.readRun(next.id).status).toBe('completed')
  })

  it('recoverInterrupted reports the runs it cannot mark, instead of throwing', () => {
    const { ws, runner } = setup()
    const a = ws.createRun(tinyRun('a', 5))
    const b = ws.createRun(tinyRun('b', 5))
    const c = ws.createRun(tinyRun('c', 5))
    for (const r of [a, b, c]) ws.updateRun(r.id, { status: 'running' })
    const tmp = join(ws.runDir(a.id), `run.json.${process.pid}.tmp`)
    mkdirSync(tmp) // a's record cannot be rewritten
    const metrics = join(ws.runDir(b.id), 'metrics.jsonl')
    blockFile(metrics) // b's record can, its metrics cannot
    const recovered = runner.recoverInterrupted()
    expect(recovered.map((r) => r.id).sort()).toEqual([b.id, c.id].sort())
    expect(ws.readRun(a.id).status).toBe('running')
    for (const r of [b, c]) expect(ws.readRun(r.id).status).toBe('failed')
    expect(runner.problems.map((p) => p.file).sort()).toEqual([tmp, metrics].sort())
    for (const p of runner.problems) expect(p.problem).toContain('EISDIR')
  })
})
