// The composer's graph as an editor of many layers at once, in real
// Chromium: a hybrid built by multi-selecting layers and setting them
// softmax, "mixed" fields set for a selection, a folded group dragged to a
// new place, a selection moved by Alt+arrow, the hybrid slider previewing
// its placement while held, a 500-layer model expanded and still drawing
// only a window of blocks; the spec saved, reloaded and loaded back.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../electron/api/model-spec'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const { served, page } = useServedApp({ viewport: { width: 1500, height: 1100 } })

const block = (layer: number) => `[data-testid=graph-block-${layer}]`

/** The kinds of the drawn blocks, in order, each with its first layer. */
function drawnKinds(): Promise<string[]> {
  return page.$$eval('[data-testid^=graph-block-]', (els) =>
    els.map((e) => `${e.getAttribute('data-testid')!.slice('graph-block-'.length)}:${e.getAttribute('data-kind')}`),
  )
}

/** Waits for the drawn blocks to be exactly `want` ("first:kind"), then checks, so a wrong graph fails showing itself. */
async function graphShows(want: string[]): Promise<void> {
  await page
    .waitForFunction(
      (w) =>
        JSON.stringify(
          [...document.querySelectorAll('[data-testid^=graph-block-]')].map(
            (e) => `${e.getAttribute('data-testid')!.slice('graph-block-'.length)}:${e.getAttribute('data-kind')}`,
          ),
        ) === w,
      JSON.stringify(want),
      { timeout: 10_000 },
    )
    .catch(() => undefined)
  expect(await drawnKinds()).toEqual(want)
}

const kindsOf = (kinds: string) => [...kinds].map((k, i) => `${i}:${k === 'S' ? 'softmax' : 'linear'}`)

async function panelTitle(want: string): Promise<void> {
  await page.waitForSelector(`[data-testid=layer-panel-title]:text-is("${want}")`, { timeout: 10_000 }).catch(() => undefined)
  expect(await page.textContent('[data-testid=layer-panel-title]')).toBe(want)
}

async function setNumber(testid: string, value: string): Promise<void> {
  await page.fill(`[data-testid=${testid}]`, value)
  await page.press(`[data-testid=${testid}]`, 'Tab')
}

/** Drags from the centre of `from` to (x, y) by mouse, checking the drop marker's gap on the way. */
async function dragTo(from: string, x: number, y: number, gap: number, screenshot?: string): Promise<void> {
  const box = (await page.locator(from).boundingBox())!
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
  await page.mouse.down()
  await page.mouse.move(x, y, { steps: 12 })
  await page.waitForSelector(`[data-testid=graph-drop-marker][data-gap="${gap}"]`)
  if (screenshot) await page.screenshot({ path: join(artifactsDir(), screenshot) })
  await page.mouse.up()
  await page.waitForSelector('[data-testid=graph-drop-marker]', { state: 'detached' })
}

/** Expands every layer (true) or folds repeats again (false), whichever the graph shows now. */
async function expandAll(on: boolean): Promise<void> {
  const button = '[data-testid=graph-expand-all]'
  if ((await page.textContent(button))?.trim() === (on ? 'expand all' : 'collapse all')) await page.click(button)
  await page.waitForSelector(`${button}:text-is("${on ? 'collapse all' : 'expand all'}")`)
}

async function startFrom(preset: string, layers: number): Promise<void> {
  if (!(await page.locator('[data-testid=model-graph]').count())) {
    await page.goto(served.launchUrl)
    await page.goto(`${served.url}#/compose`)
    await page.waitForSelector('[data-testid=model-graph]')
  }
  await page.selectOption('[data-testid=preset-select]', preset)
  await setNumber('model-n_layers', String(layers))
  await page.waitForSelector(`[data-testid=graph-summary]:text("${layers} layers")`)
}

describe('composer: many layers at once', () => {
  it('builds a hybrid by multi-selecting layers, edits mixed fields, drags and moves blocks, and saves it', async () => {
    await startFrom('gated-deltanet', 8)
    await graphShows(['0:linear'])
    // A folded group is its layers: clicking it selects all eight.
    await page.click(block(0))
    await panelTitle('8 layers: 0–7')
    await expandAll(true)
    await graphShows(kindsOf('LLLLLLLL'))

    // Click 3, Ctrl-click 7: both selected, both turned softmax in one change.
    await page.click(block(3))
    await page.click(block(7), { modifiers: ['Control'] })
    await panelTitle('2 layers: 3, 7')
    expect(await page.$$eval('.graph-block.selected', (els) => els.map((e) => e.getAttribute('data-testid')))).toEqual(['graph-block-3', 'graph-block-7'])
    await page.selectOption('[data-testid=field-kind]', 'softmax')
    await graphShows(kindsOf('LLLSLLLS'))
    expect(await page.inputValue('[data-testid=model-hybrid-placement]')).toBe('manual')
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text("2 of 8 softmax")')
    await page.screenshot({ path: join(artifactsDir(), 'composer-multi-select.png') })

    // Folded again: [L×3][S][L×3][S]. Drag the first ×3 group to the end: the whole group moves.
    await expandAll(false)
    await graphShows(['0:linear', '3:softmax', '4:linear', '7:softmax'])
    const last = (await page.locator(block(7)).boundingBox())!
    await dragTo(block(0), last.x + last.width - 2, last.y + last.height / 2, 8, 'composer-multi-drag.png')
    await graphShows(['0:softmax', '1:linear', '4:softmax', '5:linear'])
    await panelTitle('3 layers: 5–7')
    // Esc while dragging drops nothing.
    const first = (await page.locator(block(0)).boundingBox())!
    await page.mouse.move(first.x + first.width / 2, first.y + first.height / 2)
    await page.mouse.down()
    await page.mouse.move(last.x + last.width - 2, last.y + last.height / 2, { steps: 8 })
    await page.waitForSelector('[data-testid=graph-drop-marker]')
    await page.keyboard.press('Escape')
    await page.waitForSelector('[data-testid=graph-drop-marker]', { state: 'detached' })
    await page.mouse.up()
    await graphShows(['0:softmax', '1:linear', '4:softmax', '5:linear'])
    await panelTitle('3 layers: 5–7')

    // Mixed values: layer 1 gets a conv of 2, then 1..3 show "mixed" until set together.
    await expandAll(true)
    await graphShows(kindsOf('SLLLSLLL'))
    await page.click(block(1))
    await setNumber('field-short_conv', '2')
    await page.click(block(3), { modifiers: ['Shift'] })
    await panelTitle('3 layers: 1–3')
    expect(await page.inputValue('[data-testid=field-short_conv]')).toBe('')
    expect(await page.getAttribute('[data-testid=field-short_conv]', 'placeholder')).toBe('mixed')
    expect(await page.getAttribute('[data-testid=field-short_conv]', 'data-mixed')).toBe('true')
    await setNumber('field-short_conv', '3')
    await page.waitForSelector('[data-testid=field-short_conv]:not([data-mixed])')
    expect(await page.inputValue('[data-testid=field-short_conv]')).toBe('3')
    for (const i of [1, 2, 3]) expect(await page.textContent(`${block(i)} .chips`)).toContain('conv 3')
    expect(await page.textContent(`${block(5)} .chips`)).not.toContain('conv 3')
    // A softmax layer joins: the kind is mixed and only the head count is shared.
    await page.click(block(0), { modifiers: ['Control'] })
    await panelTitle('4 layers: 0–3')
    expect(await page.inputValue('[data-testid=field-kind]')).toBe('')
    expect(await page.locator('[data-testid=field-input_gate]').count()).toBe(0)
    expect(await page.locator('[data-testid=field-heads]').count()).toBe(1)
    await page.screenshot({ path: join(artifactsDir(), 'composer-multi-mixed.png') })
    // Esc: the focused layer alone.
    await page.focus(block(2))
    await page.keyboard.press('Escape')
    await panelTitle('Layer 0')

    // Keyboard: Enter selects, Shift+→ extends, Alt+→ moves the selection as a block.
    await page.focus(block(1))
    await page.keyboard.press('Enter')
    await panelTitle('Layer 1')
    await page.keyboard.press('Shift+ArrowRight')
    await page.keyboard.press('Shift+ArrowRight')
    await panelTitle('3 layers: 1–3')
    await page.keyboard.press('Alt+ArrowRight')
    await graphShows(kindsOf('SSLLLLLL'))
    await panelTitle('3 layers: 2–4')
    // focus follows once the moved block is drawn (a tick after the selection): wait for it
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'graph-block-4')
    for (const i of [2, 3, 4]) expect(await page.textContent(`${block(i)} .chips`)).toContain('conv 3')
    // Ctrl+A selects every layer; the layer list's cards extend with Shift+↓ as the graph's blocks do with Shift+→.
    await page.keyboard.press('Control+a')
    await panelTitle('8 layers: 0–7')
    expect(await page.locator('[data-testid^=layer-card-].selected').count()).toBe(8)
    await page.focus('[data-testid=layer-card-5]')
    await page.keyboard.press('Enter')
    await panelTitle('Layer 5')
    await page.keyboard.press('Shift+ArrowDown')
    await panelTitle('2 layers: 5, 6')
    // focus follows once the moved block is drawn (a tick after the selection): wait for it
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'layer-card-6')

    // Save, reload, load it back: the same spec.
    await page.fill('[data-testid=save-name]', 'multi-hybrid')
    await page.click('[data-testid=save]')
    await page.waitForSelector('[data-testid=composer-status]:text("saved as multi-hybrid")')
    const saved = JSON.parse(readFileSync(join(served.workspace, 'specs', 'multi-hybrid.json'), 'utf8')) as ModelSpec
    expect(saved.layers.map((l) => (l.kind === 'softmax' ? 'S' : 'L')).join('')).toBe('SSLLLLLL')
    expect(saved.layers.map((l) => (l.kind === 'linear' ? l.short_conv : '-'))).toEqual(['-', '-', 3, 3, 3, 4, 4, 4])
    expect(saved.hybrid.placement).toBe('manual')
    await page.reload()
    await page.waitForSelector('[data-testid=model-graph]')
    await page.selectOption('[data-testid=preset-select]', 'gla') // something else first, so the load shows
    await page.waitForSelector('[data-testid=preset-diff]:text("as GLA")')
    await page.selectOption('[data-testid=load-select]', 'multi-hybrid')
    await page.click('[data-testid=load]')
    await page.waitForSelector('[data-testid=composer-status]:text("loaded multi-hybrid")')
    await page.click('[data-testid=toggle-text]')
    expect(JSON.parse(await page.inputValue('[data-testid=spec-text]'))).toEqual(saved)
    await page.click('[data-testid=toggle-text]')
    await expandAll(true)
    await graphShows(kindsOf('SSLLLLLL'))
  })

  it('previews the hybrid placement while the slider is held and applies it on release; arrow keys step it', async () => {
    await startFrom('gated-deltanet', 8)
    await page.selectOption('[data-testid=model-hybrid-placement]', 'interleave')
    await expandAll(false)
    await graphShows(['0:linear'])
    const slider = page.locator('[data-testid=model-hybrid-ratio]')
    await slider.scrollIntoViewIfNeeded()
    const box = (await slider.boundingBox())!
    const y = box.y + box.height / 2
    await page.mouse.move(box.x + 1, y)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width / 2, y, { steps: 8 })
    // Held at 1/2: four layers previewed softmax (dashed), the spec not changed yet.
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text("preview: 4 of 8 softmax")')
    expect(await page.$$eval('[data-preview=softmax]', (els) => els.map((e) => e.getAttribute('data-testid')))).toEqual([
      'graph-block-1',
      'graph-block-3',
      'graph-block-5',
      'graph-block-7',
    ])
    expect(await page.locator('[data-testid^=layer-card-][data-kind=softmax]').count()).toBe(0)
    // the graph with its preview is in view beside the slider while it is held
    const previewed = (await page.locator('[data-preview=softmax]').first().boundingBox())!
    expect(previewed.y).toBeGreaterThanOrEqual(0)
    expect(previewed.y + previewed.height).toBeLessThanOrEqual(page.viewportSize()!.height)
    await page.screenshot({ path: join(artifactsDir(), 'composer-multi-slider-preview.png') })
    await page.mouse.up()
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text-is("4 of 8 softmax (0.5)")')
    expect(await page.locator('[data-preview]').count()).toBe(0)
    await graphShows(['0:linear', '1:softmax', '2:linear', '3:softmax', '4:linear', '5:softmax', '6:linear', '7:softmax'])
    // Arrow keys step through k/8 and apply at once.
    await slider.focus()
    await page.keyboard.press('ArrowRight')
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text("5 of 8 softmax")')
    await page.keyboard.press('ArrowLeft')
    await page.keyboard.press('ArrowLeft')
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text("3 of 8 softmax")')
    expect(await page.locator('[data-testid^=layer-card-][data-kind=softmax]').count()).toBe(3)
    // Esc while held drops the preview and changes nothing.
    await page.mouse.move(box.x + box.width - 2, y)
    await page.mouse.down()
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text("preview: 8 of 8 softmax")')
    await page.keyboard.press('Escape')
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text-is("3 of 8 softmax (0.375)")')
    await page.mouse.up()
    expect(await page.locator('[data-testid^=layer-card-][data-kind=softmax]').count()).toBe(3)
    expect(await page.textContent('[data-testid=model-hybrid-ratio-value]')).toBe('3 of 8 softmax (0.375)')
  })

  it('keeps a 500-layer model usable: expanded, it draws only the blocks in view; a far block scrolls into reach', async () => {
    await startFrom('gla', 500)
    await expandAll(false)
    await page.selectOption('[data-testid=model-hybrid-placement]', 'interleave')
    await page.locator('[data-testid=model-hybrid-ratio]').fill('0.25')
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text("125 of 500 softmax")')
    await page.waitForSelector('[data-testid=graph-summary]:text("(250 blocks)")')
    const rendered = () => page.locator('[data-testid^=graph-block-]').count()
    expect(await rendered()).toBeGreaterThan(0)
    expect(await rendered()).toBeLessThan(100)
    await expandAll(true)
    await page.waitForSelector('[data-testid=graph-summary]:text("(500 blocks)")')
    expect(await rendered()).toBeGreaterThan(0)
    expect(await rendered()).toBeLessThan(100)
    // Scroll the strip far right: layer 451 (softmax, 1 in 4) is drawn, within the strip's view, and selectable.
    await page.$eval('[data-testid=graph-scroll]', (el) => {
      const target = document.querySelector('.graph-blocks') as HTMLElement
      el.scrollLeft = target.offsetLeft + 451 * 200 - 300
    })
    await page.waitForSelector(block(451))
    expect(await page.getAttribute(block(451), 'data-kind')).toBe('softmax')
    const strip = (await page.locator('[data-testid=graph-scroll]').boundingBox())!
    const far = (await page.locator(block(451)).boundingBox())!
    expect(far.x).toBeGreaterThanOrEqual(strip.x)
    expect(far.x + far.width).toBeLessThanOrEqual(strip.x + strip.width)
    await page.click(block(451))
    await panelTitle('Layer 451')
    // The layer list and the estimate table are windowed too; the list scrolls to the selected layer.
    await page.waitForSelector('[data-testid=layer-card-451].selected')
    expect(await page.locator('[data-testid^=layer-card-]').count()).toBeLessThan(100)
    await page.waitForSelector('[data-testid=estimate-table] tr.layer-row')
    expect(await page.locator('[data-testid=estimate-table] tr.layer-row').count()).toBeLessThan(100)
    // Scrolled to the end, the last row is drawn. The box's height follows the measured row height
    // (EstimatePanel.vue), which can change after a first scroll clamped at the old end: scroll again
    // until the end is reached, as a user would.
    await page.waitForFunction(() => {
      document.querySelector('[data-testid=estimate-table]')!.parentElement!.scrollTop = 1e6
      return [...document.querySelectorAll('[data-testid=estimate-table] tr.layer-row td:first-child')].some((td) => td.textContent === '499')
    })
    await page.click(block(453), { modifiers: ['Shift'] })
    await panelTitle('3 layers: 451–453')
    expect(await page.inputValue('[data-testid=field-kind]')).toBe('')
    expect(await rendered()).toBeLessThan(100)
    // The keyboard reaches the end and back, scrolling as it goes.
    await page.focus(block(451))
    await page.keyboard.press('End')
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'graph-block-499')
    await page.keyboard.press('Enter')
    await panelTitle('Layer 499')
    expect(await page.inputValue('[data-testid=field-kind]')).toBe('softmax')
    await page.keyboard.press('ArrowLeft')
    await page.keyboard.press('Enter')
    await panelTitle('Layer 498')
    await page.selectOption('[data-testid=field-feature_map]', 'elu1')
    await page.waitForSelector(`${block(498)} .chip:text-is("φ elu1")`)
    await page.screenshot({ path: join(artifactsDir(), 'composer-multi-500.png') })
    await page.focus(block(498))
    await page.keyboard.press('Home')
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'graph-block-0')
    expect(await rendered()).toBeLessThan(100)
  })
})
