// Profiling as a job: an engine process profiles a small model, the
// workspace gets profile.json and the report; a bad spec is refused first;
// the CLI does the same from a terminal.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CEILING_PROBE_MIN_REPEATS, type ProfileResult } from '../../../electron/api/profile'
import { resizeModel } from '../../../electron/api/resize'
import { projectRoot } from '../../../electron/platform/project-root'
import { preset } from '../../../electron/api/presets'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { LabEventBus } from '../../../electron/services/events'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { dispatchLabApi } from '../../../electron/services/dispatch'
import { labDeps } from '../../fixtures/lab'
import { traceProblems, type CheckedEvent } from '../../fixtures/trace-check'
import { quickTrainSpec, smallModelSpec } from '../../fixtures/runs'
import { until } from '../../fixtures/until'
import type { RunRecord } from '../../../electron/api/runs'

const events = new LabEventBus()
const engine = new EngineService(forkLauncher(), events)
const deps = labDeps(engine, events)
const handlers = createLabHandlers(deps)
afterAll(() => {
  engine.stop()
  deps.profiles.stop()
  deps.workspaces.close()
})

const small = () => resizeModel(preset('hybrid-gla'), { d_model: 32, vocab_size: 64, heads: 2 })
const quick = { batchSize: 2, seqLen: 32, warmup: 0, repeats: 2, sweepLengths: [32, 64], sweepBudgetSeconds: 30 }

describe('profiling', () => {
  it('profiles in an engine process and leaves profile.json and the report in the workspace', async () => {
    const progress: number[] = []
    events.subscribe((name, data) => {
      if (name === 'profile.progress') progress.push((data as { fraction: number }).fraction)
    })
    const started = (await dispatchLabApi(handlers, 'startProfile', { spec: small(), settings: quick })) as { id: string; status: string }
    expect(started.status).toBe('running')
    const done = await deps.profiles.wait(started.id)
    expect(done.status, done.failure).toBe('done')
    expect(done.report).toMatchObject({ html: 'report.html', pdfError: 'no PDF renderer in this mode' })
    const dir = join(deps.workspaces.workspace.root, 'profiles', started.id)
    expect(existsSync(join(dir, 'profile.json'))).toBe(true)
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('Linea profile: ')
    const result = (await dispatchLabApi(handlers, 'getProfile', { id: started.id })) as { sweep: { model: { points: unknown[] } }; ops: { scope: string }[] }
    expect(result.sweep.model.points).toHaveLength(2)
    expect(new Set(result.ops.map((o) => o.scope))).toEqual(
      new Set([
        'embedding',
        'layers.0.mixer',
        'layers.0.mlp',
        'layers.1.mixer',
        'layers.1.mlp',
        'layers.2.mixer',
        'layers.2.mlp',
        'layers.3.attention',
        'layers.3.mlp',
        'head',
        'loss',
        'optimizer',
      ]),
    )
    expect(progress.at(-1)).toBe(1)
    expect((await dispatchLabApi(handlers, 'listProfiles', {})) as unknown[]).toHaveLength(1)
  })

  it('a profile taken while a training run is active says so in its file', async () => {
    const run = (await dispatchLabApi(handlers, 'startRun', {
      name: 'competing',
      modelSpec: smallModelSpec(),
      trainSpec: quickTrainSpec({ steps: 100_000, eval: { every: 50_000, batches: 1 } }),
    })) as RunRecord
    try {
      await until('the run to train', () => deps.workspaces.runner.runningId === run.id, 60_000)
      const started = (await dispatchLabApi(handlers, 'startProfile', { spec: small(), settings: { ...quick, sweepLengths: [32] } })) as { id: string }
      const done = await deps.profiles.wait(started.id)
      expect(done.status, done.failure).toBe('done')
      const saved = JSON.parse(readFileSync(join(deps.workspaces.workspace.root, 'profiles', started.id, 'profile.json'), 'utf8')) as ProfileResult
      expect(saved.warnings?.some((w) => w.includes(`A training run was active while this profile ran (${run.id})`))).toBe(true)
    } finally {
      await dispatchLabApi(handlers, 'cancelRun', { id: run.id, force: true })
      await until('the run to stop', () => deps.workspaces.runner.runningId === undefined, 60_000)
    }
  }, 180_000)

  it('refuses a spec that fails validation, with the validation message', async () => {
    await expect(dispatchLabApi(handlers, 'startProfile', { spec: { ...small(), d_model: 33 } })).rejects.toThrow(
      /profiling refused[\s\S]*layers\[0\]\.heads: 2 does not divide d_model 33/,
    )
  })

  it('linea profile writes the report (and refuses a bad spec file)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'linea-cli-profile-'))
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot(), 'electron', 'cli', 'index.ts'), ...args], { cwd: projectRoot(), encoding: 'utf8' })
    const ok = cli(
      'profile',
      'gla',
      '--report',
      join(dir, 'r.html'),
      '--d-model',
      '32',
      '--seq-len',
      '32',
      '--batch',
      '2',
      '--sweep-lengths',
      '32,64',
      '--sweep-budget',
      '30',
      '--repeats',
      '4',
      '--probe-seconds',
      '0.05',
      '--trace',
      join(dir, 'r.trace.json'),
    )
    expect(ok.status, ok.stderr).toBe(0)
    // the trace, as Perfetto reads it: well formed, one event per op call of the timed step
    expect(ok.stdout).toMatch(/trace: .*r\.trace\.json \(\d+ events; open in ui\.perfetto\.dev\)/)
    const trace = JSON.parse(readFileSync(join(dir, 'r.trace.json'), 'utf8')) as { traceEvents: CheckedEvent[] }
    expect(traceProblems(trace)).toEqual([])
    const written = JSON.parse(readFileSync(join(dir, 'r.profile.json'), 'utf8')) as ProfileResult
    const opEvents = trace.traceEvents.filter((e) => e.args?.op !== undefined)
    expect(opEvents.length).toBe(written.ops.reduce((n, o) => n + o.calls, 0))
    expect(new Set(opEvents.map((e) => e.cat))).toEqual(new Set(['forward', 'backward', 'optimizer']))
    expect(new Set(opEvents.map((e) => e.args!.scope))).toEqual(new Set(written.ops.map((o) => o.scope)))
    // spreads over the 4 repeats asked for, ceilings probed past the minimum repeats
    expect(written.settings.repeats).toBe(4)
    expect(written.step.spread!.totalMs.n).toBe(4)
    for (const o of written.ops) expect(o.spread!.min <= o.ms && o.ms <= o.spread!.max, o.op).toBe(true)
    expect(written.ceilings.spread!.flopsPerSecond.n).toBeGreaterThanOrEqual(CEILING_PROBE_MIN_REPEATS)
    expect(ok.stdout).toMatch(/step middle half [\d.]+–[\d.]+ ms over 4 repeats/)
    expect(ok.stdout).toContain(`report: ${join(dir, 'r.html')}`)
    expect(ok.stdout).toMatch(/step [\d.]+ ms \(forward/)
    expect(readFileSync(join(dir, 'r.html'), 'utf8')).toContain('<h2>How it scales with sequence length</h2>')
    expect(existsSync(join(dir, 'r.profile.json'))).toBe(true)
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...small(), d_model: 33 }))
    const bad = cli('profile', join(dir, 'bad.json'), '--report', join(dir, 'x.html'))
    expect(bad.status).toBe(2)
    expect(bad.stderr).toContain('is not a valid ModelSpec (profiling refused)')
  })
})
