// The composer end to end: GLA preset → 8 layers, 1 softmax in 4 → layer 1
// on the delta rule → save → reload → the same stack, switches and estimates;
// then an invalid head count marked on its control with saving blocked.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { formatBytes } from '../../electron/api/format'
import type { ModelEstimate } from '../../electron/api/labapi'
import type { ModelSpec } from '../../electron/api/model-spec'
import { formatCount } from '../../renderer/src/charts/estimate-chart'
import { describe, expect, it } from 'vitest'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const { served, page } = useServedApp()

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

/** The estimate table's cells, row by row. */
function estimateCells(): Promise<string[][]> {
  return page.$$eval('[data-testid=estimate-table] tbody tr', (rows) =>
    rows.map((r) => [...r.children].map((td) => (td.textContent ?? '').replace(/\s+/g, ' ').trim())),
  )
}

/** The table the panel draws from an estimate: a row per layer, the model's total, the Transformer of the same width. */
function cellsOf(e: ModelEstimate): string[][] {
  return [
    ...e.layers.map((l) => [String(l.index), l.kind, formatCount(l.params), formatBytes(l.stateBytes), formatCount(l.flopsPerToken)]),
    [
      'all',
      `+ embedding, head: ${formatCount(e.embeddingAndHeadParams)}`,
      formatCount(e.totalParams),
      formatBytes(e.model.stateBytes),
      formatCount(e.model.flopsPerToken),
    ],
    ['Transformer', 'same width', formatCount(e.transformer.totalParams), formatBytes(e.transformer.stateBytes), formatCount(e.transformer.flopsPerToken)],
  ]
}

/**
 * Waits until the estimate table shows `expected` (the estimate refreshes
 * 150 ms after an edit, then waits for the engine), then asserts it, so a
 * table that never gets there fails with the difference.
 */
async function estimatesShow(expected: string[][]): Promise<void> {
  await page
    .waitForFunction(
      (want) =>
        JSON.stringify(
          [...document.querySelectorAll('[data-testid=estimate-table] tbody tr')].map((r) =>
            [...r.children].map((td) => (td.textContent ?? '').replace(/\s+/g, ' ').trim()),
          ),
        ) === want,
      JSON.stringify(expected),
      { timeout: 20_000 },
    )
    .catch(() => undefined)
  expect(await estimateCells()).toEqual(expected)
}

describe('composer', () => {
  it('builds a GLA hybrid with a delta-rule layer, saves it, and a reload restores it exactly', async () => {
    await page.goto(served.launchUrl)
    await page.goto(`${served.url}#/compose`) // a fresh workspace lands on the Start screen
    await page.waitForSelector('[data-testid=layer-stack]')
    expect(await page.$eval('[data-testid=preset-select]', (el) => (el as HTMLSelectElement).value)).toBe('gla')

    await setNumber('model-n_layers', '8')
    await page.$eval('[data-testid=model-hybrid-ratio]', (el) => {
      ;(el as HTMLInputElement).value = '0.25'
      el.dispatchEvent(new Event('input', { bubbles: true }))
    })
    await page.selectOption('[data-testid=model-hybrid-placement]', 'interleave')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=layer-card-][data-kind=softmax]').length === 2)
    const kinds = (await stack()).map((l) => l.kind)
    expect(kinds).toEqual(['linear', 'linear', 'linear', 'softmax', 'linear', 'linear', 'linear', 'softmax'])

    await page.click('[data-testid=layer-card-1]')
    await page.selectOption('[data-testid=field-delta_rule]', 'on')
    expect((await stack())[1]!.chips).toContain('delta')
    expect(await page.textContent('[data-testid=preset-diff]')).toContain('differs from GLA')
    await page.waitForSelector('[data-testid=layer-diagram] [data-box=beta]')
    const before = await stack()

    await page.fill('[data-testid=save-name]', 'gla-hybrid')
    await page.click('[data-testid=save]')
    await page.waitForSelector('[data-testid=composer-status]:text("saved as gla-hybrid")')
    // the estimates are the engine's for the spec as saved (asked here beside the page)
    const saved = JSON.parse(readFileSync(join(served.workspace, 'specs', 'gla-hybrid.json'), 'utf8')) as ModelSpec
    const contextLength = Number(await page.inputValue('[data-testid=context-length]'))
    const expected = cellsOf(await served.call('estimateModel', { spec: saved, contextLength }))
    expect(expected).toHaveLength(8 + 2)
    await estimatesShow(expected)
    await page.screenshot({ path: join(artifactsDir(), 'composer.png'), fullPage: true })

    await page.reload()
    await page.waitForSelector('[data-testid=layer-card-7]')
    expect(await stack()).toEqual(before)
    await estimatesShow(expected)
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

  it("sets the output norm's weight per head, refuses it without a norm, and back to shared leaves the field out", async () => {
    await page.selectOption('[data-testid=preset-select]', 'gla')
    await page.click('[data-testid=layer-card-0]')
    expect(await page.inputValue('[data-testid=field-output_norm_weight]')).toBe('shared')
    await page.selectOption('[data-testid=field-output_norm_weight]', 'per_head')
    expect((await stack())[0]!.chips).toContain('norm w/head')
    await page.waitForSelector('[data-testid=layer-diagram] [data-box=onorm]:has-text("weight per head")')
    expect(await page.textContent('[data-testid=preset-diff]')).toContain('differs from GLA')
    await page.selectOption('[data-testid=field-output_norm]', 'none')
    await page.waitForSelector('[data-testid=error-output_norm_weight]')
    expect(await page.textContent('[data-testid=error-output_norm_weight]')).toContain("'per_head' needs an output norm to weigh")
    expect(await page.isDisabled('[data-testid=save]')).toBe(true)
    await page.selectOption('[data-testid=field-output_norm]', 'rmsnorm')
    await page.selectOption('[data-testid=field-output_norm_weight]', 'shared')
    expect((await stack())[0]!.chips).not.toContain('norm w/head')
    await page.fill('[data-testid=save-name]', 'norm-weight')
    await page.click('[data-testid=save]')
    await page.waitForSelector('[data-testid=composer-status]:text("saved as norm-weight")')
    const saved = JSON.parse(readFileSync(join(served.workspace, 'specs', 'norm-weight.json'), 'utf8')) as ModelSpec
    expect(saved.layers[0]).not.toHaveProperty('output_norm_weight')
  })

  it('rotates q and k in a linear layer (RetNet), and turning it off leaves the field out', async () => {
    await page.selectOption('[data-testid=preset-select]', 'gla')
    await page.click('[data-testid=layer-card-0]')
    expect(await page.isChecked('[data-testid=field-rotary]')).toBe(false)
    await page.check('[data-testid=field-rotary]')
    await page.waitForSelector('[data-testid=layer-diagram] [data-box=phi]:has-text("rotary positions")')
    expect(await page.textContent('[data-testid=preset-diff]')).toContain('differs from GLA')
    await page.fill('[data-testid=save-name]', 'rotary-on')
    await page.click('[data-testid=save]')
    await page.waitForSelector('[data-testid=composer-status]:text("saved as rotary-on")')
    const on = JSON.parse(readFileSync(join(served.workspace, 'specs', 'rotary-on.json'), 'utf8')) as ModelSpec
    expect(on.layers[0]).toMatchObject({ kind: 'linear', rotary: true })
    await page.uncheck('[data-testid=field-rotary]')
    await page.waitForSelector('[data-testid=layer-diagram] [data-box=phi]', { state: 'detached' })
    await page.fill('[data-testid=save-name]', 'rotary-off')
    await page.click('[data-testid=save]')
    await page.waitForSelector('[data-testid=composer-status]:text("saved as rotary-off")')
    const off = JSON.parse(readFileSync(join(served.workspace, 'specs', 'rotary-off.json'), 'utf8')) as ModelSpec
    expect(off.layers[0]).not.toHaveProperty('rotary')
  })

  it('names the file after the model, and asks before saving over another spec', async () => {
    await page.selectOption('[data-testid=preset-select]', 'gla')
    expect(await page.inputValue('[data-testid=save-name]')).toBe('GLA')
    await page.click('[data-testid=save]')
    await page.waitForSelector('[data-testid=composer-status]:text("saved as GLA")')
    await page.selectOption('[data-testid=preset-select]', 'gated-deltanet')
    const name = await page.inputValue('[data-testid=save-name]')
    expect(name).not.toBe('GLA')
    expect(name).toMatch(/Gated DeltaNet/i)
    await page.fill('[data-testid=save-name]', 'GLA')
    await page.click('[data-testid=save]')
    await page.waitForSelector('[data-testid=overwrite-ask]')
    expect(await page.textContent('[data-testid=overwrite-ask]')).toContain('specs/GLA.json exists')
    await page.screenshot({ path: join(artifactsDir(), 'composer-overwrite.png') })
    await page.click('[data-testid=overwrite-confirm]')
    await page.waitForSelector('[data-testid=composer-status]:text("saved as GLA")')
    expect(await page.locator('[data-testid=overwrite-ask]').count()).toBe(0)
  })
})
