// Inspections through the LabApi on a real workspace: a checkpoint in a run
// folder, the job in a real engine process, the result cached in the run's
// inspect/ folder and answered from there the second time.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { InspectJob } from '../../../electron/api/labapi'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { dispatchLabApi } from '../../../electron/services/dispatch'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { labDeps } from '../../fixtures/lab'
import { runWithCheckpoint } from '../../fixtures/runs'

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const deps = labDeps(engine, events)
const handlers = createLabHandlers(deps)
const call = (method: string, params: unknown) => dispatchLabApi(handlers, method, params)
afterAll(() => {
  engine.stop()
  deps.inspections.stop()
  deps.workspaces.close()
})

function statusOf(runId: string, name: string): Promise<InspectJob> {
  return new Promise((resolve) => {
    const off = events.subscribe((event, data) => {
      if (event !== 'inspect.status') return
      const { job } = data as { job: InspectJob }
      if (job.runId === runId && job.name === name && job.status !== 'running') {
        off()
        resolve(job)
      }
    })
  })
}

describe('inspections through the LabApi', () => {
  it('runs once in an engine process, then answers from the run folder', async () => {
    const runId = await runWithCheckpoint(deps.workspaces.workspace)
    expect(await call('listCheckpoints', { runId })).toEqual([{ checkpoint: 'checkpoints/step-0000007.safetensors', step: 7 }])
    const progress: number[] = []
    events.subscribe((event, data) => event === 'inspect.progress' && progress.push((data as { fraction: number }).fraction))
    const name = 'step-0000007-example-2'
    const finished = statusOf(runId, name)
    const job = (await call('startInspect', { runId, input: { kind: 'task', example: 2 }, recall: { examples: 8 } })) as InspectJob
    expect(job).toMatchObject({ runId, name, status: 'running', checkpoint: 'checkpoints/step-0000007.safetensors' })
    expect(await finished).toMatchObject({ status: 'done' })
    expect(progress.at(-1)).toBe(1)
    const folder = join(deps.workspaces.workspace.runDir(runId), 'inspect')
    expect(existsSync(join(folder, `${name}.json`))).toBe(true)
    const [summary] = (await call('listInspections', { runId })) as { name: string; step: number; input: string }[]
    expect(summary).toMatchObject({ name, step: 7, input: 'mqar example 2' })
    const result = (await call('getInspection', { runId, name })) as { step: number; layers: unknown[]; recall: { examples: number } }
    expect(result.step).toBe(7)
    expect(result.layers).toHaveLength(2)
    expect(result.recall.examples).toBe(8)
    // the same question again: from the folder, no engine
    const again = (await call('startInspect', { runId, input: { kind: 'task', example: 2 } })) as InspectJob
    expect(again).toMatchObject({ status: 'done', cached: true })
  })

  it('reports a failed inspection with the engine message, and refuses bad requests', async () => {
    const runId = await runWithCheckpoint(deps.workspaces.workspace)
    const failed = statusOf(runId, 'step-0000007-example-0')
    await call('startInspect', { runId, heads: [7] })
    expect(await failed).toMatchObject({ status: 'failed', failure: expect.stringContaining('head 7 does not exist') })
    await expect(call('startInspect', { runId, maxAttentionT: 5000 })).rejects.toThrow(/maxAttentionT/)
    await expect(call('startInspect', { runId, checkpoint: '../../escape.safetensors' })).rejects.toThrow(/outside the run folder/)
    await expect(call('startInspect', { runId, checkpoint: 'checkpoints/step-0000009.safetensors' })).rejects.toThrow(
      /does not exist .*it has: checkpoints\/step-0000007.safetensors/,
    )
    await expect(call('startInspect', { runId: 'no-such-run' })).rejects.toThrow(/no-such-run/)
    await expect(call('getInspection', { runId, name: 'nothing-here' })).rejects.toThrow(/no inspection 'nothing-here'/)
    // a corrupt cached file is named, with what to do
    mkdirSync(join(deps.workspaces.workspace.runDir(runId), 'inspect'))
    writeFileSync(join(deps.workspaces.workspace.runDir(runId), 'inspect', 'broken.json'), '{"format": "linea.insp')
    await expect(call('getInspection', { runId, name: 'broken' })).rejects.toThrow(/broken.json is not valid JSON .*inspect the checkpoint again/)
  })
})
