// Comparing profiles and exporting a trace, in real Chromium against `linea
// serve`: two tiny profiles started from the Profile screen while two busy
// processes compete for the CPU (as a training run would), the warning each
// then carries, their spreads, the difference table with both panels on
// shared axes, and the timed step downloaded as a trace Perfetto reads.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { useServedApp } from './app'
import { artifactsDir } from './browser'
import { traceProblems, type CheckedEvent } from '../fixtures/trace-check'

const { served, page } = useServedApp()
const burners: ChildProcess[] = []
const stopBurners = () => {
  for (const b of burners.splice(0)) b.kill('SIGKILL')
}
afterAll(stopBurners)

async function fill(testid: string, value: string): Promise<void> {
  await page.fill(`[data-testid=${testid}]`, value)
}

describe('profile comparison and trace export', () => {
  let ids: string[] = []

  it('profiles twice while the CPU is busy and warns about it, with spreads over the repeats', async () => {
    await page.goto(served.launchUrl)
    await page.click('[data-testid=nav-profile]')
    await page.waitForSelector('[data-testid=profile-source] option[value="preset:hybrid-gla"]', { state: 'attached' })
    await page.selectOption('[data-testid=profile-source]', 'preset:hybrid-gla')
    await fill('profile-d-model', '32')
    await fill('profile-layers', '2')
    await fill('profile-batch', '1')
    await fill('profile-seq-len', '32')
    await fill('profile-lengths', '32, 64')
    await fill('profile-budget', '5')
    await fill('profile-repeats', '4')
    for (let i = 0; i < 2; i++) burners.push(spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }))
    await page.click('[data-testid=profile-start]')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=profile-row-]').length === 1)
    await page.click('[data-testid=profile-start]')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=profile-row-]').length === 2)
    ids = await page.$$eval('[data-testid^=profile-row-]', (rows) => rows.map((r) => r.getAttribute('data-testid')!.replace('profile-row-', '')))
    // the busy processes compete while both measure their steps; gone for the sweeps and reports
    await page.waitForFunction(
      (ids) =>
        ids.every(
          (id) =>
            document.querySelector(`[data-testid=profile-row-${id}]`)?.getAttribute('data-status') === 'done' ||
            /sweep/.test(document.querySelector(`[data-testid=profile-progress-${id}]`)?.textContent ?? ''),
        ),
      ids,
      { timeout: 150_000 },
    )
    stopBurners()
    for (const id of ids) await page.waitForSelector(`[data-testid=profile-row-${id}][data-status=done]`, { timeout: 150_000 })
    // both finished profiles open by themselves, side by side
    for (const id of ids) await page.waitForSelector(`[data-testid=profile-panel-${id}]`)
    const warnings = await page.$$eval('[data-testid=profile-warning]', (ps) => ps.map((p) => p.textContent ?? ''))
    expect(warnings.length).toBeGreaterThanOrEqual(2)
    for (const w of warnings) expect(w).toMatch(/Other processes kept about [\d.]+ of \d+ CPU cores busy/)
    const spread = (await page.textContent('[data-testid=profile-step-spread]'))!.trim()
    expect(spread).toMatch(/^middle half [\d.,]+–[\d.,]+ ms, min–max [\d.,]+–[\d.,]+ ms over 4 repeats$/)
    // the kernel table: median, then middle half and min–max
    const cells = await page.$$eval(`[data-testid=profile-panel-${ids[0]}] [data-testid=kernel-table] tbody tr:first-child td`, (tds) =>
      tds.map((td) => td.textContent!.trim()),
    )
    expect(cells[5]).toMatch(/^[\d.,]+–[\d.,]+$/)
    expect(cells[6]).toMatch(/^[\d.,]+–[\d.,]+$/)
    expect(await page.$$(`[data-testid=profile-panel-${ids[0]}] [data-testid=profile-part-spread] canvas`)).toHaveLength(1)
  }, 300_000)

  it('compares the two on shared axes with a difference table', async () => {
    await page.waitForSelector('[data-testid=profile-diff-table]')
    for (const id of ids) expect(await page.getAttribute(`[data-testid=profile-panel-${id}]`, 'data-axes')).toBe('shared')
    const rows = () =>
      page.$$eval('[data-testid=profile-diff-table] tbody tr', (trs) =>
        trs.map((tr) => ({ level: tr.getAttribute('data-level'), cells: [...tr.children].map((td) => td.textContent!.trim()) })),
      )
    const parts = await rows()
    expect(parts.slice(0, 4).map((r) => r.cells[0])).toEqual(['step forward', 'step backward', 'step optimizer', 'step total'])
    expect(parts.filter((r) => r.level === 'part').map((r) => r.cells[0])).toContain('layers.0.mixer (forward)')
    for (const r of parts) {
      expect(r.cells[3], r.cells[0]).toMatch(/^[+-]?[\d.,]+$|^0$/)
      expect(r.cells[4]).toMatch(/^×[\d.,]+$/)
      expect(['yes', 'noise']).toContain(r.cells[5])
    }
    // the difference is b − a
    const [a, b, delta] = parts[3]!.cells.slice(1, 4).map((c) => Number(c.replace(/[,+]/g, '')))
    // each shown to 3 significant digits
    expect(Math.abs(delta! - (b! - a!))).toBeLessThanOrEqual(0.01 * Math.max(a!, b!))
    await page.selectOption('[data-testid=profile-diff-level]', 'op')
    await page.waitForSelector('[data-testid=profile-diff-table] tbody tr[data-level=op]')
    const ops = await rows()
    expect(ops.some((r) => /^mixer_(fwd|bwd) in layers\.\d\.mixer \((forward|backward)\)$/.test(r.cells[0]!))).toBe(true)
    await page.selectOption('[data-testid=profile-diff-level]', 'part')
    await page.screenshot({ path: join(artifactsDir(), 'profile-compare.png'), fullPage: true })
  })

  it('downloads the timed step as a Chrome trace that Perfetto reads', async () => {
    const id = ids[0]!
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`[data-testid=profile-trace-${id}]`)])
    expect(download.suggestedFilename()).toBe(`${id.toLowerCase()}.trace.json`)
    const file = join(artifactsDir(), 'profile.trace.json')
    await download.saveAs(file)
    const trace = JSON.parse(readFileSync(file, 'utf8')) as { traceEvents: CheckedEvent[] }
    expect(traceProblems(trace)).toEqual([])
    const ops = trace.traceEvents.filter((e) => e.args?.op !== undefined)
    expect(ops.length).toBeGreaterThan(20)
    expect(new Set(ops.map((e) => e.cat))).toEqual(new Set(['forward', 'backward', 'optimizer']))
    expect(ops.every((e) => typeof e.args!.scope === 'string')).toBe(true)
    expect(trace.traceEvents.filter((e) => e.cat === 'phase').map((e) => e.name)).toEqual(['forward', 'backward', 'optimizer'])
  })
})
