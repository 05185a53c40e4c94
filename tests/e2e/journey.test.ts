// A new user's whole journey, through the UI only, in real Chromium against
// `linea serve` with a fresh workspace: build a Gated DeltaNet + softmax
// hybrid in the composer's graph and save it under its name, train it twice
// (two seeds) from the Train screen, compare the two runs on the Runs
// screen, profile the saved hybrid, and inspect its first run. Each stage
// checks what a dead end would break (Start disabled, an error shown, charts
// missing) and leaves a screenshot in artifacts/e2e/journey-<stage>.png.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../electron/api/model-spec'
import { useServedApp } from './app'
import { artifactsDir } from './browser'
import { until } from '../fixtures/until'

const { served, page } = useServedApp({ viewport: { width: 1500, height: 1100 } })

/** The saved hybrid's name (and so its file, specs/<name>.json). */
const SPEC = 'gdn-hybrid'
/** Seconds on 2 CPU cores: MQAR at T = 32 with 4 pairs over a 64-token vocabulary, 30 steps, one eval batch. */
const TRAIN = {
  'train-task-seq_len': '32',
  'train-task-num_kv_pairs': '4',
  'train-task-vocab_size': '64',
  'train-steps': '30',
  'train-batch_size': '8',
  'train-schedule-warmup_steps': '5',
  'train-eval-every': '15',
  'train-eval-batches': '1',
  'train-early_stop_accuracy': '',
  'train-checkpoint_every': '0',
}
const RUNS = [
  { name: `${SPEC} seed 1`, seed: '1' },
  { name: `${SPEC} seed 2`, seed: '2' },
]
const runIds: string[] = []

const shot = (stage: string) => page.screenshot({ path: join(artifactsDir(), `journey-${stage}.png`), fullPage: true })
const attr = (testid: string, name: string) => page.getAttribute(`[data-testid=${testid}]`, name)
async function set(testid: string, value: string): Promise<void> {
  await page.fill(`[data-testid=${testid}]`, value)
  await page.press(`[data-testid=${testid}]`, 'Tab')
}
/** No error shown on the screen (a dead end would show one). */
async function noErrors(...testids: string[]): Promise<void> {
  for (const id of testids) expect(await page.$(`[data-testid=${id}]`), `${id} shown`).toBeNull()
}

describe('a new user builds, trains, compares, profiles and inspects a GDN + softmax hybrid', () => {
  it('builds the hybrid in the graph and saves it under its name', { timeout: 30_000 }, async () => {
    await page.goto(served.launchUrl)
    await page.goto(`${served.url}#/compose`)
    await page.waitForSelector('[data-testid=model-graph]')
    await page.selectOption('[data-testid=preset-select]', 'gated-deltanet')
    await page.waitForFunction(() => (document.querySelector('[data-testid=model-name]') as HTMLInputElement | null)?.value === 'Gated DeltaNet')
    // small: 2 layers of width 64, a 128-token vocabulary
    await set('model-n_layers', '2')
    await set('model-d_model', '64')
    await set('model-vocab_size', '128')
    // one of the two layers softmax, with the slider
    await page.locator('[data-testid=model-hybrid-ratio]').fill('0.5')
    await page.waitForSelector('[data-testid=model-hybrid-ratio-value]:text("1 of 2 softmax")')
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=graph-block-][data-kind=softmax]').length === 1)
    const kinds = await page.$$eval('[data-testid^=graph-block-]', (els) => els.map((e) => e.getAttribute('data-kind')))
    expect([...kinds].sort()).toEqual(['linear', 'softmax'])
    // the name follows the spec; the file follows the name
    await page.fill('[data-testid=model-name]', SPEC)
    await page.press('[data-testid=model-name]', 'Tab')
    await page.waitForFunction((n) => (document.querySelector('[data-testid=save-name]') as HTMLInputElement | null)?.value === n, SPEC)
    await noErrors('validation-summary', 'composer-error')
    expect(await page.isDisabled('[data-testid=save]')).toBe(false)
    await page.click('[data-testid=save]')
    await page.waitForSelector(`[data-testid=composer-status]:text("saved as ${SPEC}")`)
    const file = join(served.workspace, 'specs', `${SPEC}.json`)
    await until('the hybrid saved', () => existsSync(file))
    const saved = JSON.parse(readFileSync(file, 'utf8')) as ModelSpec
    expect(saved.d_model).toBe(64)
    expect(saved.layers.map((l) => l.kind).sort()).toEqual(['linear', 'softmax'])
    expect(saved.layers.find((l) => l.kind === 'linear')).toMatchObject({ delta_rule: 'on', forget_gate: 'scalar' })
    await shot('compose')
  })

  it('trains the saved hybrid twice, with two seeds', { timeout: 90_000 }, async () => {
    await page.click('[data-testid=nav-train]')
    await page.waitForSelector('[data-testid=train-form]')
    await page.focus('[data-testid=train-model]')
    await page.waitForSelector(`[data-testid=train-model] option[value="saved:${SPEC}"]`, { state: 'attached' })
    await page.selectOption('[data-testid=train-model]', `saved:${SPEC}`)
    await page.waitForSelector('[data-testid=train-model-summary]:text("2 layers, d_model 64, vocabulary 128")')
    await page.selectOption('[data-testid=train-backend]', 'cpu')
    for (const [testid, value] of Object.entries(TRAIN)) await set(testid, value)
    for (const run of RUNS) {
      await set('train-seed', run.seed)
      await page.fill('[data-testid=train-run-name]', run.name)
      await noErrors('train-invalid', 'train-other-errors')
      expect(await page.isDisabled('[data-testid=train-start]')).toBe(false)
      await page.click('[data-testid=train-start]')
      await page.waitForSelector(`[data-testid=live-run-name]:text("${run.name}")`)
      runIds.push((await attr('live-run', 'data-run-id'))!)
      await page.waitForSelector('[data-testid=live-run-status]:text("completed")', { timeout: 60_000 })
      expect(await page.textContent('[data-testid=live-progress-text]')).toContain('step 30 / 30')
      expect(Number(await attr('live-loss-chart', 'data-points'))).toBeGreaterThan(0)
      expect(Number(await attr('live-eval-chart', 'data-points'))).toBeGreaterThan(0)
    }
    expect(new Set(runIds).size).toBe(2)
    await shot('train')
    // The finished run goes to PyTorch from its page: a folder in the workspace's exports/.
    await page.waitForFunction(() => !(document.querySelector('[data-testid=live-export-torch]') as HTMLButtonElement | null)?.disabled)
    await page.click('[data-testid=live-export-torch]')
    await page.waitForSelector('[data-testid=live-exported]')
    const exported = (await page.textContent('[data-testid=live-exported]'))!
    expect(exported).toContain(`exports/${runIds[1]}-step-30`)
    expect(exported).toContain('model.py')
    // ... and trains on from its weights: a new run, which says where it started.
    await page.click('[data-testid=live-fine-tune]')
    await page.waitForSelector(`[data-testid=live-run-name]:text("${RUNS[1]!.name} (fine-tune)")`)
    expect(await page.textContent('[data-testid=live-run-start]')).toBe(`from run ${runIds[1]}`)
    await page.waitForSelector('[data-testid=live-run-status]:text("completed")', { timeout: 60_000 })
  })

  it('compares the two runs on the Runs screen', { timeout: 30_000 }, async () => {
    await page.click('[data-testid=nav-workspace]')
    await page.waitForSelector('[data-testid=runs-table]')
    for (const id of runIds) {
      await page.waitForSelector(`[data-testid=run-row-${id}][data-status=completed]`)
      expect(await page.textContent(`[data-testid=run-steps-${id}]`)).toBe('30 / 30')
      await page.check(`[data-testid=run-select-${id}]`)
    }
    // raw and smoothed loss per run; one accuracy series per run; every step of both runs read
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=compare-loss-chart]')?.getAttribute('data-series')) === 4)
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=compare-loss-chart]')?.getAttribute('data-points')) >= 2 * 2 * 30)
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=compare-eval-chart]')?.getAttribute('data-series')) === 2)
    expect(Number(await attr('compare-eval-chart', 'data-points'))).toBeGreaterThan(0)
    const names = JSON.parse((await attr('compare-eval-chart', 'data-series-names')) ?? '[]') as string[]
    expect([...names].sort()).toEqual(RUNS.map((r) => r.name).sort())
    await shot('compare')
  })

  it('profiles the saved hybrid and opens its report', { timeout: 90_000 }, async () => {
    await page.click('[data-testid=nav-profile]')
    await page.waitForSelector(`[data-testid=profile-source] option[value="saved:${SPEC}"]`, { state: 'attached' })
    await page.selectOption('[data-testid=profile-source]', `saved:${SPEC}`)
    await page.fill('[data-testid=profile-batch]', '1')
    await page.fill('[data-testid=profile-seq-len]', '64')
    await page.fill('[data-testid=profile-lengths]', '64, 128')
    await page.fill('[data-testid=profile-budget]', '10')
    await page.fill('[data-testid=profile-repeats]', '3')
    await page.click('[data-testid=profile-start]')
    const row = await page.waitForSelector('[data-testid^=profile-row-]')
    const id = (await row.getAttribute('data-testid'))!.replace('profile-row-', '')
    await page.waitForSelector(`[data-testid=profile-row-${id}][data-status=done]`, { timeout: 80_000 })
    await page.waitForSelector(`[data-testid=profile-panel-${id}]`)
    await noErrors('profile-error')
    expect((await page.textContent('[data-testid=profile-step-ms]'))?.trim()).toMatch(/^[\d,.]+ ms/)
    expect((await page.$$(`[data-testid=profile-panel-${id}] .chart-box canvas`)).length).toBeGreaterThanOrEqual(5)
    await shot('profile')
    // the report names the saved spec
    const [report] = await Promise.all([page.context().waitForEvent('page'), page.click(`[data-testid=profile-report-${id}]`)])
    await report.waitForLoadState('load')
    expect(await report.content()).toContain('<svg')
    expect(await report.textContent('body')).toContain(SPEC)
    await report.screenshot({ path: join(artifactsDir(), 'journey-profile-report.png') })
    await report.close()
  })

  it("inspects the hybrid's first run from the Runs table", { timeout: 60_000 }, async () => {
    const runId = runIds[0]!
    await page.click('[data-testid=nav-workspace]')
    await page.click(`[data-testid=run-inspect-${runId}]`)
    await page.waitForSelector('[data-testid=inspect-form]')
    await page.waitForFunction((id) => (document.querySelector('[data-testid=inspect-run]') as HTMLSelectElement | null)?.value === id, runId)
    await page.fill('[data-testid=inspect-recall-examples]', '16')
    expect(await page.isDisabled('[data-testid=inspect-start]')).toBe(false)
    await page.click('[data-testid=inspect-start]')
    await page.waitForSelector('[data-testid=inspect-result]', { timeout: 50_000 })
    await noErrors('inspect-error')
    expect(await attr('inspect-result', 'data-run')).toBe(runId)
    expect(await attr('inspect-result', 'data-step')).toBe('30')
    await page.waitForSelector('[data-testid=inspect-result] canvas')
    // the softmax layer's attention maps, drawn
    await page.click('[data-testid=inspect-tab-attention]')
    await page.waitForSelector('[data-testid^=attention-main-map-] canvas')
    // and the linear layer's state
    await page.click('[data-testid=inspect-tab-state]')
    await page.waitForSelector('[data-testid=state-norm-chart] canvas')
    await shot('inspect')
  })
})
