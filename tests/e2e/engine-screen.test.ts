// The foundation end to end: `linea serve`, real Chromium, the Engine screen
// showing the CPU backend and a chart drawn from a real call into the addon.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { artifactsDir, launchChromium } from './browser'
import { serveBuiltApp, type Served } from './serve'

let served: Served
let browser: Browser
let page: Page

beforeAll(async () => {
  served = await serveBuiltApp()
  browser = await launchChromium()
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
})
afterAll(async () => {
  await browser?.close()
  await served?.stop()
})

/** Counts non-background pixels of the chart canvas: 0 means nothing was drawn. */
async function drawnPixels(p: Page): Promise<number> {
  return p.$eval('[data-testid=demo-chart] canvas', (canvas) => {
    const c = canvas as HTMLCanvasElement
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data
    let n = 0
    for (let i = 0; i < data.length; i += 4) if (data[i + 3]! > 0 && (data[i]! < 200 || data[i + 1]! < 200)) n++
    return n
  })
}

describe('engine screen', () => {
  it('shows the CPU backend and a chart from a real forward pass', async () => {
    await page.goto(served.launchUrl)
    expect(page.url()).not.toContain('token=') // traded for a cookie
    await page.goto(`${served.url}#/engine`)
    await page.waitForSelector('[data-testid=engine-devices] td:text-is("cpu")')
    expect(await page.textContent('[data-testid=engine-backends]')).toContain('cpu')
    await page.waitForSelector('[data-testid=demo-summary]')
    expect(await page.textContent('[data-testid=demo-summary]')).toMatch(/cpu: 512 steps in [\d.]+ ms/)
    await page.waitForFunction(() => !!document.querySelector('[data-testid=demo-chart] canvas'))
    await page.waitForTimeout(300)
    expect(await drawnPixels(page)).toBeGreaterThan(500)
    expect(await page.textContent('[data-testid=engine-state]')).toContain('ready')
    await page.screenshot({ path: join(artifactsDir(), 'engine-screen.png'), fullPage: true })
  })

  it('re-runs the forward with new parameters and redraws', async () => {
    await page.fill('[data-testid=demo-seqLen]', '2048')
    await page.fill('[data-testid=demo-heads]', '2')
    await page.click('[data-testid=demo-run]')
    await page.waitForFunction(() => document.querySelector('[data-testid=demo-summary]')?.textContent?.includes('2048 steps'))
    expect(await page.textContent('[data-testid=demo-summary]')).toMatch(/final ‖S‖ per head: [\d.]+, [\d.]+$/)
  })

  it('shows the engine refusing bad parameters, naming the field', async () => {
    await page.fill('[data-testid=demo-seqLen]', '0')
    await page.click('[data-testid=demo-run]')
    await page.waitForSelector('[data-testid=demo-error]')
    expect(await page.textContent('[data-testid=demo-error]')).toBe('demoForward: seqLen: 0 is too small; valid: >= 1')
  })

  it('navigates between screens', async () => {
    await page.click('[data-testid=nav-train]')
    await page.waitForSelector('h1:text-is("Train")')
    await page.click('[data-testid=nav-engine]')
    await page.waitForSelector('[data-testid=engine-info]')
  })

  it('a page from another origin cannot open the LabApi socket', async () => {
    const foreign = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' })
      res.end('<!doctype html><title>elsewhere</title>')
    })
    await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', r))
    try {
      const other = await browser.newPage()
      await other.goto(`http://127.0.0.1:${(foreign.address() as AddressInfo).port}/`)
      const wsUrl = served.url.replace('http', 'ws') + 'ws'
      const outcome = await other.evaluate(
        (url) =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(url)
            ws.onopen = () => resolve('opened')
            ws.onerror = () => resolve('refused')
          }),
        wsUrl,
      )
      expect(outcome).toBe('refused')
      await other.close()
    } finally {
      foreign.close()
    }
  })
})
