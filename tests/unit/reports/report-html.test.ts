// The one-click report from a recorded profile (tests/fixtures/profile-gla-hybrid.json,
// made by the real profiler): every chart and figure is there, inline, with no URL.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ProfileResult } from '../../../electron/api/profile'
import { ceilingUse } from '../../../electron/api/profile-summary'
import { buildReportHtml } from '../../../electron/reports/report-html'

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
