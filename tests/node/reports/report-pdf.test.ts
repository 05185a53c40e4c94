// The report printed to PDF by real headless Chromium (reports/pdf.ts), read
// back as text (pdftotext): the spread tables and the warning are there, log
// axes carry ticks like 1 ms and 256 KiB, and no legend is paged ("1/2").
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ProfileResult } from '../../../electron/api/profile'
import { renderPdf } from '../../../electron/reports/pdf'
import { buildReportHtml } from '../../../electron/reports/report-html'
import { tempDir } from '../../fixtures/temp'

const profile = JSON.parse(readFileSync(join(__dirname, '../../fixtures/profile-gla-hybrid-spread.json'), 'utf8')) as ProfileResult

describe('the report as PDF', () => {
  it('prints the spreads, the warning and readable log ticks, with no paged legend', async () => {
    const file = join(tempDir('linea-report-pdf-'), 'report.pdf')
    await renderPdf(buildReportHtml({ ...profile, warnings: ['Other processes kept about 1.2 of 2 CPU cores busy while this profile measured'] }), file)
    const text = execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' })
    expect(text).toContain('Other processes kept about 1.2 of 2 CPU cores busy')
    expect(text).toMatch(/Spread over the 5 repeats \(ms\)/)
    expect(text).toContain('Time per model part over 5 repeats')
    for (const tick of ['1 ms', '10 ms', '256 KiB', '1 MiB', '10 GFLOP/s']) expect(text, tick).toContain(tick)
    expect(text).not.toMatch(/(^|\s)\d+\/\d+(\s|$)/m) // a scroll legend's page counter
    expect(text).not.toMatch(/\de[+-]\d/) // no exponent ticks
  }, 60_000)
})
