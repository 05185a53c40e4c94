// Export a run to PyTorch through the LabApi (issue 20), against the real
// services: a run trained by the job runner's engine, then exportRun writes
// its checkpoint as a PyTorch folder inside the workspace's exports/; a run
// without a checkpoint, or an id that is not a run, is refused by name.
import { existsSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { labInTempWorkspace } from '../../fixtures/lab'
import { newRun, quickTrainSpec, smallModelSpec } from '../../fixtures/runs'
import { rejection } from '../../fixtures/thrown'

const { root, workspaces, api, stop } = labInTempWorkspace('linea-export-run-')
afterAll(stop)

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
