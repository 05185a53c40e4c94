// The one-click report from a recorded profile (tests/fixtures/profile-gla-hybrid.json,
// made by the real profiler): every chart and figure is there, inline, with no URL.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ProfileResult } from '../../../electron/api/profile'
import { ceilingUse } from '../../../electron/api/profile-summary'
import { buildReportHtml } from '../../../electron/reports/report-html'
import { overlappingTexts, svgTextBoxes } from '../../fixtures/svg-text'

const profile = JSON.parse(readFileSync(join(__dirname, '../../fixtures/profile-gla-hybrid.json'), 'utf8')) as ProfileResult
const html = buildReportHtml(profile)

describe('profiling report', () => {
  it('is one self-contained document: no scripts, no links, no URLs', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(html).not.toMatch(/https?:\/\//)
    expect(html).not.toMatch(/<script|<link|<img|@import|url\((?!#)/i) // url(#id): clip paths inside the SVG
  })

  it('inlines every chart as SVG', () => {
    const svgs = html.match(/<svg/g) ?? []
    const diagrams = new Set(profile.spec.layers.map((l) => JSON.stringify(l))).size
    // time by layer, roofline, memory, four sweep charts, plus the layer diagrams
    expect(svgs.length).toBe(7 + Math.min(diagrams, 3))
    for (const title of [
      'Time per step, by model part and op',
      'Roofline',
      'Memory by category',
      'Training step (batch 1)',
      'Prefill (forward)',
      'Decoding, per token',
      'Peak memory of a training step',
    ])
      expect(html, title).toContain(title)
  })

  it('states the machine, the versions, the spec and the settings', () => {
    const m = profile.machine
    for (const text of [m.cpu, m.blas, m.engineVersion, m.node, profile.spec.name, `batch ${profile.settings.batchSize} × T ${profile.settings.seqLen}`])
      expect(html).toContain(text.replace(/&/g, '&amp;'))
    expect((html.match(/<tr><td>\d+<\/td><td>(linear mixer|softmax attention)/g) ?? []).length).toBe(profile.spec.layers.length)
  })

  it('gives every kernel row with its share of the ceiling, and every sweep point', () => {
    for (const o of profile.ops.slice(0, 20)) expect(html).toContain(`<td>${o.op}</td>`)
    const rows = html.match(/<td>(compute|memory), [\d.]+%<\/td>/g) ?? []
    expect(rows.length).toBe(profile.ops.length)
    for (const s of [profile.sweep.model, profile.sweep.transformer]) for (const p of s.points) expect(html).toContain(`<tr><td>${p.seqLen}</td>`)
  })

  it('places an op under the ceiling its intensity meets', () => {
    const p = { ...profile, ceilings: { ...profile.ceilings, flopsPerSecond: 100e9, bandwidthBytesPerSecond: 10e9 } }
    // 1 FLOP/byte: memory-bound (10 GFLOP/s roof); 100 FLOP/byte: compute-bound
    expect(ceilingUse({ flops: 1e9, bytes: 1e9, ms: 1000 }, p)).toEqual({ bound: 'memory', fraction: 0.1 })
    expect(ceilingUse({ flops: 100e9, bytes: 1e9, ms: 2000 }, p)).toEqual({ bound: 'compute', fraction: 0.5 })
  })
})

describe('profiling report with spreads (a profile written by the current profiler)', () => {
  const spread = JSON.parse(readFileSync(join(__dirname, '../../fixtures/profile-gla-hybrid-spread.json'), 'utf8')) as ProfileResult
  const warned: ProfileResult = { ...spread, warnings: ['Other processes kept about 1.9 of 2 CPU cores busy while this profile measured'] }
  const page = buildReportHtml(warned)
  const svgs = page.match(/<svg[\s\S]*?<\/svg>/g) ?? []

  it('gives the spread over the repeats: the step, each model part (a box chart and a table), each kernel, the ceilings', () => {
    const s = spread.step.spread!.totalMs
    expect(page).toContain(`Spread over the ${spread.settings.repeats} repeats (ms)`)
    expect(page).toMatch(new RegExp(`<tr><td>step</td><td>${Number(s.min.toPrecision(3))}</td>`))
    expect(page).toContain('Time per model part over 5 repeats (box: middle half, whiskers: min–max)')
    expect((page.match(/<table class="parts">[\s\S]*?<\/table>/)![0].match(/<tr>/g) ?? []).length).toBe(spread.parts!.length + 1)
    const o = spread.ops[0]!
    const n = (x: number) => Number(x.toPrecision(3)).toLocaleString('en-US')
    expect(page).toContain(`<td>${n(o.ms)}</td><td>${n(o.spread!.q1)}–${n(o.spread!.q3)}</td><td>${n(o.spread!.min)}–${n(o.spread!.max)}</td>`)
    const c = spread.ceilings.spread!
    expect(page).toContain(`<td>${c.flopsPerSecond.n}</td>`)
    expect(page).toMatch(/median of \d+; each after a warm-up call, repeated for at least/)
    expect(svgs.length).toBe(8 + Math.min(new Set(spread.spec.layers.map((l) => JSON.stringify(l))).size, 3))
  })

  it('shows a warning the profile carries first, and none when it carries none', () => {
    expect(page.indexOf('data-warning')).toBeGreaterThan(0)
    expect(page.indexOf('data-warning')).toBeLessThan(page.indexOf('<h2>In short</h2>'))
    expect(page).toContain('Other processes kept about 1.9 of 2 CPU cores busy')
    expect(buildReportHtml({ ...spread, warnings: [] })).not.toContain('data-warning')
    // a malformed field from a hostile profile.json is left out, not a crash
    expect(() => buildReportHtml({ ...spread, warnings: 'x', ceilings: { ...spread.ceilings, spread: {} } } as unknown as ProfileResult)).not.toThrow()
  })

  it('prints without paged legends, overlapping labels or unreadable log ticks', () => {
    for (const svg of svgs) {
      // a scroll legend draws page arrows and "1/2"
      expect(svg).not.toMatch(/>\d+\/\d+<\/text>/)
      expect(overlappingTexts(svgTextBoxes(svg)), svg.slice(0, 200)).toEqual([])
    }
    const ticks = svgs.flatMap((svg) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!))
    for (const t of ['1 ms', '10 ms', '1 MiB', '8 MiB', '10 GFLOP/s', '100 GFLOP/s', '256 KiB']) expect(ticks, t).toContain(t)
    // no raw exponents or long decimals on an axis
    expect(ticks.filter((t) => /e[+-]?\d|\d\.\d{4,}/.test(t))).toEqual([])
  })
})
