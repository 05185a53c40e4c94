// The runs store's archive, tags, delete and restored selection (issue 17),
// against the real services (a workspace in a temporary folder, the LabApi
// in-process). A delete made by another window reaches this store through
// run.deleted; a selection read from a URL keeps only this workspace's runs.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createPinia, setActivePinia } from 'pinia'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { useRunsStore } from '../../../renderer/src/stores/runs'
import { quickTrainSpec, smallModelSpec } from '../../fixtures/runs'
import { storeLab } from '../../fixtures/store-lab'
import { until } from '../../fixtures/until'

const lab = storeLab('linea-runs-manage-store-')
const { api, workspaces } = lab
afterAll(() => lab.close())
beforeEach(() => setActivePinia(createPinia()))

/** A finished run written straight into the workspace (no training). */
function finished(name: string): string {
  const ws = workspaces.workspace
  const run = ws.createRun({ name, modelSpec: smallModelSpec(), trainSpec: quickTrainSpec({ steps: 2 }) })
  ws.updateRun(run.id, { status: 'completed', steps: 2 })
  return run.id
}

describe('runs store: archive, tags, delete, restored selection', () => {
  it('archives, tags and deletes through the LabApi, and follows a delete made elsewhere', async () => {
    const a = finished('a')
    const b = finished('b')
    const s = useRunsStore()
    try {
      await s.init()
      s.setSelected([a, b])
      s.setLive(b)
      expect((await s.archive(a, true))?.archived).toBe(true)
      expect(s.byId.get(a)?.archived).toBe(true)
      expect((await s.tag(a, { add: ['kept'] }))?.tags).toEqual(['kept'])
      expect(s.byId.get(a)?.tags).toEqual(['kept'])
      expect(await s.tag(a, { add: ['bad\u0001'] })).toBeNull()
      expect(s.error).toContain('is not a valid tag')

      // deleted here: gone from the store, the selection and the disk
      expect(await s.remove(a)).toBe(true)
      expect(s.byId.has(a)).toBe(false)
      expect(s.selectedIds).toEqual([b])
      expect(existsSync(join(workspaces.workspace.runsDir, a))).toBe(false)
      // deleted by another window (the LabApi directly): run.deleted drops it, the live run moves on
      await api.deleteRun({ id: b })
      await until('the run.deleted event', () => !s.byId.has(b))
      expect(s.selectedIds).toEqual([])
      expect(s.liveId).not.toBe(b)
      // a listing does not bring them back
      await s.refresh()
      expect(s.runs.map((r) => r.id)).not.toContain(a)
      expect(s.runs.map((r) => r.id)).not.toContain(b)
    } finally {
      s.dispose()
    }
  })

  it('restores a selection from a URL: runs this workspace lacks are dropped once listed', async () => {
    const c = finished('c')
    const s = useRunsStore()
    try {
      expect(s.selectionRestored).toBe(false)
      s.restoreSelected([c, '20200101T000000-not-here'])
      expect(s.selectionRestored).toBe(true)
      await s.init()
      expect(s.selectedIds).toEqual([c])
      // its metrics were read; the missing run's never asked for (no error about it)
      await s.loadMetrics(c)
      expect(s.error).toBe('')
    } finally {
      s.dispose()
    }
  })
})
