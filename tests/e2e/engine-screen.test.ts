// The foundation end to end: `linea serve`, real Chromium, the Engine screen
// showing the CPU backend and a chart drawn from a real call into the addon.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const { served, browser, page } = useServedApp({ viewport: { width: 1400, height: 1000 } })

/** In the page: the non-background pixels of the chart's canvas when more than `least`, else false (no canvas yet, or not drawn). */
function drawnBeyond(least: number): number | false {
  const c = document.querySelector('[data-testid=demo-chart] canvas') as HTMLCanvasElement | null
  if (!c) return false
  const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data
  let n = 0
  for (let i = 0; i < data.length; i += 4) if (data[i + 3]! > 0 && (data[i]! < 200 || data[i + 1]! < 200)) n++
  return n > least ? n : false
}

/** Waits until the chart has drawn more than `least` pixels (it animates in); what it drew, for the assertion. */
async function drawnPixels(p: Page, least: number): Promise<number> {
  await p.waitForFunction(drawnBeyond, least, { timeout: 20_000 }).catch(() => undefined) // the assertion says what was drawn
  return Number(await p.evaluate(drawnBeyond, -1))
}

describe('engine screen', () => {
  it('shows the CPU backend and a chart from a real forward pass', async () => {
    await page.goto(served.launchUrl)
    expect(page.url()).not.toContain('token=') // traded for a cookie
    await page.goto(`${served.url}#/engine`)
    await page.waitForSelector('[data-testid=engine-devices] td:text-is("cpu")')
    expect(await page.textContent('[data-testid=engine-backends]')).toContain('cpu')
    // memory in use now, every process counted, with its share
    expect(await page.textContent('[data-testid=device-in-use-cpu]')).toMatch(/^[\d.]+ [KMGT]?i?B \(\d+%\)$/)
    await page.waitForSelector('[data-testid=demo-summary]')
    expect(await page.textContent('[data-testid=demo-summary]')).toMatch(/cpu: 512 steps in [\d.]+ ms/)
    expect(await drawnPixels(page, 500)).toBeGreaterThan(500)
    expect(await page.textContent('[data-testid=engine-state]')).toContain('ready')
    // a favicon, inline (no request, allowed by the CSP)
    expect(await page.getAttribute('link[rel=icon]', 'href')).toMatch(/^data:image\/svg\+xml,/)
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
