// Unsaved composer edits survive a reload and a server restart: the
// composer keeps a draft in the workspace (drafts/composer.json) and
// restores it. Two servers in turn on one workspace, real Chromium.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { artifactsDir, launchChromium } from './browser'
import { serveBuiltApp, type Served } from './serve'
import { until } from '../fixtures/until'

const open: { browser?: Browser; served: Served[] } = { served: [] }
afterAll(async () => {
  await open.browser?.close()
  for (const s of open.served) await s.stop()
})

describe('composer draft', () => {
  it('restores unsaved edits after a reload and after the server restarts', async () => {
    const first = await serveBuiltApp()
    open.served.push(first)
    open.browser = await launchChromium()
    const page = await open.browser.newPage({ viewport: { width: 1400, height: 1000 } })
    await page.goto(first.launchUrl)
    await page.goto(`${first.url}#/compose`)
    await page.waitForSelector('[data-testid=model-n_layers]')
    await page.fill('[data-testid=model-n_layers]', '6')
    await page.press('[data-testid=model-n_layers]', 'Enter')
    const draft = join(first.workspace, 'drafts', 'composer.json')
    await until('the draft written', () => existsSync(draft) && JSON.parse(readFileSync(draft, 'utf8')).spec.layers.length === 6)

    await page.reload()
    await page.waitForSelector('[data-testid=composer-status]:text("restored your unsaved edits")')
    expect(await page.inputValue('[data-testid=model-n_layers]')).toBe('6')

    await first.stop()
    const second = await serveBuiltApp(first.workspace)
    open.served.push(second)
    await page.goto(second.launchUrl)
    await page.goto(`${second.url}#/compose`)
    await page.waitForSelector('[data-testid=composer-status]:text("restored your unsaved edits")')
    expect(await page.inputValue('[data-testid=model-n_layers]')).toBe('6')
    await page.screenshot({ path: join(artifactsDir(), 'composer-draft-restored.png') })
  })
})
