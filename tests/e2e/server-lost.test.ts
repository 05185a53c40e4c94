// When the server stops, every screen says so: one banner, and the sidebar's
// engine state turns to unknown instead of showing the last state it heard.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const { served, page } = useServedApp({ viewport: { width: 1280, height: 800 } })

describe('a server that stops answering', () => {
  it('shows the banner on any screen, and the engine state as unknown', async () => {
    await page.goto(served.launchUrl)
    await page.goto(`${served.url}#/engine`)
    await page.waitForSelector('[data-testid=engine-devices] td:text-is("cpu")')
    expect(await page.locator('[data-testid=server-banner]').count()).toBe(0)
    await served.stop()
    await page.waitForSelector('[data-testid=server-banner]', { timeout: 20_000 })
    expect(await page.textContent('[data-testid=server-banner]')).toContain('Cannot reach the Linea server')
    expect(await page.textContent('[data-testid=engine-state]')).toContain('unknown (no server)')
    // Another screen: the banner stays.
    await page.click('[data-testid=nav-train]')
    expect(await page.isVisible('[data-testid=server-banner]')).toBe(true)
    await page.screenshot({ path: join(artifactsDir(), 'server-lost.png') })
  })
})
