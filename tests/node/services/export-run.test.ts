// Export a run to PyTorch through the LabApi (issue 20), against the real
// services: a run trained by the job runner's engine, then exportRun writes
// its checkpoint as a PyTorch folder inside the workspace's exports/; a run
// without a checkpoint, or an id that is not a run, is refused by name.
import { existsSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { localLabApi } from '../../../electron/services/local-api'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { labDepsFor } from '../../fixtures/lab'
import { newRun, quickTrainSpec, smallModelSpec } from '../../fixtures/runs'
import { tempDir } from '../../fixtures/temp'
import { rejection } from '../../fixtures/thrown'

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const root = tempDir('linea-export-run-')
const workspaces = new WorkspaceService(root, forkLauncher(), events)
const api = localLabApi(createLabHandlers(labDepsFor(engine, workspaces, events)), events)
afterAll(async () => {
  await workspaces.runner.idle()
  engine.stop()
  workspaces.close()
})

describe('exportRun', () => {
  it('writes a trained run as a PyTorch folder under exports/, for its latest checkpoint', async () => {
    const run = await api.startRun({ name: 'to export', modelSpec: smallModelSpec('gla'), trainSpec: quickTrainSpec({ steps: 3, checkpoint_every: 0 }) })
    await workspaces.runner.idle()
    expect((await api.listRuns({})).runs.find((r) => r.id === run.id)?.status).toBe('completed')
    const out = await api.exportRun({ id: run.id })
    expect(relative(root, out.dir)).toBe(join('exports', `${run.id}-step-3`))
    expect(out.step).toBe(3)
    for (const f of ['model.py', 'config.json', 'model.safetensors', 'README.txt']) {
      expect(out.files).toContain(f)
      expect(existsSync(join(out.dir, f)), f).toBe(true)
    }
    expect(JSON.parse(readFileSync(join(out.dir, 'config.json'), 'utf8'))).toMatchObject({ d_model: 32 })
    expect(out.fla).toMatch(/fla|flash-linear-attention/i)
    // Again: the same folder, rewritten.
    expect((await api.exportRun({ id: run.id })).dir).toBe(out.dir)
  })

  it('refuses a run without a checkpoint and an id that is not a run', async () => {
    const run = newRun(workspaces.workspace, 'never trained')
    expect(await rejection(api.exportRun({ id: run.id }))).toContain(`run ${run.id} has no checkpoint yet`)
    expect(await rejection(api.exportRun({ id: '../../etc' }))).toMatch(/run id/)
  })
})
