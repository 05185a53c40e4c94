// The Start screen end to end, in real Chromium against `linea serve` with a
// fresh workspace: it is where a workspace with no runs lands; its one button
// starts the MQAR recall sweep scaled down for a CPU and shows the first run
// training live on the Train screen; its links lead to the templates and the
// other screens; and a workspace with runs lands where it did before.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const { served, page } = useServedApp()

const attrOf = (testid: string, name: string) =>
  page.evaluate(([t, n]) => document.querySelector(`[data-testid=${t}]`)?.getAttribute(n) ?? null, [testid, name] as const)

describe('the Start screen', () => {
  it('lands a fresh workspace on Start, and its button starts the MQAR sweep training live', async () => {
    await page.goto(served.launchUrl)
    await page.waitForSelector('[data-testid=start-screen]')
    expect(page.url()).toContain('#/start')
    expect(await page.textContent('[data-testid=start-what]')).toContain('linear-attention')
    expect(await page.getAttribute('[data-testid=nav-start]', 'class')).toContain('router-link-active')
    // the workspace is named as the folder it is
    await page.waitForSelector(`[data-testid=start-workspace] code:text("${served.workspace}")`)
    // links to the templates and the other screens
    for (const name of ['templates', 'compose', 'train', 'profile', 'inspect', 'workspace']) await page.waitForSelector(`[data-testid=start-link-${name}]`)
    await page.waitForFunction(() => !(document.querySelector('[data-testid=start-mqar]') as HTMLButtonElement | null)?.disabled)
    expect(await page.$('[data-testid=start-blocked]')).toBeNull()
    await page.screenshot({ path: join(artifactsDir(), 'start-screen.png'), fullPage: true })

    await page.click('[data-testid=start-mqar]')
    await page.waitForSelector('[data-testid=live-run]')
    expect(page.url()).toContain('#/train')
    await page.waitForSelector('[data-testid=train-notice]:text("12 runs of mqar-recall-sweep")')
    await page.waitForSelector('[data-testid=live-run-status]:text("running")', { timeout: 60_000 })
    await page.uncheck('[data-testid=live-follow]') // stay on this run as the next ones start
    const runId = await attrOf('live-run', 'data-run-id')
    expect(runId).toBeTruthy()
    expect(await page.textContent('[data-testid=live-run-backend]')).toContain('cpu')
    expect(await attrOf('live-progress', 'data-steps')).toBe('300')
    // the step counter advances and the loss chart grows
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=live-progress]')?.getAttribute('data-step')) > 0, undefined, {
      timeout: 60_000,
    })
    const step = Number(await attrOf('live-progress', 'data-step'))
    const points = Number(await attrOf('live-loss-chart', 'data-points'))
    await page.waitForFunction(
      ([s, p]) =>
        Number(document.querySelector('[data-testid=live-progress]')?.getAttribute('data-step')) > s &&
        Number(document.querySelector('[data-testid=live-loss-chart]')?.getAttribute('data-points')) > p,
      [step, points] as const,
      { timeout: 60_000 },
    )
    expect(await attrOf('live-run', 'data-run-id')).toBe(runId)
    expect(await page.$('[data-testid=live-loss-chart] canvas')).not.toBeNull()
    await page.screenshot({ path: join(artifactsDir(), 'start-screen-live.png'), fullPage: true })
  })

  it('leads to the templates, and lands a workspace with runs where it did before', async () => {
    await page.click('[data-testid=nav-start]')
    await page.click('[data-testid=start-link-templates]')
    await page.waitForSelector('[data-testid=template-starter]')
    expect(page.url()).toContain('#/train?source=template')
    expect(await page.inputValue('[data-testid=template-select]')).toBeTruthy()

    // the workspace has runs now: the landing is Compose, as before there was a Start screen
    await page.goto('about:blank')
    await page.goto(served.launchUrl)
    await page.waitForSelector('[data-testid=layer-stack]')
    expect(page.url()).toContain('#/compose')
    // and Start is one click away
    await page.click('[data-testid=nav-start]')
    await page.waitForSelector('[data-testid=start-screen]')
  })
})
