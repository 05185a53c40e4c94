// The Profile screen end to end, in real Chromium against `linea serve`: a
// small GLA hybrid profiled on the CPU from the screen, its panel (step,
// kernels, charts), the report opened from the app, and the report's PDF
// turned into page images (pdftoppm) that must not be blank.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const { served, page } = useServedApp()

/** Reads a binary PGM (P5, 8-bit) as written by `pdftoppm -gray`. */
function readPgm(file: string): { width: number; height: number; pixels: Uint8Array } {
  const buf = readFileSync(file)
  const header = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(buf.subarray(0, 64).toString('latin1'))
  if (!header) throw new Error(`${file} is not a binary PGM`)
  const [all, w, h] = header
  return { width: Number(w), height: Number(h), pixels: buf.subarray(all.length) }
}

async function fill(testid: string, value: string): Promise<void> {
  await page.fill(`[data-testid=${testid}]`, value)
}

describe('profile screen', () => {
  it('refuses a spec that fails validation, with the validation message', async () => {
    await page.goto(served.launchUrl)
    await page.click('[data-testid=nav-profile]')
    await page.waitForSelector('[data-testid=profile-source] option[value="preset:hybrid-gla"]', { state: 'attached' })
    await page.selectOption('[data-testid=profile-source]', 'preset:hybrid-gla')
    await fill('profile-d-model', '31') // not divisible by the preset's 2 heads
    await page.click('[data-testid=profile-start]')
    const message = await page.textContent('[data-testid=profile-error]')
    expect(message).toMatch(/d_model|head/)
    expect(await page.$$('[data-testid^=profile-row-]')).toHaveLength(0)
  })

  it('profiles a small GLA hybrid on the CPU, shows where time and memory go, and opens the report', async () => {
    await fill('profile-d-model', '64')
    await fill('profile-layers', '2')
    await fill('profile-batch', '1')
    await fill('profile-seq-len', '64')
    await fill('profile-labels', '8') // the loss on the last 8 positions, as a task with 8 queries
    await fill('profile-lengths', '64, 128, 256')
    await fill('profile-budget', '20')
    await page.click('[data-testid=profile-start]')
    const row = await page.waitForSelector('[data-testid^=profile-row-]')
    const id = (await row.getAttribute('data-testid'))!.replace('profile-row-', '')
    // progress is shown while it runs, then the finished profile opens by itself
    await page.waitForSelector(`[data-testid=profile-row-${id}][data-status=done]`, { timeout: 110_000 })
    await page.waitForSelector(`[data-testid=profile-panel-${id}]`)
    expect(await page.textContent(`[data-testid=profile-panel-${id}] p.muted`)).toContain('T 64 (8 labelled)')
    // The cell's text, less the whitespace its template lays around it (HTML does not render it)
    expect((await page.textContent('[data-testid=profile-step-ms]'))?.trim()).toMatch(/^[\d,.]+ ms \(forward [\d,.]+, backward [\d,.]+, optimizer [\d,.]+\)$/)
    const kernelRows = await page.$$eval('[data-testid=kernel-table] tbody tr', (trs) =>
      trs.map((tr) => Number(tr.children[4]!.textContent!.replace(/,/g, ''))),
    )
    expect(kernelRows.length).toBeGreaterThan(5)
    // sorted by time, largest first
    expect(kernelRows).toEqual([...kernelRows].sort((a, b) => b - a))
    const charts = await page.$$(`[data-testid=profile-panel-${id}] .chart-box canvas`)
    expect(charts.length).toBeGreaterThanOrEqual(7) // by layer, roofline, memory, four sweep charts
    await page.screenshot({ path: join(artifactsDir(), 'profile.png'), fullPage: true })

    // the report, opened from the app
    const [report] = await Promise.all([page.context().waitForEvent('page'), page.click(`[data-testid=profile-report-${id}]`)])
    await report.waitForLoadState('load')
    const html = await report.content()
    expect(html).toContain('<svg')
    expect(html).not.toMatch(/(src|href)="https?:/)
    expect(await report.textContent('body')).toContain('GLA hybrid')
    expect(await report.textContent('body')).toContain('the last 8')
    await report.screenshot({ path: join(artifactsDir(), 'profile-report.png'), fullPage: false })
    await report.close()

    // its PDF, fetched with the page's session, as page images
    const pdf = await page.request.get(new URL(`reports/${id}/report.pdf`, page.url()).href)
    expect(pdf.status()).toBe(200)
    const body = await pdf.body()
    expect(body.subarray(0, 5).toString()).toBe('%PDF-')
    const dir = artifactsDir()
    const pdfFile = join(dir, 'profile-report.pdf')
    writeFileSync(pdfFile, body)
    execFileSync('pdftoppm', ['-png', '-r', '60', pdfFile, join(dir, 'profile-report-page')])
    execFileSync('pdftoppm', ['-gray', '-r', '30', pdfFile, join(dir, 'profile-report-gray')])
    const pages = readdirSync(dir).filter((f) => f.startsWith('profile-report-gray') && f.endsWith('.pgm'))
    expect(pages.length).toBeGreaterThanOrEqual(2)
    expect(readdirSync(dir).filter((f) => f.startsWith('profile-report-page') && f.endsWith('.png'))).toHaveLength(pages.length)
    for (const f of pages) {
      const { width, height, pixels } = readPgm(join(dir, f))
      expect(pixels.length).toBe(width * height)
      const inked = pixels.reduce((n, v) => n + (v < 200 ? 1 : 0), 0) / pixels.length
      expect(inked, `${f}: share of dark pixels`).toBeGreaterThan(0.005)
    }
  })
})
