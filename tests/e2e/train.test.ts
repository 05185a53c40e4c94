// Train and Runs end to end, in real Chromium against `linea serve` with a
// fresh workspace: a short MQAR run from the form, stopped early at 'stop at
// step' with its accuracy split by key in noise; the MQAR recall template
// scaled down to run on a laptop CPU (its 12 runs queue run after run), the live charts growing while a run
// trains, finished runs in the table, two runs overlaid with their settings
// compared, and runs cancelled (one queued, one running).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MQAR_KEY_IN_NOISE_LABELS } from '../../electron/api/train-spec'
import { RUN_PALETTE, runColor } from '../../renderer/src/runs/colors'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const { served, page } = useServedApp()

/** Small enough for 2 CPU cores; still valid: warmup <= steps, 4 * pairs <= seq_len, task vocabulary <= model vocabulary (512). */
const SCALE_DOWN = {
  steps: '300',
  /** Every run stops here (train.max_steps), its schedule still over the 300 steps. */
  stopAt: '250',
  warmup: '20',
  batch: '16',
  evalEvery: '50',
  json: { 'train.task.seq_len': 32, 'train.task.num_kv_pairs': 4, 'train.task.vocab_size': 64, 'train.eval.batches': 1, 'train.checkpoint_every': 100 },
}

/** The form's run stopped early (max_steps): its name, the steps its schedule spans, the step it stops at. */
const STOPPED = { name: 'stopped early', steps: 200, stopAt: 40 }

const attr = (testid: string, name: string) => page.getAttribute(`[data-testid=${testid}]`, name)
/** The series names a run chart exposes (its legend's entries). */
const seriesNamesOf = async (testid: string): Promise<string[]> => JSON.parse((await attr(testid, 'data-series-names')) ?? '[]') as string[]

async function rows(): Promise<{ id: string; name: string; status: string }[]> {
  return page.$$eval('[data-testid^=run-row-]', (trs) =>
    trs.map((tr) => ({
      id: (tr.getAttribute('data-testid') ?? '').replace('run-row-', ''),
      name: tr.getAttribute('data-name') ?? '',
      status: tr.getAttribute('data-status') ?? '',
    })),
  )
}

describe('train and runs screens', () => {
  it("stops a form run at 'stop at step', shows it done at N / N, and draws MQAR's key-in-noise split", async () => {
    await page.goto(served.launchUrl)
    await page.click('[data-testid=nav-train]')
    await page.waitForSelector('[data-testid=train-model-summary]')
    const set = async (testid: string, value: string) => {
      await page.fill(`[data-testid=${testid}]`, value)
      await page.press(`[data-testid=${testid}]`, 'Tab')
    }
    // The form's MQAR defaults (T = 64, 4 pairs) on the GLA preset, the schedule over 200 steps, an eval every 20.
    await set('train-steps', String(STOPPED.steps))
    await set('train-eval-every', '20')
    await set('train-early_stop_accuracy', '')
    await page.selectOption('[data-testid=train-backend]', 'cpu')
    await page.fill('[data-testid=train-run-name]', STOPPED.name)
    // the field starts empty, says the schedule is unchanged, and is checked like the others
    expect(await page.inputValue('[data-testid=train-max_steps]')).toBe('')
    expect(await page.textContent('label:has([data-testid=train-max_steps]) .help')).toContain('the learning-rate schedule still runs over steps')
    await set('train-max_steps', '300')
    expect(await page.textContent('[data-testid=error-train-max_steps]')).toBe(
      '300 exceeds steps 200; the schedule spans steps, so raise steps to train longer',
    )
    expect(await page.isDisabled('[data-testid=train-start]')).toBe(true)
    await set('train-max_steps', String(STOPPED.stopAt))
    await page.waitForSelector('[data-testid=error-train-max_steps]', { state: 'detached' })
    await page.click('[data-testid=train-start]')
    await page.waitForSelector(`[data-testid=live-run-name]:text("${STOPPED.name}")`)
    const runId = (await attr('live-run', 'data-run-id'))!

    // done at the step it stops at: N / N, the bar full
    await page.waitForSelector('[data-testid=live-run-status]:text("completed")', { timeout: 90_000 })
    expect(await attr('live-run', 'data-run-id')).toBe(runId)
    await page.waitForFunction((n) => document.querySelector('[data-testid=live-progress]')?.getAttribute('data-step') === String(n), STOPPED.stopAt)
    expect(await page.textContent('[data-testid=live-progress-text]')).toContain(`step ${STOPPED.stopAt} / ${STOPPED.stopAt}`)
    expect(await attr('live-progress', 'data-steps')).toBe(String(STOPPED.stopAt))
    expect(await page.getAttribute('[data-testid=live-progress] .progress-fill', 'style')).toMatch(/width: 100(\.0)?%/)
    // the accuracy chart: overall and the two key-in-noise series
    await page.waitForFunction(
      (labels) => {
        const names = JSON.parse(document.querySelector('[data-testid=live-eval-chart]')?.getAttribute('data-series-names') ?? '[]') as string[]
        return labels.every((l) => names.includes(l))
      },
      [...MQAR_KEY_IN_NOISE_LABELS],
    )
    const liveSeries = await seriesNamesOf('live-eval-chart')
    expect(liveSeries.slice(1), `overall accuracy (${liveSeries[0]}), then the split`).toEqual([...MQAR_KEY_IN_NOISE_LABELS])
    expect(await page.textContent('[data-testid=live-log]')).toContain(`eval at step ${STOPPED.stopAt}`)

    // the Runs table counts to the same step; the compare chart adds the split on request
    await page.click('[data-testid=nav-workspace]')
    await page.waitForSelector(`[data-testid=run-steps-${runId}]`)
    expect(await page.textContent(`[data-testid=run-steps-${runId}]`)).toBe(`${STOPPED.stopAt} / ${STOPPED.stopAt}`)
    await page.check(`[data-testid=run-select-${runId}]`)
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=compare-eval-chart]')?.getAttribute('data-series')) === 1)
    await page.check('[data-testid=compare-key-in-noise]')
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=compare-eval-chart]')?.getAttribute('data-series')) === 3)
    expect(await seriesNamesOf('compare-eval-chart')).toEqual([STOPPED.name, ...MQAR_KEY_IN_NOISE_LABELS.map((l) => `${STOPPED.name}: ${l}`)])
    await page.screenshot({ path: join(artifactsDir(), 'train-stop-early.png'), fullPage: true })
  })

  it('starts the scaled-down MQAR template and shows a run training live', async () => {
    await page.goto(served.launchUrl)
    await page.click('[data-testid=nav-train]')
    // the spec form marks a bad field and blocks starting until it is fixed
    await page.waitForSelector('[data-testid=train-model-summary]')
    expect(await page.isDisabled('[data-testid=train-start]')).toBe(false)
    await page.fill('[data-testid=train-schedule-warmup_steps]', '900')
    await page.press('[data-testid=train-schedule-warmup_steps]', 'Tab')
    expect(await page.textContent('[data-testid=error-train-schedule-warmup_steps]')).toBe('900 exceeds steps 800')
    expect(await page.isDisabled('[data-testid=train-start]')).toBe(true)
    await page.fill('[data-testid=train-task-vocab_size]', '1024')
    await page.press('[data-testid=train-task-vocab_size]', 'Tab')
    expect(await page.textContent('[data-testid=error-train-task-vocab_size]')).toContain("the model's vocabulary holds 256")
    await page.click('[data-testid=train-reset]')
    await page.waitForSelector('[data-testid=error-train-schedule-warmup_steps]', { state: 'detached' })
    expect(await page.isDisabled('[data-testid=train-start]')).toBe(false)

    await page.click('[data-testid=train-source-template]')
    await page.selectOption('[data-testid=template-select]', 'mqar-recall-sweep')
    expect(await page.textContent('[data-testid=template-run-count]')).toBe('12 runs')
    await page.fill('[data-testid=template-override-train-steps]', SCALE_DOWN.steps)
    await page.fill('[data-testid=template-override-train-max_steps]', SCALE_DOWN.stopAt)
    await page.fill('[data-testid=template-override-train-schedule-warmup_steps]', SCALE_DOWN.warmup)
    await page.fill('[data-testid=template-override-train-batch_size]', SCALE_DOWN.batch)
    await page.fill('[data-testid=template-override-train-eval-every]', SCALE_DOWN.evalEvery)
    await page.selectOption('[data-testid=template-override-train-backend]', 'cpu')
    await page.fill('[data-testid=template-overrides-json]', JSON.stringify(SCALE_DOWN.json))
    await page.click('[data-testid=template-start]')
    await page.waitForSelector('[data-testid=train-notice]:text("queued 12 runs of mqar-recall-sweep")')

    // Stay on the first run (do not jump to the next as each starts).
    await page.waitForSelector('[data-testid=live-run-status]:text("running")')
    await page.uncheck('[data-testid=live-follow]')
    const runId = await attr('live-run', 'data-run-id')
    expect(runId).toBeTruthy()
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=live-loss-chart]')?.getAttribute('data-points')) > 0)
    const first = await page.evaluate(() => ({
      points: Number(document.querySelector('[data-testid=live-loss-chart]')!.getAttribute('data-points')),
      status: document.querySelector('[data-testid=live-run-status]')!.textContent,
    }))
    expect(first.status).toBe('running')
    // the loss chart grows while it trains
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=live-loss-chart]')?.getAttribute('data-points')) > n, first.points, {
      timeout: 60_000,
    })
    expect(await attr('live-run', 'data-run-id')).toBe(runId)
    expect(await page.textContent('[data-testid=live-progress-text]')).toMatch(new RegExp(`step \\d+ / ${SCALE_DOWN.stopAt}\\b`))
    expect(await attr('live-progress', 'data-steps')).toBe(SCALE_DOWN.stopAt)
    // an eval reaches the accuracy chart and the log; throughput and memory are drawn
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=live-eval-chart]')?.getAttribute('data-points')) > 0, undefined, {
      timeout: 60_000,
    })
    expect(await page.textContent('[data-testid=live-log]')).toContain('eval at step 50')
    expect(Number(await attr('live-tokens-chart', 'data-points'))).toBeGreaterThan(0)
    expect(Number(await attr('live-memory-chart', 'data-points'))).toBeGreaterThan(0)
    expect(await page.textContent('[data-testid=live-run-backend]')).toContain('cpu')
    // log scale and smoothing change the chart, not the data
    await page.check('[data-testid=live-log-scale]')
    await page.$eval('[data-testid=live-smoothing]', (el) => {
      ;(el as HTMLInputElement).value = '0'
      el.dispatchEvent(new Event('input', { bubbles: true }))
    })
    expect(await page.textContent('[data-testid=live-smoothing-value]')).toBe('0.00')
    await page.screenshot({ path: join(artifactsDir(), 'train.png'), fullPage: true })

    await page.waitForSelector('[data-testid=live-run-status]:text("completed")', { timeout: 90_000 })
    expect(await page.textContent('[data-testid=live-progress-text]')).toContain(`step ${SCALE_DOWN.stopAt} / ${SCALE_DOWN.stopAt}`)
    expect(await page.textContent('[data-testid=live-log]')).toContain('status: completed')
  })

  it('lists finished runs, overlays two of them, and cancels a queued and a running run', async () => {
    await page.click('[data-testid=nav-workspace]')
    await page.waitForSelector('[data-testid=runs-table]')
    expect(await page.textContent('[data-testid=workspace-path]')).toContain(served.workspace)
    expect(await rows()).toHaveLength(12 + 1) // the template's, and the run stopped early

    // two finished runs of the template (the queue runs them in order: transformer 64, transformer 128, gla 64, ...)
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^=run-row-][data-status=completed]').length >= 2 + 1, undefined, {
      timeout: 120_000,
    })
    const done = (await rows()).filter((r) => r.status === 'completed' && r.name !== STOPPED.name).slice(0, 2)
    // model and parameter count per run, the backend and precision compact (the engine's full text as the tooltip)
    for (const r of done) {
      expect(await page.textContent(`[data-testid=run-params-${r.id}]`)).toMatch(/^\d+(\.\d)?[KMG]?$/)
      expect(await page.textContent(`[data-testid=run-backend-${r.id}]`)).toBe('cpu f32')
    }
    for (const r of done) await page.check(`[data-testid=run-select-${r.id}]`)
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=compare-loss-chart]')?.getAttribute('data-series')) === 4) // raw + smoothed per run
    // the series are drawn as soon as the runs are selected; their points once each run's metrics are read
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid=compare-loss-chart]')?.getAttribute('data-points')) >= n,
      2 * 2 * Number(SCALE_DOWN.stopAt),
    )
    expect(Number(await attr('compare-loss-chart', 'data-points'))).toBe(2 * 2 * Number(SCALE_DOWN.stopAt))
    expect(Number(await attr('compare-eval-chart', 'data-series'))).toBe(2)
    // the loss against tokens seen: the same curves, redrawn
    await page.selectOption('[data-testid=compare-x-axis]', 'tokens')
    expect(Number(await attr('compare-loss-chart', 'data-points'))).toBe(2 * 2 * Number(SCALE_DOWN.stopAt))
    await page.selectOption('[data-testid=compare-x-axis]', 'step')
    // each run in the colour its id gives it
    const colors = await Promise.all(done.map((r) => attr(`compare-run-${r.id}`, 'data-color')))
    // (its own, unless the other compared run has it already: compared lines never share a colour)
    expect(new Set(colors).size).toBe(2)
    expect(colors.some((c, i) => c === runColor(done[i]!.id))).toBe(true)
    for (const c of colors) expect(RUN_PALETTE).toContain(c)
    // settings side by side: only what differs between the two runs
    expect(await page.isChecked('[data-testid=hyperparams-only-diff]')).toBe(true)
    const diffPaths = await page.$$eval('[data-testid^="hp-"]', (trs) => trs.map((tr) => tr.getAttribute('data-testid')!.slice(3)))
    expect(diffPaths.length).toBeGreaterThan(0)
    expect(diffPaths).not.toContain('train.steps')
    await page.uncheck('[data-testid=hyperparams-only-diff]')
    expect(await page.$$eval('[data-testid^="hp-"]', (trs) => trs.length)).toBeGreaterThan(diffPaths.length)
    await page.check('[data-testid=hyperparams-only-diff]')

    // downloads: a run's metrics as CSV, a chart as PNG
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click(`[data-testid=run-csv-${done[0]!.id}]`)])
    expect(csv.suggestedFilename()).toBe(`${done[0]!.id}.csv`)
    const csvLines = readFileSync((await csv.path())!, 'utf8')
      .trim()
      .split('\n')
    expect(csvLines[0]).toBe('step,loss,lr,grad_norm,tokens_per_second,elapsed_seconds,memory_bytes,eval_headline')
    expect(csvLines).toHaveLength(1 + Number(SCALE_DOWN.stopAt))
    const [png] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=compare-loss-chart-png]')])
    expect(png.suggestedFilename()).toBe('runs-loss.png')
    expect([...readFileSync((await png.path())!).subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

    // cancel the last queued run (at once) and the running one (after its step)
    const queued = (await rows()).filter((r) => r.status === 'queued').at(-1)!
    await page.click(`[data-testid=run-cancel-${queued.id}]`)
    await page.waitForSelector(`[data-testid=run-status-${queued.id}]:text("cancelled")`)
    // A run cancelled as it ends its last step completes instead (a run is seconds long): then cancel the next one.
    let cancelled: string | undefined
    for (let tries = 0; !cancelled && tries < 3; tries++) {
      await page.waitForSelector('[data-testid^=run-row-][data-status=running]', { timeout: 60_000 })
      const running = (await rows()).find((r) => r.status === 'running')!
      await page.click(`[data-testid=run-cancel-${running.id}]`)
      const ended = await page.waitForSelector(`[data-testid=run-row-${running.id}]:is([data-status=cancelled], [data-status=completed])`, { timeout: 30_000 })
      if ((await ended.getAttribute('data-status')) === 'cancelled') cancelled = running.id
    }
    expect(cancelled, 'a running run cancelled (three tries)').toBeTruthy()
    expect(await page.textContent(`[data-testid=run-status-${cancelled}]`)).toContain('cancelled')
    await page.waitForSelector(`[data-testid=run-resume-${cancelled}]`)
    await page.screenshot({ path: join(artifactsDir(), 'runs-compare.png'), fullPage: true })

    // a run keeps its colour when the selection changes (the one in its own colour: when the two
    // ids' colours collide, the other one's is the stand-in, and deselecting it changes nothing here)
    const own = colors.findIndex((c, i) => c === runColor(done[i]!.id))
    await page.uncheck(`[data-testid=run-select-${done[1 - own]!.id}]`)
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=compare-loss-chart]')?.getAttribute('data-series')) === 2)
    expect(await attr(`compare-run-${done[own]!.id}`, 'data-color')).toBe(colors[own])

    // filter and sort
    await page.fill('[data-testid=runs-filter]', 'cancelled')
    expect((await rows()).every((r) => r.status === 'cancelled')).toBe(true)
    expect((await rows()).length).toBeGreaterThanOrEqual(1)
    await page.fill('[data-testid=runs-filter]', '')
    await page.click('[data-testid=runs-sort-name]')
    const names = (await rows()).map((r) => r.name)
    expect(names).toEqual([...names].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0)))
    expect(await page.getAttribute('[data-testid=runs-sort-name]', 'aria-sort')).toBe('ascending')
    // the same header by keyboard: focus it, Enter flips the order
    await page.focus('[data-testid=runs-sort-name]')
    await page.keyboard.press('Enter')
    expect(await page.getAttribute('[data-testid=runs-sort-name]', 'aria-sort')).toBe('descending')
    expect((await rows()).map((r) => r.name)).toEqual([...names].reverse())
  })
})
