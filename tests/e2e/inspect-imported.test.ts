// A model trained elsewhere on the Inspect screen, in real Chromium against
// `linea serve`: fla's own GLA hybrid checkpoint (GLA, softmax, GLA, softmax;
// random weights saved by fla's save_pretrained on the GPU box, sharded with
// an index: tests/fixtures/fla-checkpoints/gla-hybrid-float32) imported with
// `linea import` into a fresh workspace. Its run page says where it came
// from; an inspection from the Runs table shows recall, the GLA layers' state
// over time and the softmax layers' attention maps, read back from the result
// the engine wrote into the run folder.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { InspectResult } from '../../electron/api/inspect'
import { projectRoot } from '../../electron/platform/project-root'
import { useServedApp } from './app'
import { artifactsDir } from './browser'

const FIXTURE = join(projectRoot(), 'tests', 'fixtures', 'fla-checkpoints', 'gla-hybrid-float32')

let runId: string

const text = async (testid: string) => (await page.textContent(`[data-testid=${testid}]`))?.trim() ?? ''
const attr = (testid: string, name: string) => page.getAttribute(`[data-testid=${testid}]`, name)
const hasCanvas = (testid: string) => page.$eval(`[data-testid=${testid}]`, (el) => !!el.querySelector('canvas'))

const { served, page } = useServedApp({
  workspace: () => {
    const workspace = join(mkdtempSync(join(tmpdir(), 'linea-e2e-imported-')), 'ws')
    const r = spawnSync(process.execPath, [join(projectRoot(), 'out', 'main', 'cli.js'), 'import', FIXTURE, workspace], { encoding: 'utf8', timeout: 90_000 })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toContain('imported gla (F32)')
    runId = readdirSync(join(workspace, 'runs'))[0]!
    return workspace
  },
})

describe("an fla checkpoint on the Inspect screen (linea import's run)", () => {
  let result: InspectResult

  it('shows the run as imported from fla, then inspects it from the Runs table and shows its recall', async () => {
    await page.goto(served.launchUrl)
    await page.goto(`${served.url}#/runs/${runId}`)
    await page.waitForSelector('[data-testid=run-page-run-imported]')
    expect(await text('run-page-run-imported')).toBe('imported from fla (gla)')
    expect(await text('run-page-run-status')).toBe('completed')

    await page.click('[data-testid=nav-workspace]')
    await page.click(`[data-testid=run-inspect-${runId}]`)
    await page.waitForSelector('[data-testid=inspect-form]')
    await page.waitForFunction((id) => (document.querySelector('[data-testid=inspect-run]') as HTMLSelectElement | null)?.value === id, runId)
    await page.fill('[data-testid=inspect-recall-examples]', '32')
    await page.click('[data-testid=inspect-start]')
    await page.waitForSelector('[data-testid=inspect-result]', { timeout: 90_000 })
    const name = (await attr('inspect-result', 'data-name'))!
    result = JSON.parse(readFileSync(join(served.workspace, 'runs', runId, 'inspect', `${name}.json`), 'utf8')) as InspectResult
    expect(result.layers.map((l) => l.kind)).toEqual(['linear', 'softmax', 'linear', 'softmax'])

    // recall per number of pairs, as the engine measured it (random weights: near chance, but measured)
    const recall = result.recall!
    expect(recall.numKvPairs.length).toBeGreaterThan(0)
    for (const [j, n] of recall.numKvPairs.entries()) expect(await text(`recall-accuracy-${n}`)).toBe(`${(100 * recall.accuracy[j]!).toFixed(1)}%`)
    expect(await hasCanvas('recall-distance-chart')).toBe(true)
  })

  it("shows the GLA layers' state over time", async () => {
    const linear = result.layers.find((l) => l.kind === 'linear')!
    await page.click('[data-testid=inspect-tab-state]')
    await page.waitForSelector('[data-testid=state-norm-chart] canvas')
    expect(Number(await attr('state-norm-chart', 'data-series'))).toBe(linear.heads.length)
    expect(await hasCanvas('state-heatmap-chart')).toBe(true)
    const snaps = linear.heads[0]!.snapshots!
    expect(await text('state-step-label')).toBe(String(snaps.at(-1)!.t))
  })

  it("shows the softmax layers' attention maps per head", async () => {
    await page.click('[data-testid=inspect-tab-attention]')
    const T = result.input.tokens.length
    const softmax = result.layers.filter((l) => l.kind === 'softmax')
    // 4 layers x 4 heads are more maps than the tab draws at once: head 0 first, the picker for the others
    for (const head of softmax[0]!.heads.map((h) => h.head)) {
      await page.selectOption('[data-testid=attention-head]', String(head))
      for (const layer of softmax) {
        const id = `attention-main-map-${layer.index}-${head}`
        await page.waitForSelector(`[data-testid=${id}] canvas`)
        expect(Number(await attr(id, 'data-values'))).toBe(T * T)
      }
    }
    await page.screenshot({ path: join(artifactsDir(), 'inspect-imported.png'), fullPage: true })
  })
})
