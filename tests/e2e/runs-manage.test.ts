// The Runs screen's run management end to end (issue 17), in real Chromium
// against `linea serve` at 1280 × 900: tags added on a run's own page
// (#/runs/<id>, linked from its row) and the table filtered by one; the
// compared runs kept in the URL across a reload; a run archived (hidden, its
// folder kept, shown on request) and one deleted after a confirm (its folder
// gone); a running run refused with its name and status; and the screen
// fitting the window with no sideways scrolling; and, after a workspace
// switch, the Train form on the new workspace's model. The workspace is prepared
// with finished runs (records and metrics written as the runner writes them).
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { MetricsLine, RunRecord } from '../../electron/api/runs'
import { Workspace } from '../../electron/workspace/workspace'
import { quickTrainSpec, smallModelSpec } from '../fixtures/runs'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const WIDTH = 1280
const ids: Record<'base' | 'delta' | 'old', string> = { base: '', delta: '', old: '' }

/** Three finished runs with a loss curve each (40 steps); returns the workspace folder. */
function prepare(): string {
  const root = mkdtempSync(join(tmpdir(), 'linea-e2e-runs-manage-'))
  const ws = Workspace.open(root)
  try {
    const make = (name: string, status: RunRecord['status'], scale: number) => {
      const run = ws.createRun({ name, modelSpec: smallModelSpec(), params: 12345, trainSpec: quickTrainSpec({ steps: 40 }) })
      for (let step = 1; step <= 40; step++) {
        const line: MetricsLine = {
          type: 'train',
          step,
          steps: 40,
          loss: scale * (4 / Math.sqrt(step)),
          lr: 1e-3,
          gradNorm: 1,
          tokensPerSecond: 1000,
          elapsedSeconds: step / 10,
          memoryBytes: 1e6,
          peakMemoryBytes: 2e6,
        }
        ws.appendMetrics(run.id, line)
      }
      ws.appendMetrics(run.id, { type: 'status', status, atMs: Date.now() })
      ws.updateRun(run.id, { status, steps: 40, lastLoss: scale * 0.6, startedMs: run.createdMs, endedMs: run.createdMs + 4000, backend: 'cpu (asked for)' })
      return run.id
    }
    ids.base = make('baseline gla with a fairly long name', 'completed', 1)
    ids.delta = make('delta variant', 'completed', 0.8)
    ids.old = make('old attempt', 'failed', 1.3)
  } finally {
    ws.close()
  }
  return root
}

const { served, page } = useServedApp({ viewport: { width: WIDTH, height: 900 }, workspace: prepare })

const rowIds = () => page.$$eval('[data-testid^=run-row-]', (trs) => trs.map((tr) => (tr.getAttribute('data-testid') ?? '').replace('run-row-', '')))
const runJson = (id: string) => JSON.parse(readFileSync(join(served.workspace, 'runs', id, 'run.json'), 'utf8')) as RunRecord
const series = (testid: string) => page.$eval(`[data-testid=${testid}]`, (el) => Number(el.getAttribute('data-series')))

/** Nothing on the screen scrolls sideways: the page, the content pane, every scroll box. */
async function sidewaysOverflow(): Promise<string[]> {
  return page.$$eval('html, .content, .table-scroll, .card', (els) =>
    els.filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => `${el.className || el.tagName}: ${el.scrollWidth} > ${el.clientWidth}`),
  )
}

describe('runs: tags, run pages, kept selections, archive and delete', () => {
  it('tags a run on its own page and filters the table by the tag', async () => {
    await page.goto(served.launchUrl)
    await page.click('[data-testid=nav-workspace]')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=run-row-]').length === 3)
    // the row links to the run's page: its record and its charts
    await page.click(`[data-testid=run-open-${ids.base}]`)
    await page.waitForSelector(`[data-testid=run-page][data-run-id="${ids.base}"]`)
    expect(new URL(page.url()).hash).toBe(`#/runs/${ids.base}`)
    expect(await page.getAttribute('[data-testid=nav-workspace]', 'class')).toContain('router-link-active')
    expect(await page.textContent('[data-testid=run-page-title]')).toBe('baseline gla with a fairly long name')
    expect(await page.textContent('[data-testid=run-page-id]')).toBe(ids.base)
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=run-page-loss-chart]')?.getAttribute('data-points')) === 80)
    expect(await page.textContent('[data-testid=run-page-progress-text]')).toContain('step 40 / 40')

    // a tag that is not one is refused as typed, naming it and the rule; nothing is written
    await page.fill('[data-testid=run-page-tag-input]', 'x'.repeat(33))
    await page.click('[data-testid=run-page-tag-add]')
    expect(await page.textContent('[data-testid=run-page-tag-error]')).toBe(
      `"${'x'.repeat(33)}" is not a valid tag: 1 to 32 characters, no control characters, no space at either end`,
    )
    expect(runJson(ids.base).tags).toBeUndefined()
    for (const tag of ['baseline', 'to remove']) {
      await page.fill('[data-testid=run-page-tag-input]', `  ${tag} `)
      await page.press('[data-testid=run-page-tag-input]', 'Enter')
      await page.waitForSelector(`[data-testid=run-page-tags] .chip:has-text("${tag}")`)
    }
    expect(runJson(ids.base).tags).toEqual(['baseline', 'to remove'])
    await page.click('[data-testid=run-page-tag-remove-1]')
    await page.waitForSelector('[data-testid=run-page-tags] .chip:has-text("to remove")', { state: 'detached' })
    expect(runJson(ids.base).tags).toEqual(['baseline'])
    await page.screenshot({ path: join(artifactsDir(), 'run-page.png'), fullPage: true })

    // back in the table: the tag is on the row; filtering by it leaves that run
    await page.click('[data-testid=run-page-back]')
    await page.waitForSelector(`[data-testid=run-tag-${ids.base}-0]`)
    await page.selectOption('[data-testid=runs-tag-filter]', 'baseline')
    expect(await rowIds()).toEqual([ids.base])
    await page.selectOption('[data-testid=runs-tag-filter]', '')
    expect(await rowIds()).toHaveLength(3)
    // clicking a row's tag filters by it too, and again clears it
    await page.click(`[data-testid=run-tag-${ids.base}-0]`)
    expect(await rowIds()).toEqual([ids.base])
    await page.click(`[data-testid=run-tag-${ids.base}-0]`)
    expect(await rowIds()).toHaveLength(3)
  })

  it('keeps the compared runs in the URL across a reload', async () => {
    await page.check(`[data-testid=run-select-${ids.base}]`)
    await page.check(`[data-testid=run-select-${ids.delta}]`)
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=compare-loss-chart]')?.getAttribute('data-series')) === 4)
    await page.waitForFunction((want) => decodeURIComponent(location.hash).includes(want), `compare=${ids.base},${ids.delta}`)
    await page.reload()
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=compare-loss-chart]')?.getAttribute('data-series')) === 4)
    expect(await page.isChecked(`[data-testid=run-select-${ids.base}]`)).toBe(true)
    expect(await page.isChecked(`[data-testid=run-select-${ids.delta}]`)).toBe(true)
    expect(await page.isChecked(`[data-testid=run-select-${ids.old}]`)).toBe(false)
    expect(await page.textContent('[data-testid=runs-selected-count]')).toBe('2 selected')
    // a run's page and back: the selection is still there, and still in the URL
    await page.click(`[data-testid=run-open-${ids.delta}]`)
    await page.waitForSelector(`[data-testid=run-page][data-run-id="${ids.delta}"]`)
    await page.click('[data-testid=nav-workspace]')
    await page.waitForFunction((want) => decodeURIComponent(location.hash).includes(want), `compare=${ids.base},${ids.delta}`)
    expect(await series('compare-loss-chart')).toBe(4)
  })

  it('fits a 1280 px window without sideways scrolling', async () => {
    await page.waitForSelector('[data-testid=runs-table]')
    expect(page.viewportSize()?.width).toBe(WIDTH)
    expect(await sidewaysOverflow()).toEqual([])
    await page.screenshot({ path: join(artifactsDir(), 'runs-1280.png'), fullPage: true })
  })

  it('archives a run (hidden, its folder kept) and deletes one after a confirm (its folder gone)', async () => {
    await page.click(`[data-testid=run-archive-${ids.old}]`)
    await page.waitForSelector(`[data-testid=run-row-${ids.old}]`, { state: 'detached' })
    expect(await page.textContent('[data-testid=runs-count]')).toBe('2 of 3')
    expect(runJson(ids.old).archived).toBe(true)
    await page.check('[data-testid=runs-show-archived]')
    await page.waitForSelector(`[data-testid=run-row-${ids.old}][data-archived=true]`)
    expect(await page.textContent(`[data-testid=run-archive-${ids.old}]`)).toContain('unarchive')
    await page.uncheck('[data-testid=runs-show-archived]')

    // delete asks first: keeping it changes nothing
    await page.click(`[data-testid=run-delete-${ids.delta}]`)
    expect(await page.textContent('[data-testid=runs-delete-confirm]')).toContain(ids.delta)
    await page.click('[data-testid=runs-delete-no]')
    await page.waitForSelector('[data-testid=runs-delete-confirm]', { state: 'detached' })
    expect(existsSync(join(served.workspace, 'runs', ids.delta))).toBe(true)
    await page.click(`[data-testid=run-delete-${ids.delta}]`)
    await page.click('[data-testid=runs-delete-yes]')
    await page.waitForSelector(`[data-testid=run-row-${ids.delta}]`, { state: 'detached' })
    expect(existsSync(join(served.workspace, 'runs', ids.delta))).toBe(false)
    // it leaves the comparison and the URL
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=compare-loss-chart]')?.getAttribute('data-series')) === 2)
    await page.waitForFunction((gone) => !decodeURIComponent(location.hash).includes(gone), ids.delta)
    expect((await served.call('listRuns', {})).runs.map((r) => r.id).sort()).toEqual([ids.base, ids.old].sort())

    // from a run's own page (the archived one, by its URL): asks, deletes, and goes back to the table
    await page.goto(`${served.url}#/runs/${ids.old}`)
    await page.waitForSelector('[data-testid=run-page-archived]')
    await page.click('[data-testid=run-page-delete]')
    expect(await page.textContent('[data-testid=run-page-delete-confirm]')).toContain(ids.old)
    await page.click('[data-testid=run-page-delete-yes]')
    await page.waitForFunction(() => location.hash.startsWith('#/workspace'))
    expect(existsSync(join(served.workspace, 'runs', ids.old))).toBe(false)
    // a page for a run the workspace does not have says so
    await page.goto(`${served.url}#/runs/${ids.old}`)
    expect(await page.textContent('[data-testid=run-page-missing]')).toContain(`No run ${ids.old} in this workspace`)
    await page.click('[data-testid=nav-workspace]')
  })

  it('refuses to delete a running run, naming it and its status; cancelled, it deletes', async () => {
    const long = await served.call('startRun', { name: 'long run', modelSpec: smallModelSpec(), trainSpec: quickTrainSpec({ steps: 100_000 }) })
    await page.waitForSelector(`[data-testid=run-row-${long.id}]:is([data-status=running], [data-status=queued])`)
    const status = await page.getAttribute(`[data-testid=run-row-${long.id}]`, 'data-status')
    await page.click(`[data-testid=run-delete-${long.id}]`)
    expect(await page.textContent('[data-testid=runs-error]')).toMatch(
      new RegExp(`run 'long run' \\(${long.id}\\) is (running|queued); cancel it first, then delete it`),
    )
    expect(status === 'running' || status === 'queued').toBe(true)
    expect(await page.$('[data-testid=runs-delete-confirm]')).toBeNull()
    // the LabApi itself refuses it too (the table only says so first)
    await expect(served.call('deleteRun', { id: long.id })).rejects.toThrow(`run ${long.id} ('long run') is `)
    expect(existsSync(join(served.workspace, 'runs', long.id, 'run.json'))).toBe(true)

    await served.call('cancelRun', { id: long.id, force: true })
    await page.waitForSelector(`[data-testid=run-row-${long.id}][data-status=cancelled]`, { timeout: 30_000 })
    await page.click(`[data-testid=run-delete-${long.id}]`)
    await page.click('[data-testid=runs-delete-yes]')
    await page.waitForSelector(`[data-testid=run-row-${long.id}]`, { state: 'detached' })
    expect(existsSync(join(served.workspace, 'runs', long.id))).toBe(false)
  })

  it("after a workspace switch, Train never keeps (or trains) the last workspace's saved model", async () => {
    await served.call('saveModelSpec', { name: 'only in first', spec: { ...smallModelSpec(), name: 'only in first' } })
    await page.goto(served.launchUrl)
    await page.click('[data-testid=nav-train]')
    await page.waitForSelector('[data-testid=train-model-summary]')
    await page.focus('[data-testid=train-model]') // the form lists the saved specs again on focus
    await page.waitForSelector('[data-testid=train-model] option[value="saved:only in first"]', { state: 'attached' })
    await page.selectOption('[data-testid=train-model]', 'saved:only in first')
    await page.waitForSelector('[data-testid=train-model-summary]:has-text("d_model 32")')

    const second = mkdtempSync(join(tmpdir(), 'linea-e2e-second-ws-'))
    await page.click('[data-testid=nav-workspace]')
    await page.fill('[data-testid=workspace-open-path]', second)
    await page.click('[data-testid=workspace-open]')
    await page.waitForSelector(`[data-testid=workspace-path]:has-text("${second}")`)
    await page.click('[data-testid=nav-train]')
    // the second workspace has no saved spec: the form shows the GLA preset, by name, not a blank choice
    await page.waitForFunction(() => (document.querySelector('[data-testid=train-model]') as HTMLSelectElement | null)?.value === 'preset:gla')
    expect(await page.$('[data-testid=train-model] option[value="saved:only in first"]')).toBeNull()
    expect(await page.textContent('[data-testid=train-model-summary]')).toContain('d_model 128')
    await page.selectOption('[data-testid=train-backend]', 'cpu')
    await page.fill('[data-testid=train-run-name]', 'after the switch')
    await page.click('[data-testid=train-start]')
    await page.waitForSelector('[data-testid=live-run-name]:text("after the switch")')
    const [run] = (await served.call('listRuns', {})).runs
    expect([run?.name, run?.modelSpec.d_model, run?.specName]).toEqual(['after the switch', 128, undefined])
    await served.call('cancelRun', { id: run!.id, force: true })
  })
})
