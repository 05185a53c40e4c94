// The Inspect screen's heatmaps on both themes, in real Chromium against
// `linea serve`: the recall grid, the state S_t and the attention maps of
// two cached inspections (the test fixtures of an MQAR hybrid and a DeltaNet
// parity run, whose delta-rule maps are signed), read back from the canvas:
// on light each heatmap draws its scale's light colours, on dark the dark
// ones (and never the light scale's washed-out zero), the diverging scale's
// zero a neutral grey apart from the background. Screenshots of each.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { InspectResult } from '../../electron/api/inspect'
import { writeInspection } from '../../electron/workspace/inspections'
import { Workspace } from '../../electron/workspace/workspace'
import { contrastRatio, DARK_CHART_BG, HEATMAP_SCALES, parseHex } from '../../renderer/src/charts/chart-theme'
import { quickTrainSpec } from '../fixtures/runs'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', name), 'utf8')) as InspectResult
const cached = { mqar: { id: '', name: '' }, parity: { id: '', name: '' } }

/** Two runs with a checkpoint each and a cached inspection (the fixtures, as their runs). */
function prepare(): string {
  const root = mkdtempSync(join(tmpdir(), 'linea-e2e-inspect-dark-'))
  const ws = Workspace.open(root)
  try {
    for (const [key, file] of [
      ['mqar', 'inspect-hybrid-gla-mqar.json'],
      ['parity', 'inspect-deltanet-negative-eigen-parity.json'],
    ] as const) {
      const result = fixture(file)
      const run = ws.createRun({ name: result.runName, modelSpec: result.modelSpec, params: 1000, trainSpec: quickTrainSpec({ steps: 10 }) })
      const runDir = join(root, 'runs', run.id)
      mkdirSync(join(runDir, 'checkpoints'), { recursive: true })
      writeFileSync(join(runDir, result.checkpoint), '') // listed, never read: the inspection is cached
      ws.updateRun(run.id, { status: 'completed', steps: 10, checkpoint: result.checkpoint, startedMs: run.createdMs, endedMs: run.createdMs + 1000 })
      writeInspection(runDir, { ...result, runId: run.id })
      cached[key] = { id: run.id, name: result.name }
    }
  } finally {
    ws.close()
  }
  return root
}

const { served, page } = useServedApp({ viewport: { width: 1400, height: 1000 }, workspace: prepare })

/** How many pixels of the chart's canvases (ECharts may draw layers on several) are within `tol` (per channel) of `hex`. */
function pixelsNear(chart: string, hex: string, tol = 6): Promise<number> {
  return page.evaluate(
    ({ chart, rgb, tol }) => {
      const canvases = [...document.querySelectorAll(`${chart} canvas`)] as HTMLCanvasElement[]
      if (!canvases.length) return -1
      let n = 0
      for (const c of canvases) {
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data
        for (let i = 0; i < d.length; i += 4)
          if (d[i + 3]! > 250 && Math.abs(d[i]! - rgb[0]) <= tol && Math.abs(d[i + 1]! - rgb[1]) <= tol && Math.abs(d[i + 2]! - rgb[2]) <= tol) n++
      }
      return n
    },
    { chart, rgb: parseHex(hex)!, tol },
  )
}

/**
 * Waits until the chart draws `want` and none of `not` (the charts are
 * re-created one by one when the theme changes), then checks both, so a
 * wrong chart fails saying what it drew.
 */
async function draws(chart: string, want: { hex: string; tol: number }, not: { hex: string; tol: number }, what: string): Promise<void> {
  const count = (hex: string, tol: number) => pixelsNear(chart, hex, tol)
  const deadline = Date.now() + 20_000
  // polled on the page's own animation frames: each poll reads the canvases once
  while (Date.now() < deadline) {
    if ((await count(want.hex, want.tol)) > 0 && (await count(not.hex, not.tol)) === 0) break
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))))
  }
  expect(await count(want.hex, want.tol), `${what}: pixels of ${want.hex}`).toBeGreaterThan(0)
  expect(await count(not.hex, not.tol), `${what}: pixels of ${not.hex}`).toBe(0)
}

async function open(which: 'mqar' | 'parity'): Promise<void> {
  await page.goto(`${served.url}#/inspect?run=${cached[which].id}`)
  await page.click(`[data-testid=inspection-open-${cached[which].name}]`)
  await page.waitForSelector(`[data-testid=inspect-result][data-run="${cached[which].id}"]`)
}

const STATE = '[data-testid=state-heatmap-chart]'
const RECALL = '[data-testid=recall-distance-chart]'
const ATTENTION = '[data-testid^=attention-main-map-]'
const { accuracy, diverging, weight } = HEATMAP_SCALES

describe('inspect heatmaps on light and dark', () => {
  it('the dark scales keep every stop apart from the dark background, and zero apart from both signs', () => {
    // (the pixel checks below rely on these colours being told apart)
    expect(contrastRatio(diverging.dark[1], DARK_CHART_BG)).toBeGreaterThan(2)
    expect(contrastRatio(weight.dark[0], DARK_CHART_BG)).toBeGreaterThan(1.4)
  })

  it('draws the light scales on light', async () => {
    await page.emulateMedia({ colorScheme: 'light' })
    await page.goto(served.launchUrl)
    await open('mqar')
    await draws(RECALL, { hex: accuracy.light[1], tol: 6 }, { hex: accuracy.dark[1], tol: 6 }, 'recall, light')
    await page.screenshot({ path: join(artifactsDir(), 'inspect-light-recall.png'), fullPage: true })
    await page.click('[data-testid=inspect-tab-state]')
    await draws(STATE, { hex: diverging.light[1], tol: 6 }, { hex: diverging.dark[1], tol: 6 }, 'state, light: the zero of its scale bar')
    await page.screenshot({ path: join(artifactsDir(), 'inspect-light-state.png'), fullPage: true })
    await page.click('[data-testid=inspect-tab-attention]')
    await draws(ATTENTION, { hex: weight.light[0], tol: 10 }, { hex: weight.dark[0], tol: 10 }, 'attention weights, light: near-zero cells')
    await page.screenshot({ path: join(artifactsDir(), 'inspect-light-attention.png'), fullPage: true })
  })

  it('switches every heatmap to the dark scales on dark, the light ones gone', async () => {
    await page.emulateMedia({ colorScheme: 'dark' })
    await draws(ATTENTION, { hex: weight.dark[0], tol: 10 }, { hex: weight.light[0], tol: 10 }, 'attention weights, dark: near-zero cells')
    await page.screenshot({ path: join(artifactsDir(), 'inspect-dark-attention.png'), fullPage: true })
    await page.click('[data-testid=inspect-tab-state]')
    // (tolerance 4 for the light grey: the dark theme's text is near it)
    await draws(STATE, { hex: diverging.dark[1], tol: 6 }, { hex: diverging.light[1], tol: 4 }, 'state, dark: the zero of its scale bar')
    await page.screenshot({ path: join(artifactsDir(), 'inspect-dark-state.png'), fullPage: true })
    await page.click('[data-testid=inspect-tab-recall]')
    await draws(RECALL, { hex: accuracy.dark[1], tol: 6 }, { hex: accuracy.light[1], tol: 6 }, 'recall, dark')
    await page.screenshot({ path: join(artifactsDir(), 'inspect-dark-recall.png'), fullPage: true })
  })

  it('draws signed (delta rule) attention maps on the diverging scale, zero grey, on both themes', async () => {
    await open('parity')
    await page.click('[data-testid=inspect-tab-attention]')
    await draws(ATTENTION, { hex: diverging.dark[1], tol: 10 }, { hex: diverging.light[1], tol: 4 }, 'signed attention, dark: near-zero cells')
    await page.screenshot({ path: join(artifactsDir(), 'inspect-dark-attention-signed.png'), fullPage: true })
    await page.emulateMedia({ colorScheme: 'light' })
    await draws(ATTENTION, { hex: diverging.light[1], tol: 10 }, { hex: diverging.dark[1], tol: 10 }, 'signed attention, light: near-zero cells')
    await page.screenshot({ path: join(artifactsDir(), 'inspect-light-attention-signed.png'), fullPage: true })
  })
})
