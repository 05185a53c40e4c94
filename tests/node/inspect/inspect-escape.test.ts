// startInspect and the other inspection calls on hostile input (issue 12):
// a run id, checkpoint or name that walks out of the workspace with '../' or
// through a symbolic link is refused as the caller's mistake (bad_request),
// nothing is read or written outside, and no error quotes a foreign file.
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { InspectJob } from '../../../electron/api/labapi'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { dispatchLabApi, LabApiError } from '../../../electron/services/dispatch'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { labDepsFor } from '../../fixtures/lab'
import { runWithCheckpoint } from '../../fixtures/runs'
import { workspaceBesideOutside } from '../../fixtures/temp'

// <parent>/ws is the workspace; <parent>/outside holds what must stay untouched.
const SECRET = 'SECRET-0123456789-do-not-quote'
const { root, outside } = workspaceBesideOutside('linea-inspect-escape-', 'secret.txt', `${SECRET}\n`)

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const deps = labDepsFor(engine, new WorkspaceService(root, forkLauncher(), events), events)
const handlers = createLabHandlers(deps)
const call = (method: string, params: unknown) => dispatchLabApi(handlers, method, params)
const started: InspectJob[] = []
events.subscribe((event, data) => event === 'inspect.status' && started.push((data as { job: InspectJob }).job))
afterAll(() => {
  engine.stop()
  deps.inspections.stop()
  deps.workspaces.close()
})

/** The call's error body: it must be the caller's mistake, and quote nothing of the foreign file. */
async function refused(method: string, params: unknown, pattern: RegExp): Promise<string> {
  let error: unknown
  try {
    await call(method, params)
  } catch (err) {
    error = err
  }
  expect(error, `${method} ${JSON.stringify(params)} was not refused`).toBeInstanceOf(LabApiError)
  const body = (error as LabApiError).body
  expect(body.code, body.message).toBe('bad_request')
  expect(body.message).toMatch(pattern)
  expect(body.message).not.toContain('SECRET')
  return body.message
}

describe('inspections refuse paths out of the workspace', () => {
  it('a run id with ../ is refused before anything outside is read, and its error quotes nothing', async () => {
    // A foreign "run.json" that is not JSON: a parser's message would quote its start.
    mkdirSync(join(outside, 'x'))
    writeFileSync(join(outside, 'x', 'run.json'), `${SECRET} not json`)
    await refused('startInspect', { runId: '../../outside/x' }, /run id '\.\.\/\.\.\/outside\/x' is not a valid run id/)
    await refused('startInspect', { runId: '..' }, /not a valid run id/)
    // The service itself checks too (the CLI and other callers skip the LabApi schema).
    for (const f of [() => deps.inspections.list('../../outside/x'), () => deps.inspections.checkpoints('../x'), () => deps.inspections.get('../x', 'a')])
      expect(f).toThrow(/not a valid run id/)
  })

  it('a valid run record outside the workspace is never inspected nor written to', async () => {
    const id = await runWithCheckpoint(deps.workspaces.workspace)
    // A copy of a real run outside: following runs/../../outside/copy would read its checkpoint and write inspect/ there.
    cpSync(deps.workspaces.workspace.runDir(id), join(outside, 'copy'), { recursive: true })
    const before = started.length
    await refused('startInspect', { runId: '../../outside/copy' }, /not a valid run id/)
    expect(started.length).toBe(before) // no job was started
    expect(existsSync(join(outside, 'copy', 'inspect'))).toBe(false)
  })

  it('a checkpoint or a name that leaves the run folder is refused', async () => {
    const id = await runWithCheckpoint(deps.workspaces.workspace)
    const runDir = deps.workspaces.workspace.runDir(id)
    await refused('startInspect', { runId: id, checkpoint: '../../../outside/secret.txt' }, /outside the run folder/)
    await refused('startInspect', { runId: id, checkpoint: join(outside, 'secret.txt') }, /outside the run folder/)
    // A symbolic link inside the run folder that leads out: the engine would read the foreign file.
    symlinkSync(join(outside, 'secret.txt'), join(runDir, 'checkpoints', 'step-0000009.safetensors'))
    await refused('startInspect', { runId: id, checkpoint: 'checkpoints/step-0000009.safetensors' }, /outside the run folder/)
    const before = started.length
    await refused('startInspect', { runId: id, name: '..' }, /inspection name '\.\.' is not a valid inspection name/)
    expect(started.length).toBe(before)
  })

  it('a record whose checkpoint field leads outside is refused, naming the field', async () => {
    const id = await runWithCheckpoint(deps.workspaces.workspace)
    const runDir = deps.workspaces.workspace.runDir(id)
    copyFileSync(join(runDir, 'checkpoints', 'step-0000007.safetensors'), join(outside, 'step-0000001.safetensors'))
    // Written by hand (the workspace's own writes keep the field inside): the file is untrusted.
    const record = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'))
    writeFileSync(join(runDir, 'run.json'), JSON.stringify({ ...record, checkpoint: '../../../outside/step-0000001.safetensors' }))
    const before = started.length
    await refused('startInspect', { runId: id }, /checkpoint/)
    expect(started.length).toBe(before)
    expect(readdirSync(outside).sort()).not.toContain('inspect')
  })

  it('a malformed request is the caller’s mistake, not an internal error', () => {
    // Straight to the service: the LabApi schema would catch it first, the service must not throw a plain Error.
    let error: unknown
    try {
      deps.inspections.start({ runId: 'x', maxAttentionT: -1 } as never)
    } catch (err) {
      error = err
    }
    expect((error as { userError?: boolean }).userError).toBe(true)
    expect((error as Error).message).toMatch(/maxAttentionT/)
  })
})
