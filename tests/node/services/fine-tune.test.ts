// A fine-tune through the LabApi (issue 20: an imported or trained model
// trained further on a task): startRun with startFrom records where the run
// starts, the engine loads those weights, and a start that cannot work (no
// checkpoint, another ModelSpec, a path out of the run) is refused by name.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { labInTempWorkspace, trainLosses } from '../../fixtures/lab'
import { newRun, quickTrainSpec, smallModelSpec } from '../../fixtures/runs'
import { rejection } from '../../fixtures/thrown'

const { root, workspaces, api, stop } = labInTempWorkspace('linea-fine-tune-')
afterAll(stop)

describe('fine-tune: startRun from another run', () => {
  it('starts from the source run’s latest checkpoint and trains from its weights', async () => {
    const modelSpec = smallModelSpec('gla')
    const source = await api.startRun({ name: 'source', modelSpec, trainSpec: quickTrainSpec({ steps: 12, checkpoint_every: 0 }) })
    await workspaces.runner.idle()
    const tuneSpec = quickTrainSpec({ steps: 3, seed: 9 })
    const tuned = await api.startRun({ name: 'tuned', modelSpec, trainSpec: tuneSpec, startFrom: { runId: source.id } })
    const fresh = await api.startRun({ name: 'fresh', modelSpec, trainSpec: tuneSpec })
    await workspaces.runner.idle()
    const record = JSON.parse(readFileSync(join(root, 'runs', tuned.id, 'run.json'), 'utf8')) as { status: string; startFrom: unknown }
    expect(record.status).toBe('completed')
    expect(record.startFrom).toEqual({ run: source.id, checkpoint: join('checkpoints', 'step-0000012.safetensors') })
    // Same spec, seed and data: a run that ignored startFrom would repeat the fresh run's losses exactly.
    expect(trainLosses(root, tuned.id)).toHaveLength(3)
    expect(Math.abs(trainLosses(root, tuned.id)[0]! - trainLosses(root, fresh.id)[0]!)).toBeGreaterThan(1e-3)
  })

  it('refuses a start without a checkpoint, with another ModelSpec, or out of the run folder', async () => {
    const modelSpec = smallModelSpec('gla')
    const untrained = newRun(workspaces.workspace, 'untrained')
    expect(
      await rejection(api.startRun({ name: 'x', modelSpec: untrained.modelSpec, trainSpec: quickTrainSpec(), startFrom: { runId: untrained.id } })),
    ).toContain(`run ${untrained.id} has no checkpoint to start from yet`)
    const source = (await api.listRuns({})).runs.find((r) => r.name === 'source')!
    expect(
      await rejection(api.startRun({ name: 'x', modelSpec: smallModelSpec('gated-deltanet'), trainSpec: quickTrainSpec(), startFrom: { runId: source.id } })),
    ).toContain(`a run starting from run ${source.id} must have its ModelSpec`)
    expect(
      await rejection(api.startRun({ name: 'x', modelSpec, trainSpec: quickTrainSpec(), startFrom: { runId: source.id, checkpoint: '../../../etc/passwd' } })),
    ).toMatch(/not a checkpoint inside that run/)
  })
})
