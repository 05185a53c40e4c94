// The dark theme follows the system's colour scheme (prefers-color-scheme):
// Compose, Train, Runs, Profile, Inspect and Engine on dark (dark backgrounds, light text, the
// model graph and the charts' canvases dark), then the system switched back to
// light with the page open: the page and its charts follow without a reload.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import type { MetricsLine } from '../../electron/api/runs'
import { Workspace } from '../../electron/workspace/workspace'
import { colorForDark, parseHex } from '../../renderer/src/charts/chart-theme'
import { runColor } from '../../renderer/src/runs/colors'
import { quickTrainSpec, smallModelSpec } from '../fixtures/runs'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const runIds: string[] = []

/** Whether the dark theme draws this run in another colour than the light one. */
const lifted = (id: string) => colorForDark(runColor(id)) !== runColor(id)

/** Finished runs with a loss curve each (30 steps), two of them (one in a colour dark lifts) for the Runs screen's compare chart; returns the workspace folder. */
function prepare(): string {
  const root = mkdtempSync(join(tmpdir(), 'linea-e2e-dark-'))
  const ws = Workspace.open(root)
  try {
    // a run's colour follows from its id: runs are made until one has a colour that dark lifts (about half of them are), at most 40
    for (let k = 0; k < 40 && !(runIds.length >= 2 && runIds.some(lifted)); k++) {
      const [name, scale] = [k === 0 ? 'gla' : `deltanet ${k}`, 1 - 0.01 * k]
      const run = ws.createRun({ name, modelSpec: smallModelSpec(), params: 12345, trainSpec: quickTrainSpec({ steps: 30 }) })
      for (let step = 1; step <= 30; step++) {
        const line: MetricsLine = {
          type: 'train',
          step,
          steps: 30,
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
      ws.appendMetrics(run.id, { type: 'status', status: 'completed', atMs: Date.now() })
      ws.updateRun(run.id, {
        status: 'completed',
        steps: 30,
        lastLoss: scale * 0.7,
        startedMs: run.createdMs,
        endedMs: run.createdMs + 3000,
        backend: 'cpu (asked for)',
      })
      if (runIds.length < 2) runIds.push(run.id)
      else if (lifted(run.id)) runIds[1] = run.id
    }
  } finally {
    ws.close()
  }
  return root
}

const { served, page } = useServedApp({ viewport: { width: 1400, height: 1000 }, workspace: prepare })

interface Look {
  /** Relative luminance of the page's background, its text, a panel's background and (when asked) a chart's background (null when not asked; NaN when asked and missing). */
  bg: number
  ink: number
  panel: number
  chart: number | null
}

/** In the page: the luminance of what `look` measures; a chart pixel that is transparent counts as the page behind it. */
function measure(sel: { panel: string; chart: string | null }): Look {
  const lum = (r: number, g: number, b: number) => {
    const lin = (c: number) => {
      const s = c / 255
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
    }
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
  }
  const css = (c: string) => {
    const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?/.exec(c)
    if (!m) throw new Error(`not a colour: ${c}`)
    return { l: lum(Number(m[1]), Number(m[2]), Number(m[3])), a: m[4] === undefined ? 1 : Number(m[4]) }
  }
  const root = getComputedStyle(document.documentElement)
  const bg = css(root.backgroundColor).l
  const heading = document.querySelector('h1') ?? document.body
  const ink = css(getComputedStyle(heading).color).l
  const panelEl = document.querySelector(sel.panel)
  /** The background an element shows: its own, or (where transparent) the nearest ancestor's. */
  const shown = (el: Element | null): number => {
    for (let e = el; e; e = e.parentElement) {
      const c = css(getComputedStyle(e).backgroundColor)
      if (c.a > 0) return c.l
    }
    return bg
  }
  const panel = panelEl ? shown(panelEl) : NaN // asked for and missing: fails every comparison
  let chart: number | null = null
  if (sel.chart) {
    const c = document.querySelector(`${sel.chart} canvas`) as HTMLCanvasElement | null
    chart = NaN // asked for and missing: fails every comparison
    if (c) {
      const [r, g, b, a] = c.getContext('2d')!.getImageData(2, 2, 1, 1).data
      chart = a === 0 ? bg : lum(r!, g!, b!)
    }
  }
  return { bg, ink, panel, chart }
}

async function look(p: Page, panel: string, chart: string | null = null): Promise<Look> {
  return p.evaluate(measure, { panel, chart })
}

const DARK = 0.05 // a background at most this luminous is dark (the light theme's are above 0.8)
const LIGHT = 0.6 // text at least this luminous is light (the light theme's ink is about 0.015)

function expectDark(l: Look, what: string): void {
  expect(l.bg, `${what}: page background`).toBeLessThan(DARK)
  expect(l.ink, `${what}: text`).toBeGreaterThan(LIGHT)
  expect(l.panel, `${what}: panel`).toBeLessThan(DARK)
  if (l.chart !== null) expect(l.chart, `${what}: chart background`).toBeLessThan(DARK)
}

function expectLight(l: Look, what: string): void {
  expect(l.bg, `${what}: page background`).toBeGreaterThan(0.8)
  expect(l.ink, `${what}: text`).toBeLessThan(0.05)
  expect(l.panel, `${what}: panel`).toBeGreaterThan(0.8)
  if (l.chart !== null) expect(l.chart, `${what}: chart background`).toBeGreaterThan(0.8)
}

/** Waits (up to 20 s) until the chart's corner pixel is dark (true) or not (false): the charts are re-created on a switch. */
async function chartCorner(p: Page, chart: string, dark: boolean): Promise<void> {
  await p
    .waitForFunction(
      ({ chart, dark }) => {
        const c = document.querySelector(`${chart} canvas`) as HTMLCanvasElement | null
        if (!c) return false
        const [r, g, b, a] = c.getContext('2d')!.getImageData(2, 2, 1, 1).data
        const isDark = a! > 0 && r! + g! + b! < 3 * 60
        return isDark === dark
      },
      { chart, dark },
      { timeout: 20_000 },
    )
    .catch(() => undefined) // the assertion that follows says what the chart shows
}

describe('dark theme', () => {
  it('follows a dark system setting on Compose, Train, Runs, Profile, Inspect and Engine', async () => {
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.goto(served.launchUrl)
    // the landing picks its screen (Start or Compose) once it has listed the runs
    await page.waitForFunction(() => location.hash.length > 2, undefined, { timeout: 20_000 })
    await page.click('[data-testid=nav-compose]')
    await page.waitForSelector('[data-testid=model-graph]')
    await page.selectOption('[data-testid=preset-select]', 'gated-deltanet')
    await page.waitForSelector('[data-testid=model-graph] .graph-block')
    await page.waitForSelector('[data-testid=estimate-chart] canvas')
    await chartCorner(page, '[data-testid=estimate-chart]', true)
    expectDark(await look(page, '[data-testid=model-graph]', '[data-testid=estimate-chart]'), 'compose')
    const block = await look(page, '[data-testid=model-graph] .graph-block')
    expect(block.panel, 'compose: a model graph block').toBeLessThan(DARK * 2)
    await page.screenshot({ path: join(artifactsDir(), 'dark-compose.png'), fullPage: true })

    await page.click('[data-testid=nav-train]')
    await page.waitForSelector('h1:text-is("Train")')
    expectDark(await look(page, '.card'), 'train')
    await page.screenshot({ path: join(artifactsDir(), 'dark-train.png'), fullPage: true })

    await page.click('[data-testid=nav-workspace]')
    await page.waitForSelector('h1:text-is("Runs")')
    for (const id of runIds) await page.check(`[data-testid=run-select-${id}]`)
    await page.waitForSelector('[data-testid=compare-loss-chart][data-series="4"] canvas') // two runs, raw and smoothed
    await chartCorner(page, '[data-testid=compare-loss-chart]', true)
    expectDark(await look(page, '[data-testid=runs-table]', '[data-testid=compare-loss-chart]'), 'runs')
    // a run's swatch in the table shows the colour its line has on the dark chart, lifted where dark lifts it
    expect(runIds.some(lifted)).toBe(true)
    for (const id of runIds) {
      const swatch = await page.$eval(`[data-testid=run-row-${id}] .run-swatch`, (el) => getComputedStyle(el).backgroundColor)
      expect(swatch, id).toBe(`rgb(${parseHex(colorForDark(runColor(id)))!.join(', ')})`)
    }
    await page.screenshot({ path: join(artifactsDir(), 'dark-runs.png'), fullPage: true })

    for (const [nav, title] of [
      ['profile', 'Profile'],
      ['inspect', 'Inspect'],
    ] as const) {
      await page.click(`[data-testid=nav-${nav}]`)
      await page.waitForSelector(`h1:text-is("${title}")`)
      expectDark(await look(page, '.card'), nav)
      await page.screenshot({ path: join(artifactsDir(), `dark-${nav}.png`), fullPage: true })
    }

    await page.click('[data-testid=nav-engine]')
    await page.waitForSelector('[data-testid=demo-summary]')
    await chartCorner(page, '[data-testid=demo-chart]', true)
    expectDark(await look(page, '[data-testid=engine-info]', '[data-testid=demo-chart]'), 'engine')
    await page.screenshot({ path: join(artifactsDir(), 'dark-engine.png'), fullPage: true })
  })

  it('switches back to light live, charts included, and to dark again, without a reload', async () => {
    const marker = await page.evaluate(() => ((window as unknown as { __noReload: number }).__noReload = Math.random()))
    await page.emulateMedia({ colorScheme: 'light' })
    await chartCorner(page, '[data-testid=demo-chart]', false)
    expectLight(await look(page, '[data-testid=engine-info]', '[data-testid=demo-chart]'), 'engine, light')
    await page.screenshot({ path: join(artifactsDir(), 'dark-switched-to-light-engine.png'), fullPage: true })

    await page.emulateMedia({ colorScheme: 'dark' })
    await chartCorner(page, '[data-testid=demo-chart]', true)
    expectDark(await look(page, '[data-testid=engine-info]', '[data-testid=demo-chart]'), 'engine, dark again')
    expect(await page.evaluate(() => (window as unknown as { __noReload: number }).__noReload)).toBe(marker)

    await page.click('[data-testid=nav-compose]')
    await page.waitForSelector('[data-testid=estimate-chart] canvas')
    await page.emulateMedia({ colorScheme: 'light' })
    await chartCorner(page, '[data-testid=estimate-chart]', false)
    expectLight(await look(page, '[data-testid=model-graph]', '[data-testid=estimate-chart]'), 'compose, light')
    await page.screenshot({ path: join(artifactsDir(), 'dark-switched-to-light-compose.png'), fullPage: true })
  })
})
