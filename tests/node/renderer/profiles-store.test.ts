// The profiles store follows the workspace: opening another one shows its
// profiles and drops the last one's selection and loaded results.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPinia, setActivePinia } from 'pinia'
import { afterAll, describe, expect, it } from 'vitest'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { localLabApi } from '../../../electron/services/local-api'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { setLabApi } from '../../../renderer/src/api/client'
import { useProfilesStore } from '../../../renderer/src/stores/profiles'
import { labDepsFor } from '../../fixtures/lab'
import { newRun } from '../../fixtures/runs'
import { until } from '../../fixtures/until'

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const workspaces = new WorkspaceService(mkdtempSync(join(tmpdir(), 'linea-profiles-store-')), forkLauncher(), events)
const api = localLabApi(createLabHandlers(labDepsFor(engine, workspaces, events)), events)
setLabApi(api)
afterAll(() => {
  engine.stop()
  workspaces.close()
  setLabApi(undefined)
})

describe('profiles store', () => {
  it('shows the profiles of the workspace that is open, and forgets the last one', async () => {
    setActivePinia(createPinia())
    const s = useProfilesStore()
    s.watch()
    const home = workspaces.workspace.root
    try {
      // a profile in this workspace, as the profile service leaves one
      mkdirSync(join(home, 'profiles', 'p1'), { recursive: true })
      const record = { id: 'p1', name: 'gla d64', status: 'failed', createdMs: 1, error: 'stopped by the test' }
      writeFileSync(join(home, 'profiles', 'p1', 'profile-run.json'), JSON.stringify(record))
      await s.refresh()
      expect(s.profiles.map((p) => p.id)).toEqual(['p1'])
      s.selected = ['p1']
      await api.openWorkspace({ path: mkdtempSync(join(tmpdir(), 'linea-profiles-other-')) })
      await until('the store to show the other workspace', () => s.profiles.length === 0)
      expect(s.selected).toEqual([])
      await api.openWorkspace({ path: home })
      await until('the store to show this workspace again', () => s.profiles.length === 1)
      // the same workspace announced again (a resync after a dropped connection) keeps the selection:
      // the store lists the profiles again (a new list), and then the selection is still there
      s.selected = ['p1']
      const listed = s.profiles
      events.emit('workspace.changed', await api.workspaceInfo({}))
      await until('the store to list the profiles again', () => s.profiles !== listed)
      expect([s.selected, s.profiles.map((p) => p.id)]).toEqual([['p1'], ['p1']])
    } finally {
      s.unwatch()
    }
  })

  it("names the training runs that ran while a profile measured, from the job runner's records", async () => {
    setActivePinia(createPinia())
    const s = useProfilesStore()
    const ws = workspaces.workspace
    const profile = (id: string, createdMs: number, endedMs: number) => {
      mkdirSync(join(ws.root, 'profiles', id), { recursive: true })
      writeFileSync(join(ws.root, 'profiles', id, 'profile-run.json'), JSON.stringify({ id, name: id, status: 'done', createdMs, endedMs }))
    }
    profile('during', 10_000, 20_000)
    profile('after', 40_000, 50_000)
    const run = newRun(ws, 'tiny gla')
    ws.updateRun(run.id, { status: 'completed', startedMs: 15_000, endedMs: 30_000 })
    await s.refresh()
    expect(s.runWarning('during')).toBe(
      `A training run was active while this profile ran (tiny gla (${run.id})): it competes for the same device, so the times may be inflated.`,
    )
    expect(s.runWarning('after')).toBeUndefined()
    expect(s.runWarning('unknown')).toBeUndefined()
  })
})
