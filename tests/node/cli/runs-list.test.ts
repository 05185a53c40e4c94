// `linea runs <workspace>`: the runs of a real workspace folder, each with
// its archived mark, tags and the compact backend and precision.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { formatRuns } from '../../../electron/cli/runs'
import { Workspace } from '../../../electron/workspace/workspace'
import { newRun } from '../../fixtures/runs'

describe('linea runs', () => {
  it('lists archived marks, tags and the backend with its precision', () => {
    const ws = Workspace.open(mkdtempSync(join(tmpdir(), 'linea-cli-runs-')))
    try {
      const a = newRun(ws, 'plain')
      const b = newRun(ws, 'kept')
      ws.updateRun(a.id, { backend: 'auto picked cuda:0: it accepts all 41 of the model’s op calls; precision auto: bf16 on the GPU' })
      ws.tagRun(b.id, ['baseline', 'seed 0'], [])
      ws.setRunArchived(b.id, true)
      const lines = formatRuns(ws.listRuns().runs).trimEnd().split('\n')
      expect(lines[0]).toMatch(/^status\s+name\s+task\s+steps\s+best acc\s+time\s+backend\s+tags\s+id$/)
      const row = (name: string) => lines.find((l) => l.includes(` ${name} `))!
      expect(row('plain')).toMatch(/^queued\s+plain .* cuda:0 bf16\s+-\s+/)
      expect(row('kept')).toMatch(/^queued \(archived\)\s+kept .* - {2,}baseline,seed 0\s+/)
    } finally {
      ws.close()
    }
  })
})
