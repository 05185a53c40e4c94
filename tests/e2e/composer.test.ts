// The composer end to end: GLA preset → 8 layers, 1 softmax in 4 → layer 1
// on the delta rule → save → reload → the same stack, switches and estimates;
// then an invalid head count marked on its control with saving blocked.
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
  page = await browser.newPage({ viewport: { width: 1500, height: 1300 } })
})
afterAll(async () => {
  await browser?.close()
  await served?.stop()
})

async function setNumber(testid: string, value: string): Promise<void> {
  await page.fill(`[data-testid=${testid}]`, value)
  await page.press(`[data-testid=${testid}]`, 'Tab')
}

async function stack(): Promise<{ kind: string; chips: string }[]> {
  return page.$$eval('[data-testid^=layer-card-]', (cards) =>
    cards
      .filter((c) => /^layer-card-\d+$/.test(c.getAttribute('data-testid') ?? ''))
      .map((c) => ({ kind: c.getAttribute('data-kind') ?? '', chips: (c.querySelector('.chips')?.textContent ?? '').replace(/\s+/g, ' ').trim() })),
  )
}

async function estimates(): Promise<string[]> {
  await page.waitForSelector('[data-testid=estimate-total-params]')
  await page.waitForTimeout(400) // the estimate refreshes 150 ms after an edit
  return page.$$eval('[data-testid=estimate-table] tbody tr', (rows) => rows.map((r) => (r.textContent ?? '').replace(/\s+/g, ' ').trim()))
}

describe('composer', () => {
  it('builds a GLA hybrid with a delta-rule layer, saves it, and a reload restores it exactly', async () => {
    await page.goto(served.launchUrl)
    await page.waitForSelector('[data-testid=layer-stack]')
    expect(await page.$eval('[data-testid=preset-select]', (el) => (el as HTMLSelectElement).value)).toBe('gla')

    await setNumber('model-n_layers', '8')
    await page.$eval('[data-testid=model-hybrid-ratio]', (el) => {
      ;(el as HTMLInputElement).value = '0.25'
      el.dispatchEvent(new Event('input', { bubbles: true }))
    })
    await page.selectOption('[data-testid=model-hybrid-placement]', 'interleave')
    await page.waitForFunction(() => document.querySelectorAll('[data-kind=softmax]').length === 2)
    const kinds = (await stack()).map((l) => l.kind)
    expect(kinds).toEqual(['linear', 'linear', 'linear', 'softmax', 'linear', 'linear', 'linear', 'softmax'])

    await page.click('[data-testid=layer-card-1]')
    await page.selectOption('[data-testid=field-delta_rule]', 'on')
    expect((await stack())[1]!.chips).toContain('delta')
    expect(await page.textContent('[data-testid=preset-diff]')).toContain('differs from GLA')
    await page.waitForSelector('[data-testid=layer-diagram] [data-box=beta]')
    const before = { stack: await stack(), estimates: await estimates() }
    expect(before.estimates).toHaveLength(8 + 2)
    await page.screenshot({ path: join(artifactsDir(), 'composer.png'), fullPage: true })

    await page.fill('[data-testid=save-name]', 'gla-hybrid')
    await page.click('[data-testid=save]')
    await page.waitForSelector('[data-testid=composer-status]:text("saved as gla-hybrid")')

    await page.reload()
    await page.waitForSelector('[data-testid=layer-card-7]')
    expect(await stack()).toEqual(before.stack)
    expect(await estimates()).toEqual(before.estimates)
  })

  it('marks a head count that does not divide d_model and blocks saving', async () => {
    await page.click('[data-testid=layer-card-0]')
    await setNumber('field-heads', '3')
    await page.waitForSelector('[data-testid=error-heads]')
    expect(await page.textContent('[data-testid=error-heads]')).toBe('3 does not divide d_model 128')
    expect(await page.isDisabled('[data-testid=save]')).toBe(true)
    expect(await page.$eval('[data-testid=layer-card-0]', (el) => el.classList.contains('invalid'))).toBe(true)
    await page.screenshot({ path: join(artifactsDir(), 'composer-invalid.png'), fullPage: true })
    await page.click('[data-testid=undo]')
    await page.waitForSelector('[data-testid=error-heads]', { state: 'detached' })
    expect(await page.isDisabled('[data-testid=save]')).toBe(false)
  })
})
