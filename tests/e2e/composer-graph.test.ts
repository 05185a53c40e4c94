// The visual composer: a Gated DeltaNet + softmax hybrid built through the
// model graph, an invalid combination drawn red at its block, and the graph
// after a reload.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useServedApp } from './app'
import { artifactsDir } from './browser'
import { until } from '../fixtures/until'

const { served, page } = useServedApp({ viewport: { width: 1500, height: 1100 } })

describe('model graph', () => {
  it('builds a GDN + softmax hybrid by clicking the graph, marks an invalid block, and survives a reload', async () => {
    await page.goto(served.launchUrl)
    await page.goto(`${served.url}#/compose`)
    await page.waitForSelector('[data-testid=model-graph]')
    await page.selectOption('[data-testid=preset-select]', 'gated-deltanet')
    await page.fill('[data-testid=model-n_layers]', '8')
    await page.press('[data-testid=model-n_layers]', 'Enter')
    // Eight identical layers fold into one block.
    await page.waitForSelector('[data-testid=graph-unfold-0]:text("×8")')
    // A quarter softmax, interleaved: the slider stops at k/8.
    await page.selectOption('[data-testid=model-hybrid-placement]', 'interleave')
    await page.locator('[data-testid=model-hybrid-ratio]').fill('0.25')
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text("2 of 8 softmax")')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=graph-block-]').length === 4)
    const kinds = await page.$$eval('[data-testid^=graph-block-]', (els) => els.map((e) => e.getAttribute('data-kind')))
    expect(kinds).toEqual(['linear', 'softmax', 'linear', 'softmax'])
    // Click the softmax block: the side panel edits it.
    await page.click('[data-testid=graph-block-3]')
    expect(await page.inputValue('[data-testid=field-kind]')).toBe('softmax')
    // A sigmoid input gate with the delta rule: that block turns red, with the reason on it.
    await page.click('[data-testid=graph-unfold-0]')
    await page.click('[data-testid=graph-block-1]')
    await page.selectOption('[data-testid=field-input_gate]', 'sigmoid')
    await page.waitForSelector('[data-testid=graph-problem-1]')
    expect(await page.textContent('[data-testid=graph-problem-1]')).toContain('does not combine with the delta rule')
    expect(await page.getAttribute('[data-testid=graph-block-1]', 'class')).toContain('invalid')
    await page.screenshot({ path: join(artifactsDir(), 'composer-graph-invalid.png') })
    // the "apply to all" link and the help below it, not run together on one line
    const link = (await page.locator('[data-testid=apply-all-input_gate]').boundingBox())!
    const help = (await page.locator('[data-testid=apply-all-input_gate] + .help').boundingBox())!
    expect(help.y).toBeGreaterThanOrEqual(link.y + link.height - 1)
    await page.selectOption('[data-testid=field-input_gate]', 'none')
    await page.waitForSelector('[data-testid=graph-problem-1]', { state: 'detached' })
    // Layer cards by keyboard: Enter selects, Alt+Down moves the layer (and the graph follows).
    await page.focus('[data-testid=layer-card-3]')
    await page.keyboard.press('Enter')
    expect(await page.inputValue('[data-testid=field-kind]')).toBe('softmax')
    await page.keyboard.press('Alt+ArrowDown')
    await page.waitForSelector('[data-testid=layer-card-4][data-kind=softmax]')
    // The card takes the focus back on the next animation frame (LayerStack.vue), not with the move itself.
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'layer-card-4')
    await page.keyboard.press('Alt+ArrowUp')
    await page.waitForSelector('[data-testid=layer-card-3][data-kind=softmax]')
    // Keyboard: focus a block and select it with Enter.
    await page.focus('[data-testid=graph-block-3]')
    await page.keyboard.press('Enter')
    expect(await page.inputValue('[data-testid=field-kind]')).toBe('softmax')
    // Reload: the unsaved hybrid comes back (the workspace draft, once written).
    const draft = join(served.workspace, 'drafts', 'composer.json')
    await until('the draft of the hybrid written', () => {
      if (!existsSync(draft)) return false
      const layers = (JSON.parse(readFileSync(draft, 'utf8')) as { spec: { layers: { kind: string; input_gate?: string }[] } }).spec.layers
      return layers.filter((l) => l.kind === 'softmax').length === 2 && layers.every((l) => l.kind === 'softmax' || l.input_gate === 'none')
    })
    await page.reload()
    await page.waitForSelector('[data-testid=model-graph]')
    await page.waitForSelector('[data-testid=composer-status]:text("restored your unsaved edits")')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=graph-block-]').length === 4)
    const after = await page.$$eval('[data-testid^=graph-block-]', (els) => els.map((e) => e.getAttribute('data-kind')))
    expect(after).toEqual(['linear', 'softmax', 'linear', 'softmax'])
    await page.screenshot({ path: join(artifactsDir(), 'composer-graph.png') })
  })
})
