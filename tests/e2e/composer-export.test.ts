// The composer's Export… end to end, real Chromium on `linea serve`: the GLA
// preset as it stands (no run, no checkpoint) exported with seed 5 writes the
// PyTorch folder, the torchrun recipe and fla's folder into the workspace's
// exports/, and the composer says where and which forms; an invalid head
// count is refused with the service's error, naming the field.
import { existsSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const { served, page } = useServedApp()

describe('composer Export…', () => {
  it('exports the design being edited and shows the folder and its forms', async () => {
    await page.goto(served.launchUrl)
    await page.goto(`${served.url}#/compose`) // a fresh workspace lands on the Start screen
    await page.waitForSelector('[data-testid=layer-stack]')
    await page.fill('[data-testid=export-seed]', '5')
    await page.press('[data-testid=export-seed]', 'Tab')
    await page.click('[data-testid=export-design]')
    const line = await page.waitForSelector('[data-testid=design-exported]', { timeout: 60_000 })
    const text = (await line.textContent())!.replace(/\s+/g, ' ')
    expect(text).toContain('initial weights, seed 5')
    expect(text).toMatch(/model\.py, config\.json, train_spec\.json, model\.safetensors, README\.txt, train\.py, train\.sh, convert_data\.py, fla\//)
    expect(text).toMatch(/fla\/ holds the model as its 'gla' class/)
    const dir = /to (\S+) \(/.exec(text)![1]!
    expect(relative(served.workspace, dir)).toMatch(/^exports\/gla-\d{8}T\d{6}$/)
    for (const f of ['model.py', 'model.safetensors', 'train.sh', 'convert_data.py', 'fla/config.json', 'fla/model.safetensors'])
      expect(existsSync(join(dir, f)), f).toBe(true)
    expect(JSON.parse(readFileSync(join(dir, 'train_spec.json'), 'utf8'))).toMatchObject({ seed: 5 })
    expect(await page.isVisible('[data-testid=composer-error]')).toBe(false)
    await page.screenshot({ path: join(artifactsDir(), 'composer-export.png') })
  })

  it('shows the refusal of an invalid spec, naming the field', async () => {
    await page.click('[data-testid=layer-card-0]')
    await page.fill('[data-testid=field-heads]', '3')
    await page.press('[data-testid=field-heads]', 'Tab')
    await page.waitForSelector('[data-testid=error-heads]')
    await page.click('[data-testid=export-design]')
    const error = await page.waitForSelector('[data-testid=composer-error]:text("export refused")')
    expect(await error.textContent()).toMatch(/^invalid model spec \(export refused\):\s+layers\[0\]\.heads: 3 does not divide d_model 128/)
    expect(await page.isVisible('[data-testid=design-exported]')).toBe(false)
    await page.screenshot({ path: join(artifactsDir(), 'composer-export-refused.png') })
  })
})
