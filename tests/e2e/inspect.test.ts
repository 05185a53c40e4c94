// The Inspect screen end to end, in real Chromium against `linea serve`: the
// MQAR recall template's Based run (a linear layer and a sliding-window
// softmax layer) and the state-tracking template's two DeltaNet parity runs
// (β in (0, 1) and (0, 2)), scaled down and trained for a few seconds with
// `linea run` in a fresh workspace. The Based run is opened from the Runs
// table; an inspection runs in an engine process and the recall heatmap, the
// example, the state and the attention maps show numbers read back from the
// cached result file; reopening answers from the run folder; a request past
// a bound is refused with the engine's bound. The parity runs' accuracy
// against length is overlaid.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { INSPECT_LIMITS, type InspectResult } from '../../electron/api/inspect'
import type { InspectJob } from '../../electron/api/labapi'
import { projectRoot } from '../../electron/platform/project-root'
import { expandTemplate, loadTemplates, type ExpandedRun } from '../../electron/workspace/templates'
import { recordLabApi, useServedApp } from './app'
import { artifactsDir } from './browser'

/** A few seconds on 2 CPU cores: T = 64 (Based's softmax window), 4 pairs, vocabulary 64, 300 steps, a checkpoint every 100. */
const SCALE_DOWN = {
  'train.steps': 300,
  'train.schedule.warmup_steps': 20,
  'train.batch_size': 16,
  'train.backend': 'cpu',
  'train.eval.every': 100,
  'train.eval.batches': 1,
  'train.checkpoint_every': 100,
  'train.task.seq_len': 64,
  'train.task.num_kv_pairs': 4,
  'train.task.vocab_size': 64,
}

/** The Based MQAR run, and the DeltaNet parity runs with β in (0, 1) and (0, 2). */
let runId: string
let parityIds: { plain: string; negative: string }

const template = (id: string) => loadTemplates().find((t) => t.id === id)!

/** Trains one run with `linea run` in the workspace; its id. */
function trainWithCli(workspace: string, run: ExpandedRun): string {
  const file = join(workspace, '..', `${run.name.replace(/\W+/g, '-')}.run.json`)
  writeFileSync(file, JSON.stringify({ name: run.name, model: run.modelSpec, train: run.trainSpec }))
  const before = new Set(existsSync(join(workspace, 'runs')) ? readdirSync(join(workspace, 'runs')) : [])
  const r = spawnSync(process.execPath, [join(projectRoot(), 'out', 'main', 'cli.js'), 'run', workspace, file], { encoding: 'utf8', timeout: 90_000 })
  expect(r.status, r.stderr).toBe(0)
  return readdirSync(join(workspace, 'runs')).find((id) => !before.has(id))!
}

/** The state-tracking template's parity runs, shorter (T = 16, 150 steps); the task is swept there, so it is set on the expanded run. */
function parityRun(preset: string): ExpandedRun {
  const run = expandTemplate(template('state-tracking')).find(
    (r) => r.values['model.preset'] === preset && (r.values['train.task'] as { kind: string }).kind === 'parity',
  )!
  run.trainSpec = {
    ...run.trainSpec,
    task: { kind: 'parity', seq_len: 16, eval_seq_lens: [32] },
    steps: 150,
    batch_size: 16,
    backend: 'cpu',
    schedule: { ...run.trainSpec.schedule, warmup_steps: 10 },
    eval: { every: 50, batches: 1 },
  }
  return run
}

const text = async (testid: string) => (await page.textContent(`[data-testid=${testid}]`))?.trim() ?? ''
const attr = (testid: string, name: string) => page.getAttribute(`[data-testid=${testid}]`, name)
const hasCanvas = (testid: string) => page.$eval(`[data-testid=${testid}]`, (el) => !!el.querySelector('canvas'))
/** The result the screen shows, as the engine wrote it into the run folder. */
function cachedResult(name: string, run = runId): { result: InspectResult; path: string } {
  const path = join(served.workspace, 'runs', run, 'inspect', `${name}.json`)
  return { result: JSON.parse(readFileSync(path, 'utf8')) as InspectResult, path }
}

const { served, page } = useServedApp({
  workspace: () => {
    const workspace = join(mkdtempSync(join(tmpdir(), 'linea-e2e-inspect-')), 'ws')
    const based = expandTemplate(template('mqar-recall-sweep'), {}, SCALE_DOWN).find(
      (r) => r.values['model.preset'] === 'based' && r.values['model.d_model'] === 64,
    )!
    runId = trainWithCli(workspace, based)
    parityIds = { plain: trainWithCli(workspace, parityRun('deltanet')), negative: trainWithCli(workspace, parityRun('deltanet-negative-eigen')) }
    return workspace
  },
})

describe('inspect screen', () => {
  let name: string

  it('opens from the Runs table, inspects the checkpoint and shows recall from the result', async () => {
    await page.goto(served.launchUrl)
    await page.click('[data-testid=nav-workspace]')
    await page.click(`[data-testid=run-inspect-${runId}]`)
    await page.waitForSelector('[data-testid=inspect-form]')
    expect(page.url()).toContain(`/inspect?run=${runId}`)
    // The form shows at once; the run is selected when the workspace's runs have loaded.
    await page.waitForFunction((id) => (document.querySelector('[data-testid=inspect-run]') as HTMLSelectElement | null)?.value === id, runId)
    await page.waitForSelector('[data-testid=inspect-empty]')
    // three checkpoints (every 100 steps) to choose from
    expect(await page.$$eval('[data-testid=inspect-checkpoint] option', (os) => os.map((o) => o.textContent?.trim()))).toEqual([
      'latest',
      'step 100',
      'step 200',
      'step 300',
    ])

    await page.fill('[data-testid=inspect-example]', '3')
    await page.fill('[data-testid=inspect-recall-examples]', '64')
    await page.click('[data-testid=inspect-start]')
    await page.waitForSelector('[data-testid=inspect-result]', { timeout: 60_000 })
    name = (await attr('inspect-result', 'data-name'))!
    expect(name).toBe('step-0000300-example-3')
    const { result } = cachedResult(name)
    expect(result.request.recall?.examples).toBe(64)

    // the diagnosis leads, then the recall grid: per number of pairs, the accuracy the engine measured
    expect(await page.$$eval('[data-testid=inspect-diagnosis] li', (lis) => lis.length)).toBeGreaterThan(0)
    expect(await text('inspect-diagnosis')).toContain('This example:')
    const recall = result.recall!
    for (const [j, n] of recall.numKvPairs.entries()) expect(await text(`recall-accuracy-${n}`)).toBe(`${(100 * recall.accuracy[j]!).toFixed(1)}%`)
    const filled = recall.byDistance.flat().filter((c) => c.count > 0).length
    expect(Number(await attr('recall-distance-chart', 'data-cells'))).toBe(filled)
    expect(await hasCanvas('recall-distance-chart')).toBe(true)
    expect(await hasCanvas('recall-position-chart')).toBe(true)

    // the example: each query right or wrong as predicted, a clicked query's answer and attention row
    const pairs = result.input.pairs!
    expect(pairs).toHaveLength(4)
    for (const p of pairs)
      expect(await attr(`example-token-${p.query}`, 'data-right')).toBe(String(result.input.predicted[p.query] === result.input.labels[p.query]))
    const q = pairs[2]!.query
    await page.click(`[data-testid=example-token-${q}]`)
    expect(await attr('example-query', 'data-query')).toBe(String(q))
    expect(await text('example-true')).toBe(String(result.input.labels[q]))
    expect(await text('example-predicted')).toContain(String(result.input.predicted[q]))
    expect(await hasCanvas('attention-row-chart')).toBe(true)
    await page.screenshot({ path: join(artifactsDir(), 'inspect-recall.png'), fullPage: true })
  })

  it('shows the state of the linear layer over time', async () => {
    const { result } = cachedResult(name)
    const linear = result.layers.find((l) => l.kind === 'linear')!
    await page.click('[data-testid=inspect-tab-state]')
    await page.waitForSelector('[data-testid=state-norm-chart] canvas')
    expect(Number(await attr('state-norm-chart', 'data-series'))).toBe(linear.heads.length)
    expect(await hasCanvas('state-heatmap-chart')).toBe(true)
    expect(await hasCanvas('state-spectrum-chart')).toBe(true)
    expect(await hasCanvas('state-rank-chart')).toBe(true)
    // the slider walks through the captured steps
    const snaps = linear.heads[0]!.snapshots!
    expect(await text('state-step-label')).toBe(String(snaps.at(-1)!.t))
    await page.$eval('[data-testid=state-step]', (el) => {
      ;(el as HTMLInputElement).value = '0'
      el.dispatchEvent(new Event('input', { bubbles: true }))
    })
    expect(await text('state-step-label')).toBe(String(snaps[0]!.t))
    expect(await attr('state-heatmap-chart', 'data-t')).toBe(String(snaps[0]!.t))
    expect(await text('state-rank-label')).toContain(`effective rank ${snaps[0]!.effectiveRank.toFixed(2)} of ${Math.min(linear.dk, linear.dv)}`)
    await page.screenshot({ path: join(artifactsDir(), 'inspect-state.png'), fullPage: true })
  })

  it('shows attention maps per head, their statistics, and the same input through an earlier checkpoint', async () => {
    const { result } = cachedResult(name)
    await page.click('[data-testid=inspect-tab-attention]')
    expect(result.layers.map((l) => l.kind)).toEqual(['linear', 'softmax'])
    for (const layer of result.layers)
      for (const h of layer.heads) {
        const id = `attention-main-map-${layer.index}-${h.head}`
        await page.waitForSelector(`[data-testid=${id}] canvas`)
        expect(Number(await attr(id, 'data-values'))).toBe(64 * 64)
        const stats = await page.$eval(`[data-testid=attention-main-stats-${layer.index}-${h.head}] [data-stat=sink]`, (td) => td.textContent)
        expect(stats).toBe(`${(100 * h.attentionStats!.sinkMass).toFixed(1)}%`)
      }
    // compare with the run's first checkpoint (the default second choice)
    expect(await page.inputValue('[data-testid=compare-checkpoint]')).toBe('checkpoints/step-0000100.safetensors')
    await page.click('[data-testid=compare-start]')
    await page.waitForSelector('[data-testid=attention-compare] canvas', { timeout: 60_000 })
    expect(await attr('attention-compare', 'data-step')).toBe('100')
    expect(await attr('attention-main', 'data-step')).toBe('300')
    await page.screenshot({ path: join(artifactsDir(), 'inspect-attention.png'), fullPage: true })
  })

  it('reopens from the run folder without running the engine again', async () => {
    const { path } = cachedResult(name)
    const written = statSync(path).mtimeMs
    const lab = recordLabApi(page)
    // a fresh page load: nothing of the last one's store or its results in memory
    await page.goto('about:blank')
    await page.goto(`${served.url}#/inspect?run=${runId}`)
    // the run's newest inspection (the earlier checkpoint's, from the comparison) opens by itself, read from the run folder
    const newest = await lab.waitFor('the newest inspection read from the run folder', (m) => m.sent && m.method === 'getInspection')
    const newestName = (newest as { params: { name: string } }).params.name
    expect(newestName).toBe('step-0000100-example-3')
    await page.waitForSelector(`[data-testid=inspect-result][data-name=${newestName}]`)
    // then the first one, from the list: read from the run folder too
    const opened = lab.messages.length
    await page.click(`[data-testid=inspection-open-${name}]`)
    await lab.waitFor(`${name} read from the run folder`, (m) => m.sent && m.method === 'getInspection' && (m.params as { name: string }).name === name, opened)
    await page.waitForSelector(`[data-testid=inspect-result][data-name=${name}]`)
    expect(await page.getAttribute(`[data-testid=inspection-open-${name}]`, 'class')).toContain('open')
    // the form shows how it was captured; asking the same question again answers from the cache
    expect(await page.inputValue('[data-testid=inspect-checkpoint]')).toBe('checkpoints/step-0000300.safetensors')
    expect(await page.inputValue('[data-testid=inspect-example]')).toBe('3')
    expect(await page.inputValue('[data-testid=inspect-recall-examples]')).toBe('64')
    const asked = lab.messages.length
    await page.click('[data-testid=inspect-start]')
    const call = await lab.waitFor('the startInspect call', (m) => m.sent && m.method === 'startInspect', asked)
    const reply = await lab.waitFor('the reply to startInspect', (m) => !m.sent && 'id' in m && m.id === (call as { id: number }).id, asked)
    expect((reply as { result: InspectJob }).result).toMatchObject({ runId, name, status: 'done', cached: true })
    // no engine ran for either: every inspection event since the reload is that cached answer
    const jobs = lab.messages.flatMap((m) => (!m.sent && 'event' in m && m.event === 'inspect.status' ? [(m.data as { job: InspectJob }).job] : []))
    expect(jobs).toEqual([{ runId, name, checkpoint: expect.any(String), status: 'done', cached: true }])
    expect(lab.messages.some((m) => !m.sent && 'event' in m && m.event === 'inspect.progress')).toBe(false)
    await page.waitForSelector(`[data-testid=inspect-result][data-name=${name}]`)
    expect(statSync(path).mtimeMs).toBe(written)
  })

  it('refuses a request past a bound with the bound in the message', async () => {
    await page.fill('[data-testid=inspect-max-attention-t]', '5000')
    await page.waitForSelector('[data-testid=inspect-request-errors]')
    const message = await text('inspect-request-errors')
    expect(message).toContain('maxAttentionT')
    expect(message).toContain(String(INSPECT_LIMITS.maxAttentionT))
    expect(await page.isDisabled('[data-testid=inspect-start]')).toBe(true)
    await page.fill('[data-testid=inspect-max-attention-t]', '256')
    await page.waitForSelector('[data-testid=inspect-request-errors]', { state: 'detached' })
    expect(await page.isDisabled('[data-testid=inspect-start]')).toBe(false)
  })

  it("overlays two runs' accuracy against length, the trained length marked", async () => {
    await page.goto(`${served.launchUrl}#/inspect?run=${parityIds.plain}`)
    await page.waitForSelector('[data-testid=inspect-empty]')
    await page.fill('[data-testid=inspect-max-attention-t]', '64')
    await page.click('[data-testid=inspect-start]')
    await page.waitForSelector(`[data-testid=inspect-result][data-run="${parityIds.plain}"]`, { timeout: 60_000 })
    // another run, and parity has no recall grid: the result opens on the state-tracking tab
    await page.waitForSelector('[data-testid=length-chart] canvas')
    expect(await attr('length-chart', 'data-series')).toBe('1')
    const plain = cachedResult((await attr('inspect-result', 'data-name'))!, parityIds.plain).result
    expect(plain.lengths!.trainedLength).toBe(16)
    expect(await text('inspect-diagnosis')).toMatch(/Accuracy (holds|drops)/)
    // the other run has no inspection yet: adding it runs one
    await page.selectOption('[data-testid=length-overlay-run]', parityIds.negative)
    await page.click('[data-testid=length-overlay-add]')
    await page.waitForSelector('[data-testid=length-chart][data-series="2"]', { timeout: 60_000 })
    const negativeName = readdirSync(join(served.workspace, 'runs', parityIds.negative, 'inspect'))
      .find((f) => !f.endsWith('.meta.json'))!
      .replace(/\.json$/, '')
    const negative = cachedResult(negativeName, parityIds.negative).result
    for (const [id, r] of [
      [parityIds.plain, plain],
      [parityIds.negative, negative],
    ] as const)
      for (const p of r.lengths!.points) expect(await text(`length-accuracy-${id}-${p.seqLen}`)).toBe(`${(100 * p.accuracy).toFixed(1)}%`)
    await page.screenshot({ path: join(artifactsDir(), 'inspect-state-tracking.png'), fullPage: true })
  })
})
