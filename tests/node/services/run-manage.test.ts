// Archive, tag and delete runs through the LabApi (issue 17), against the real
// services: a workspace in a temporary folder, the job runner with real engine
// processes, every call through the same dispatch as the front doors (schemas
// included). A running or queued run cannot be deleted; a deleted run's folder
// is gone; tags are checked and say what is valid.
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { LabEventName } from '../../../electron/api/labapi'
import { MAX_RUN_TAGS } from '../../../electron/api/runs'
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
import { until } from '../../fixtures/until'

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const root = tempDir('linea-run-manage-')
const workspaces = new WorkspaceService(root, forkLauncher(), events)
const api = localLabApi(createLabHandlers(labDepsFor(engine, workspaces, events)), events)
const seen: { name: LabEventName; data: unknown }[] = []
const off = events.subscribe((name, data) => void seen.push({ name, data }))
afterAll(async () => {
  for (const id of [workspaces.runner.runningId, ...workspaces.runner.queuedIds()]) if (id) workspaces.runner.cancel(id, { force: true })
  await workspaces.runner.idle()
  off()
  engine.stop()
  workspaces.close()
})

const runJson = (id: string) => JSON.parse(readFileSync(join(root, 'runs', id, 'run.json'), 'utf8')) as Record<string, unknown>

describe('archive, tag and delete runs', () => {
  it('archives and unarchives a run: the mark is in run.json, the folder stays, listRuns still has it', async () => {
    const run = newRun(workspaces.workspace, 'to archive')
    workspaces.workspace.updateRun(run.id, { status: 'completed' })
    const archived = await api.archiveRun({ id: run.id, archived: true })
    expect(archived.archived).toBe(true)
    expect(runJson(run.id).archived).toBe(true)
    expect(seen.some((e) => e.name === 'run.status' && (e.data as { run: { id: string; archived?: boolean } }).run.archived === true)).toBe(true)
    const listed = await api.listRuns({})
    expect(listed.runs.find((r) => r.id === run.id)?.archived).toBe(true)
    const back = await api.archiveRun({ id: run.id, archived: false })
    expect(back.archived).toBeUndefined()
    expect('archived' in runJson(run.id)).toBe(false)
    expect(existsSync(join(root, 'runs', run.id, 'metrics.jsonl'))).toBe(true)
  })

  it('adds and removes tags, once each, and refuses tags that are not tags, naming the value and the rule', async () => {
    const run = newRun(workspaces.workspace, 'to tag')
    let r = await api.tagRun({ id: run.id, add: ['baseline', 'd64', 'baseline'] })
    expect(r.tags).toEqual(['baseline', 'd64'])
    r = await api.tagRun({ id: run.id, add: ['ünïcode ok'], remove: ['d64', 'not there'] })
    expect(r.tags).toEqual(['baseline', 'ünïcode ok'])
    expect(runJson(run.id).tags).toEqual(['baseline', 'ünïcode ok'])
    r = await api.tagRun({ id: run.id, remove: ['baseline', 'ünïcode ok'] })
    expect(r.tags).toBeUndefined()
    expect('tags' in runJson(run.id)).toBe(false)

    for (const bad of ['', 'x'.repeat(33), 'bell\u0007', 'new\nline', ' padded', 'rtl\u202eoverride'])
      expect(await rejection(api.tagRun({ id: run.id, add: [bad] }))).toMatch(/add\[0\]: .*is not a valid tag: 1 to 32 characters, no control characters/s)
    // the value is named with its control characters made visible
    expect(await rejection(api.tagRun({ id: run.id, add: ['bell\u0007'] }))).toContain(`add[0]: 'bell\\u0007' is not a valid tag`)
    expect(await rejection(api.tagRun({ id: run.id, add: ['rtl\u202eoverride'] }))).toContain(`'rtl\\u202eoverride'`)
    expect(await rejection(api.tagRun({ id: run.id, add: [7 as unknown as string] }))).toContain('add[0]: 7 is not a string')
    const many = Array.from({ length: MAX_RUN_TAGS }, (_, i) => `t${i}`)
    await api.tagRun({ id: run.id, add: many })
    expect(await rejection(api.tagRun({ id: run.id, add: ['one more'] }))).toContain(
      `run ${run.id} would have ${MAX_RUN_TAGS + 1} tags; at most ${MAX_RUN_TAGS}`,
    )
    expect(await rejection(api.tagRun({ id: '../escape', add: ['x'] }))).toContain('is not a run id')
  })

  it('reads hand-edited tags leniently: a bad tag is dropped, the run still lists', async () => {
    const run = newRun(workspaces.workspace, 'hand edited')
    const path = join(root, 'runs', run.id, 'run.json')
    writeFileSync(path, JSON.stringify({ ...runJson(run.id), tags: ['fine', 'bad\u0000', 42, 'fine'] }))
    expect(workspaces.workspace.readRun(run.id).tags).toEqual(['fine'])
    expect((await api.listRuns({})).runs.some((r) => r.id === run.id)).toBe(true)
  })

  it('deletes a finished run: its folder goes, listRuns forgets it, run.deleted is sent; an unknown run is named', async () => {
    const run = newRun(workspaces.workspace, 'to delete')
    workspaces.workspace.updateRun(run.id, { status: 'failed' })
    expect(await api.deleteRun({ id: run.id })).toEqual({ id: run.id })
    expect(existsSync(join(root, 'runs', run.id))).toBe(false)
    expect(readdirSync(join(root, '.trash'))).toEqual([])
    expect((await api.listRuns({})).runs.some((r) => r.id === run.id)).toBe(false)
    expect(seen.some((e) => e.name === 'run.deleted' && (e.data as { runId: string }).runId === run.id)).toBe(true)
    expect(await rejection(api.deleteRun({ id: run.id }))).toContain(`no run '${run.id}'`)
    expect(await rejection(api.deleteRun({ id: '..' }))).toContain('is not a run id')
  })

  it('deletes a broken run folder, and a link at runs/<id> without touching what it points to', async () => {
    mkdirSync(join(root, 'runs', 'broken-run'))
    writeFileSync(join(root, 'runs', 'broken-run', 'run.json'), '{ not json')
    await api.deleteRun({ id: 'broken-run' })
    expect(existsSync(join(root, 'runs', 'broken-run'))).toBe(false)

    const outside = tempDir('linea-run-manage-outside-')
    writeFileSync(join(outside, 'keep.txt'), 'mine')
    symlinkSync(outside, join(root, 'runs', 'linked-run'))
    await api.deleteRun({ id: 'linked-run' })
    expect(existsSync(join(root, 'runs', 'linked-run'))).toBe(false)
    expect(readFileSync(join(outside, 'keep.txt'), 'utf8')).toBe('mine')
  })

  it('refuses to delete or archive a running or a queued run, naming it and its status; after the cancel it deletes', async () => {
    const spec = { modelSpec: smallModelSpec(), trainSpec: quickTrainSpec({ steps: 100_000, eval: { every: 1000, batches: 1 } }) }
    const running = await api.startRun({ name: 'long one', ...spec })
    const queued = await api.startRun({ name: 'waiting one', ...spec })
    await until('the first run to train', () => workspaces.runner.runningId === running.id)
    expect(workspaces.runner.queuedIds()).toEqual([queued.id])

    expect(await rejection(api.deleteRun({ id: running.id }))).toBe(`run ${running.id} ('long one') is running; cancel it first, then delete it`)
    expect(await rejection(api.deleteRun({ id: queued.id }))).toBe(`run ${queued.id} ('waiting one') is queued; cancel it first, then delete it`)
    expect(await rejection(api.archiveRun({ id: running.id, archived: true }))).toContain(`run ${running.id} ('long one') is running; cancel it`)
    expect(existsSync(join(root, 'runs', running.id, 'run.json'))).toBe(true)
    expect(existsSync(join(root, 'runs', queued.id, 'run.json'))).toBe(true)
    // tags are fine while it trains, and survive the runner's own writes
    await api.tagRun({ id: running.id, add: ['live'] })

    await api.cancelRun({ id: queued.id })
    await api.deleteRun({ id: queued.id })
    expect(existsSync(join(root, 'runs', queued.id))).toBe(false)
    await api.cancelRun({ id: running.id, force: true })
    await until('the run to stop', () => workspaces.runner.runningId === undefined)
    await workspaces.runner.idle()
    expect(workspaces.workspace.readRun(running.id).tags).toEqual(['live'])
    await api.deleteRun({ id: running.id })
    expect(existsSync(join(root, 'runs', running.id))).toBe(false)
  })
})
