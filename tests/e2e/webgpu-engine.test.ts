// WebGPU in the app: the Engine screen lists the adapter the engine found
// (lavapipe here and in CI: a software adapter, said to be one), and the
// Train form offers backend 'webgpu' exactly when the engine lists an
// adapter; without one it is disabled with the reason.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { NO_WEBGPU_ADAPTER, SOFTWARE_ADAPTER_NOTE } from '../../renderer/src/runs/backend-availability'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const { served, page } = useServedApp({ viewport: { width: 1400, height: 1100 } })

/** The engine's WebGPU adapter row, if any; CI (LINEA_REQUIRE_WEBGPU=1, lavapipe installed) must have one. */
async function adapterRow() {
  const info = await served.call('engineInfo', {})
  const row = info.devices.find((d) => d.backend === 'webgpu')
  if (!row && process.env.LINEA_REQUIRE_WEBGPU === '1') throw new Error('LINEA_REQUIRE_WEBGPU=1 but engine info lists no WebGPU adapter')
  return row
}

describe('WebGPU in the app', () => {
  it('the Engine screen lists the adapter, and a software one as such', async () => {
    const row = await adapterRow()
    await page.goto(served.launchUrl)
    await page.goto(`${served.url}#/engine`)
    await page.waitForSelector('[data-testid=engine-webgpu]')
    expect(await page.textContent('[data-testid=engine-backends]')).toContain('webgpu')
    if (!row) {
      expect(await page.textContent('[data-testid=webgpu-none]')).toBe(NO_WEBGPU_ADAPTER)
      return
    }
    expect(await page.textContent('[data-testid=webgpu-adapter]')).toBe(row.name)
    const card = (await page.textContent('[data-testid=engine-webgpu]')) ?? ''
    expect(card).toMatch(/limits.*buffer [\d.]+ [MG]iB/s)
    expect(card).toContain('storage buffers per stage')
    const software = row.detail.includes(SOFTWARE_ADAPTER_NOTE)
    expect(await page.locator('[data-testid=webgpu-software]').count()).toBe(software ? 1 : 0)
    if (software) expect(await page.textContent('[data-testid=webgpu-software]')).toBe(SOFTWARE_ADAPTER_NOTE)
    // the devices table has its row too, memory unknown (WebGPU does not say)
    const cells = await page.locator('[data-testid=engine-devices] tr', { hasText: row.name }).locator('td').allTextContents()
    expect(cells.slice(0, 4)).toEqual(['webgpu', row.name, '—', '—'])
    await page.locator('[data-testid=engine-webgpu]').screenshot({ path: join(artifactsDir(), 'engine-webgpu.png') })
  })

  it('the Train form offers webgpu when the engine lists an adapter, else disables it with the reason', async () => {
    const row = await adapterRow()
    await page.goto(`${served.url}#/train`)
    const option = page.locator('[data-testid=train-backend] option[value=webgpu]')
    // The form knows the machine once the engine's info has loaded: then CUDA is disabled unless the engine lists a CUDA GPU.
    const hasCuda = (await served.call('engineInfo', {})).devices.some((d) => d.backend === 'cuda')
    await page.waitForFunction(
      ([cuda, webgpu]) => {
        const disabled = (b: string) => document.querySelector<HTMLOptionElement>(`[data-testid=train-backend] option[value=${b}]`)?.disabled
        return disabled('cuda') === !cuda && disabled('webgpu') === !webgpu
      },
      [hasCuda, row !== undefined],
    )
    if (!row) {
      expect(await option.getAttribute('title')).toBe(NO_WEBGPU_ADAPTER)
      expect(await option.textContent()).toContain('webgpu (unavailable)')
      return
    }
    expect((await option.textContent())?.trim()).toBe('webgpu')
    await page.selectOption('[data-testid=train-backend]', 'webgpu')
    await page.waitForFunction(() => document.querySelector<HTMLSelectElement>('[data-testid=train-backend]')?.value === 'webgpu')
    expect(await page.locator('[data-testid=error-train-backend]').count()).toBe(0)
    const software = row.detail.includes(SOFTWARE_ADAPTER_NOTE)
    if (software) {
      await page.waitForSelector('[data-testid=train-backend-caution]')
      expect(await page.textContent('[data-testid=train-backend-caution]')).toBe(`webgpu: ${row.name}: ${SOFTWARE_ADAPTER_NOTE}`)
    } else expect(await page.locator('[data-testid=train-backend-caution]').count()).toBe(0)
    await page.locator('.train-grid').screenshot({ path: join(artifactsDir(), 'train-webgpu.png') })
  })
})
