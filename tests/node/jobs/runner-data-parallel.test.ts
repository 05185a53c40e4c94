// A run with `devices` through the job runner: one engine per rank, gathered
// into one run record. CI has no GPU and no NCCL, so the runner's test
// double (dataParallelOnCpu) trains the ranks on the CPU and sums through
// the parent; what is checked is the runner's side: the run trains to the
// same losses as one engine, rank 0's checkpoints are recorded, a cancel
// stops every rank at the same step with a checkpoint to resume from.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { MetricsLine } from '../../../electron/api/runs'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { cancelAtFirstCheckpoint, openRunner } from '../../fixtures/runner'
import { quickTrainSpec, smallModelSpec } from '../../fixtures/runs'

const trainLosses = (lines: MetricsLine[]) => lines.flatMap((l) => (l.type === 'train' ? [l.loss] : []))

describe('job runner: data parallel (CPU ranks, relay test double)', () => {
  it('trains a run with devices "cuda:0,1" to the losses of the same run on one engine', async () => {
    const { ws, runner } = openRunner('linea-dp-runner-', forkLauncher(), { dataParallelOnCpu: true })
    const trainSpec = quickTrainSpec({ steps: 6, batch_size: 6, checkpoint_every: 3, backend: 'auto' })
    const single = ws.createRun({ name: 'one', modelSpec: smallModelSpec(), trainSpec })
    const split = ws.createRun({ name: 'two', modelSpec: smallModelSpec(), trainSpec: { ...trainSpec, devices: 'cuda:0,1' } })
    runner.enqueue(single.id)
    runner.enqueue(split.id)
    await runner.idle()
    const a = ws.readRun(single.id)
    const b = ws.readRun(split.id)
    expect(a.status).toBe('completed')
    expect(b.status).toBe('completed')
    const la = trainLosses(ws.readMetrics(single.id).lines)
    const lb = trainLosses(ws.readMetrics(split.id).lines)
    expect(lb).toHaveLength(6)
    lb.forEach((x, n) => expect(Math.abs(x - la[n]!)).toBeLessThan(1e-5 * Math.max(1, la[n]!)))
    expect(b.checkpoint).toBe(join('checkpoints', 'step-0000006.safetensors'))
    // Each step line carries every rank's memory (the run page's "per GPU").
    const lastTrain = ws
      .readMetrics(split.id)
      .lines.filter((l) => l.type === 'train')
      .at(-1)!
    expect(lastTrain.type === 'train' && lastTrain.devices?.map((d) => [d.rank, d.device])).toEqual([
      [0, 'cpu'],
      [1, 'cpu'],
    ])
    expect(existsSync(join(ws.runDir(split.id), 'checkpoints', 'step-0000003.safetensors'))).toBe(true)
  })

  it('a cancel stops every rank after the same step, with a checkpoint to resume from', async () => {
    const { ws, runner, events } = openRunner('linea-dp-cancel-', forkLauncher(), { dataParallelOnCpu: true })
    const run = ws.createRun({
      name: 'long',
      modelSpec: smallModelSpec(),
      trainSpec: quickTrainSpec({ steps: 4000, batch_size: 4, checkpoint_every: 2, backend: 'auto', devices: 'cuda:0,1' }),
    })
    await cancelAtFirstCheckpoint({ runner, events }, run.id)
    const cancelled = ws.readRun(run.id)
    expect(cancelled.status).toBe('cancelled')
    expect(cancelled.checkpoint).toBeDefined()
    expect(cancelled.failure ?? '').not.toContain('killed')
    runner.resume(run.id)
    const stop = events.subscribe((name, data) => {
      const line = (data as { line?: MetricsLine }).line
      if (name === 'run.metrics' && line?.type === 'train' && line.step >= cancelled.steps! + 2) {
        stop()
        runner.cancel(run.id)
      }
    })
    await runner.idle()
    const resumed = ws.readRun(run.id)
    expect(resumed.status).toBe('cancelled')
    expect(resumed.steps!).toBeGreaterThan(cancelled.steps!)
  })
})
