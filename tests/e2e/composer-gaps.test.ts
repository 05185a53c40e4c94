// Three composer behaviours in real Chromium: on a folded strip Alt+arrow
// moves a layer past a whole ×N group (and the focus follows it); Undo
// brings the selection back with the model; the hybrid slider on a manual
// placement switches it to the last automatic rule, says so, and Undo brings
// the hand-set layers back.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const { served, page } = useServedApp({ viewport: { width: 1500, height: 1100 } })

const block = (layer: number) => `[data-testid=graph-block-${layer}]`

/** The drawn blocks, in order: "first:kind" and the fold count ("0:linear×5"). */
function drawnBlocks(): Promise<string[]> {
  return page.$$eval('[data-testid^=graph-block-]', (els) =>
    els.map(
      (e) =>
        `${e.getAttribute('data-testid')!.slice('graph-block-'.length)}:${e.getAttribute('data-kind')}${e.querySelector('[data-testid^=graph-unfold-]')?.textContent?.trim() ?? ''}`,
    ),
  )
}

/** Waits for the drawn blocks to be exactly `want`, then checks, so a wrong graph fails showing itself. */
async function graphShows(want: string[]): Promise<void> {
  await page
    .waitForFunction(
      (w) =>
        JSON.stringify(
          [...document.querySelectorAll('[data-testid^=graph-block-]')].map(
            (e) =>
              `${e.getAttribute('data-testid')!.slice('graph-block-'.length)}:${e.getAttribute('data-kind')}${e.querySelector('[data-testid^=graph-unfold-]')?.textContent?.trim() ?? ''}`,
          ),
        ) === w,
      JSON.stringify(want),
      { timeout: 10_000 },
    )
    .catch(() => undefined)
  expect(await drawnBlocks()).toEqual(want)
}
const selectedBlocks = () => page.$$eval('.graph-block.selected', (els) => els.map((e) => e.getAttribute('data-testid')))
const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? null)

describe('composer: folded moves, undo with the selection, the slider on a manual placement', () => {
  it('moves a layer past a whole folded ×N group with Alt+arrow, and Undo reselects it where it was', async () => {
    await page.goto(served.launchUrl)
    await page.goto(`${served.url}#/compose`)
    await page.waitForSelector('[data-testid=model-graph]')
    await page.selectOption('[data-testid=preset-select]', 'gated-deltanet')
    await page.fill('[data-testid=model-n_layers]', '6')
    await page.press('[data-testid=model-n_layers]', 'Tab')
    await page.selectOption('[data-testid=model-hybrid-placement]', 'last')
    await graphShows(['0:linear×6'])
    // layer 0 softmax by hand: the other five stay folded as ×5
    await page.click('[data-testid=graph-unfold-0]')
    await page.click(block(0))
    await page.selectOption('[data-testid=field-kind]', 'softmax')
    await page.click('[data-testid=graph-expand-all]') // expand all
    await page.click('[data-testid=graph-expand-all]') // collapse all
    await graphShows(['0:softmax', '1:linear×5'])
    expect(await page.inputValue('[data-testid=model-hybrid-placement]')).toBe('manual')

    await page.click(block(0))
    await page.focus(block(0))
    await page.keyboard.press('Alt+ArrowRight')
    // one key: past all five, not one layer into the group
    await graphShows(['0:linear×5', '5:softmax'])
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'graph-block-5')
    expect(await selectedBlocks()).toEqual(['graph-block-5'])
    await page.screenshot({ path: join(artifactsDir(), 'composer-folded-move.png') })
    await page.keyboard.press('Alt+ArrowLeft')
    await graphShows(['0:softmax', '1:linear×5'])
    expect(await focused()).toBe('graph-block-0')
    await page.keyboard.press('Alt+ArrowRight')
    await graphShows(['0:linear×5', '5:softmax'])

    // select something else, then Undo: the model and the selection it had come back
    await page.click(block(0))
    expect(await selectedBlocks()).toEqual(['graph-block-0'])
    expect(await page.textContent('[data-testid=layer-panel-title]')).toContain('5 layers')
    await page.click('[data-testid=undo]')
    await graphShows(['0:softmax', '1:linear×5'])
    // the one layer moved, selected at its old place (not the five selected just now)
    expect(await page.textContent('[data-testid=layer-panel-title]')).toBe('Layer 0')
    expect(await selectedBlocks()).toEqual(['graph-block-0'])
    expect(await page.inputValue('[data-testid=field-kind]')).toBe('softmax')
    await page.click('[data-testid=redo]')
    await graphShows(['0:linear×5', '5:softmax'])
    await page.click('[data-testid=undo]')
    await graphShows(['0:softmax', '1:linear×5'])
  })

  it('on a manual placement, the slider switches it to the last automatic rule and says so; Undo restores the hand-set layers', async () => {
    const slider = '[data-testid=model-hybrid-ratio]'
    expect(await page.inputValue('[data-testid=model-hybrid-placement]')).toBe('manual')
    expect(await page.isDisabled(slider)).toBe(false)
    expect(await page.textContent('[data-testid=model-hybrid-manual]')).toContain('moving the slider places softmax layers by last')
    expect(await page.$('[data-testid=model-hybrid-switched]')).toBeNull()
    await page.focus(slider)
    await page.keyboard.press('ArrowRight') // 1 of 6 → 2 of 6
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text("2 of 6 softmax")')
    await graphShows(['0:linear×4', '4:softmax×2'])
    expect(await page.inputValue('[data-testid=model-hybrid-placement]')).toBe('last')
    expect(await page.textContent('[data-testid=model-hybrid-switched]')).toBe(
      'The placement was manual (layers set by hand); moving the slider switched it to last. Undo brings the hand-set layers back.',
    )
    expect(await page.$('[data-testid=model-hybrid-manual]')).toBeNull()
    await page.screenshot({ path: join(artifactsDir(), 'composer-slider-from-manual.png') })

    await page.click('[data-testid=undo]')
    await graphShows(['0:softmax', '1:linear×5'])
    expect(await page.inputValue('[data-testid=model-hybrid-placement]')).toBe('manual')
    await page.waitForSelector('[data-testid=model-hybrid-switched]', { state: 'detached' })

    // held, the slider previews the rule it will switch to (last: the last layers dashed), and Esc drops it
    const box = (await page.locator(slider).boundingBox())!
    const y = box.y + box.height / 2
    await page.mouse.move(box.x + 1, y)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width / 2, y, { steps: 8 })
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text("preview: 3 of 6 softmax (0.5), last, release to apply")')
    expect(await page.$$eval('[data-preview=softmax]', (els) => els.map((e) => e.getAttribute('data-testid')))).toEqual(['graph-block-3'])
    await page.keyboard.press('Escape')
    await page.mouse.up()
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text-is("1 of 6 softmax (0.167)")')
    await graphShows(['0:softmax', '1:linear×5'])
    expect(await page.inputValue('[data-testid=model-hybrid-placement]')).toBe('manual')
  })
})
