// The Train form offers only the backends this machine can run: the others
// are disabled, their reason as the option's tooltip (the engine's own info
// decides, so the test holds on a GPU machine too).
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const { served, page } = useServedApp({ viewport: { width: 1280, height: 900 } })

describe('train form backends', () => {
  it('disables the backends the engine lacks, with the reason, in the form and the template starter', async () => {
    const info = await served.call('engineInfo', {})
    const hasCuda = info.devices.some((d) => d.backend === 'cuda')
    await page.goto(served.launchUrl)
    await page.goto(`${served.url}#/train`)
    const cuda = page.locator('[data-testid=train-backend] option[value=cuda]')
    // The engine's info has loaded once the CUDA option says whether it is there (it is disabled unless a CUDA GPU is).
    await page.waitForFunction((hasGpu) => {
      const o = document.querySelector<HTMLOptionElement>('[data-testid=train-backend] option[value=cuda]')
      return o !== null && (hasGpu || o.disabled)
    }, hasCuda)
    expect(await cuda.evaluate((o: HTMLOptionElement) => o.disabled)).toBe(!hasCuda)
    if (!hasCuda) {
      expect(await cuda.getAttribute('title')).toBe(`no CUDA GPU on this machine (CUDA: ${info.cudaStatus})`)
      expect(await cuda.textContent()).toContain('cuda (unavailable)')
    }
    expect(await page.locator('[data-testid=train-backend] option[value=cpu]').evaluate((o: HTMLOptionElement) => o.disabled)).toBe(false)
    await page.locator('[data-testid=train-backend]').screenshot({ path: join(artifactsDir(), 'train-backends.png') })
    // The template starter's backend override says the same.
    await page.click('[data-testid=train-source-template]')
    await page.selectOption('[data-testid=template-select]', 'mqar-recall-sweep')
    const override = page.locator('[data-testid=template-override-train-backend] option[value=cuda]')
    expect(await override.evaluate((o: HTMLOptionElement) => o.disabled)).toBe(!hasCuda)
    if (!hasCuda) expect(await override.getAttribute('title')).toBe(`no CUDA GPU on this machine (CUDA: ${info.cudaStatus})`)
  })
})
