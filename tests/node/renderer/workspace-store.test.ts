// The workspace store against the real services (a workspace in a temporary
// folder, LabApi in-process): the open workspace and its broken files,
// opening another (the runs store follows), the recent folders, a folder
// that cannot be opened. Each test has a fresh Pinia; stores are disposed after.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createPinia, setActivePinia } from 'pinia'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import { useRunsStore } from '../../../renderer/src/stores/runs'
import { useWorkspaceStore } from '../../../renderer/src/stores/workspace'
import { newRun } from '../../fixtures/runs'
import { storeLab } from '../../fixtures/store-lab'
import { tempDir } from '../../fixtures/temp'
import { until } from '../../fixtures/until'

const lab = storeLab('linea-workspace-store-')
const { api, workspaces } = lab
const first = workspaces.workspace.root
newRun(workspaces.workspace, 'a run of the first')

const disposers: (() => void)[] = []
beforeEach(() => setActivePinia(createPinia()))
afterEach(() => {
  for (const d of disposers.splice(0)) d()
})
afterAll(() => lab.close())

/** The workspace store and the runs it shows, both following their events. */
async function stores() {
  const ws = useWorkspaceStore()
  const runs = useRunsStore()
  disposers.push(ws.dispose, runs.dispose)
  await Promise.all([ws.init(), runs.init()])
  return { ws, runs }
}

describe('workspace store', () => {
  it('shows the open workspace and each file that could not be read once', async () => {
    const broken = join(workspaces.workspace.runsDir, 'zz-broken', 'run.json')
    mkdirSync(join(broken, '..'))
    writeFileSync(broken, '{ not json')
    const { ws, runs } = await stores()
    expect(ws.info?.path).toBe(first)
    // the workspace lists the broken run file, and so does the runs' listing: shown once
    expect(ws.info!.problems.filter((p) => p.file === broken)).toHaveLength(1)
    expect(runs.problems.filter((p) => p.file === broken)).toHaveLength(1)
    expect(ws.problems.filter((p) => p.file === broken)).toHaveLength(1)
    expect(ws.problems.find((p) => p.file === broken)!.problem).toContain('is not valid JSON')
  })

  it('opens another workspace, which the runs follow, remembers both, and refuses a folder that cannot be made', async () => {
    const { ws, runs } = await stores()
    expect(runs.runs.map((r) => r.name)).toContain('a run of the first')
    const next = tempDir('linea-workspace-store-next-')
    expect(await ws.open(next)).toBe(true)
    expect([ws.info?.path, ws.notice]).toEqual([next, `opened ${next}`])
    await until('the runs of the new workspace', () => runs.runs.length === 0 && runs.loaded)
    // another window (or the shell) opening one: the event brings the store along
    await api.openWorkspace({ path: first })
    await until('the first workspace', () => ws.info?.path === first && runs.runs.some((r) => r.name === 'a run of the first'))
    await ws.loadRecent()
    expect(ws.recent).toEqual(expect.arrayContaining([first, next]))
    // a folder that cannot be made (its parent is a file) is refused, and the open one stays
    // (not a path under /proc: Node 20's recursive mkdirSync never returns there)
    const file = join(next, 'a-file')
    writeFileSync(file, 'not a folder')
    expect(await ws.open(join(file, 'ws'))).toBe(false)
    expect(ws.error).toContain(join(file, 'ws'))
    expect(ws.info?.path).toBe(first)
    expect(runs.runs.map((r) => r.name)).toContain('a run of the first')
  })
})
