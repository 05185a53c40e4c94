// Tags edited inside the Runs table's rows (issue 17), in real Chromium
// against `linea serve`: "+ tag" opens a box where Enter adds (the run's
// run.json gains the tag), a bad or repeated tag is refused as typed with the
// reason, Escape closes the box and gives focus back; × removes a tag, from
// the keyboard too; the tag filter follows, and drops a tag no run has any
// more; a run at the tag limit offers no "+"; the LabApi's refusal is said in
// the row. The workspace is prepared with finished runs.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MAX_RUN_TAGS, RUN_TAG_RULE, type RunRecord } from '../../electron/api/runs'
import { Workspace } from '../../electron/workspace/workspace'
import { quickTrainSpec, smallModelSpec } from '../fixtures/runs'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const ids = { a: '', b: '', full: '' }

function prepare(): string {
  const root = mkdtempSync(join(tmpdir(), 'linea-e2e-runs-tags-'))
  const ws = Workspace.open(root)
  try {
    const make = (name: string, tags?: string[]) => {
      const run = ws.createRun({ name, modelSpec: smallModelSpec(), params: 1000, trainSpec: quickTrainSpec({ steps: 10 }) })
      ws.appendMetrics(run.id, { type: 'status', status: 'completed', atMs: Date.now() })
      ws.updateRun(run.id, { status: 'completed', steps: 10, lastLoss: 1, startedMs: run.createdMs, endedMs: run.createdMs + 1000, backend: 'cpu', tags })
      return run.id
    }
    ids.a = make('run a')
    ids.b = make('run b', ['shared'])
    ids.full = make(
      'run full',
      Array.from({ length: MAX_RUN_TAGS }, (_, i) => `t${i}`),
    )
  } finally {
    ws.close()
  }
  return root
}

const { served, page } = useServedApp({ viewport: { width: 1280, height: 900 }, workspace: prepare })
const runTags = (id: string) => (JSON.parse(readFileSync(join(served.workspace, 'runs', id, 'run.json'), 'utf8')) as RunRecord).tags
const rowIds = () => page.$$eval('[data-testid^=run-row-]', (trs) => trs.map((tr) => (tr.getAttribute('data-testid') ?? '').replace('run-row-', '')))
const chips = (id: string) => page.$$eval(`[data-testid=run-tags-${id}] [data-testid^=run-tag-${id}-]`, (bs) => bs.map((b) => b.textContent?.trim()))
const focusedTestId = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null)

describe('runs table: tags edited in the row', () => {
  it('adds tags with Enter, refuses bad and repeated ones with the reason', async () => {
    await page.goto(served.launchUrl)
    await page.click('[data-testid=nav-workspace]')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=run-row-]').length === 3)
    const input = `[data-testid=run-tag-input-${ids.a}]`
    await page.click(`[data-testid=run-tag-add-${ids.a}]`)
    await page.waitForSelector(input)
    expect(await focusedTestId()).toBe(`run-tag-input-${ids.a}`)

    await page.keyboard.type('  baseline ')
    await page.keyboard.press('Enter')
    await page.waitForSelector(`[data-testid=run-tag-${ids.a}-0]:has-text("baseline")`)
    expect(runTags(ids.a)).toEqual(['baseline'])
    // the box stays open, emptied, for the next tag
    expect(await page.inputValue(input)).toBe('')
    await page.keyboard.type('shared')
    await page.keyboard.press('Enter')
    await page.waitForSelector(`[data-testid=run-tag-${ids.a}-1]:has-text("shared")`)
    expect(runTags(ids.a)).toEqual(['baseline', 'shared'])

    // refused as typed, naming the value and the rule; nothing written
    await page.fill(input, 'x'.repeat(33))
    await page.press(input, 'Enter')
    expect(await page.textContent(`[data-testid=run-tag-error-${ids.a}]`)).toBe(`"${'x'.repeat(33)}" ${RUN_TAG_RULE}`)
    expect(await page.getAttribute(input, 'aria-invalid')).toBe('true')
    await page.fill(input, 'tab\there')
    await page.press(input, 'Enter')
    expect(await page.textContent(`[data-testid=run-tag-error-${ids.a}]`)).toBe(`"tab\\there" ${RUN_TAG_RULE}`)
    await page.fill(input, 'baseline')
    expect(await page.$(`[data-testid=run-tag-error-${ids.a}]`)).toBeNull() // typing clears the message
    await page.press(input, 'Enter')
    expect(await page.textContent(`[data-testid=run-tag-error-${ids.a}]`)).toBe('the run is already tagged "baseline"')
    expect(runTags(ids.a)).toEqual(['baseline', 'shared'])
    await page.screenshot({ path: join(artifactsDir(), 'runs-tags-error.png'), fullPage: true })

    // Escape closes the box and gives the focus back to "+ tag"
    await page.press(input, 'Escape')
    await page.waitForSelector(input, { state: 'detached' })
    expect(await focusedTestId()).toBe(`run-tag-add-${ids.a}`)
    expect(await page.$(`[data-testid=run-tag-error-${ids.a}]`)).toBeNull()
  })

  it('filters by a tag, and removes tags with × (from the keyboard too)', async () => {
    await page.selectOption('[data-testid=runs-tag-filter]', 'shared')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=run-row-]').length === 2)
    expect((await rowIds()).sort()).toEqual([ids.a, ids.b].sort())
    await page.screenshot({ path: join(artifactsDir(), 'runs-tags-filtered.png'), fullPage: true })

    // × on run b's only tag, by keyboard: focus it and press Enter
    await page.focus(`[data-testid=run-tag-remove-${ids.b}-0]`)
    await page.keyboard.press('Enter')
    await page.waitForSelector(`[data-testid=run-row-${ids.b}]`, { state: 'detached' })
    expect(runTags(ids.b)).toBeUndefined()
    // run a still has "shared": the filter stays
    expect(await page.inputValue('[data-testid=runs-tag-filter]')).toBe('shared')
    expect(await rowIds()).toEqual([ids.a])

    // the last run with it loses it: the filter goes back to "any" rather than show nothing
    await page.click(`[data-testid=run-tag-remove-${ids.a}-1]`)
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=run-row-]').length === 3)
    expect(await page.inputValue('[data-testid=runs-tag-filter]')).toBe('')
    expect(runTags(ids.a)).toEqual(['baseline'])
    expect(await chips(ids.a)).toEqual(['baseline'])
    expect(await page.$$eval('[data-testid=runs-tag-filter] option', (os) => os.map((o) => o.getAttribute('value')))).not.toContain('shared')
  })

  it('offers no "+" on a run at the tag limit, and says why', async () => {
    const add = `[data-testid=run-tag-add-${ids.full}]`
    expect(await page.isDisabled(add)).toBe(true)
    expect(await page.getAttribute(add, 'title')).toBe(`at most ${MAX_RUN_TAGS} tags; remove one first`)
    await page.click(`[data-testid=run-tag-remove-${ids.full}-0]`)
    await page.waitForFunction((sel) => !(document.querySelector(sel) as HTMLButtonElement | null)?.disabled, add)
    expect(runTags(ids.full)).toHaveLength(MAX_RUN_TAGS - 1)
    await page.screenshot({ path: join(artifactsDir(), 'runs-tags.png'), fullPage: true })
  })

  it('says in the row why the LabApi refused a tag (the run gone from disk), and nowhere else', async () => {
    rmSync(join(served.workspace, 'runs', ids.b), { recursive: true, force: true })
    await page.click(`[data-testid=run-tag-add-${ids.b}]`)
    await page.fill(`[data-testid=run-tag-input-${ids.b}]`, 'late')
    await page.press(`[data-testid=run-tag-input-${ids.b}]`, 'Enter')
    await page.waitForSelector(`[data-testid=run-tag-error-${ids.b}]`)
    const said = (await page.textContent(`[data-testid=run-tag-error-${ids.b}]`)) ?? ''
    expect(said).toContain(ids.b)
    expect(said).not.toMatch(/TypeError|undefined|ENOENT/)
    expect(await page.$('[data-testid=runs-error]')).toBeNull()
    // the typed tag is kept for another try
    expect(await page.inputValue(`[data-testid=run-tag-input-${ids.b}]`)).toBe('late')
    await page.screenshot({ path: join(artifactsDir(), 'runs-tags-refused.png'), fullPage: true })
  })
})
