// The `linea` command, run as a person would run it (from source, via tsx).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectRoot } from '../../../electron/platform/project-root'
import { quickTrainSpec, smallModelSpec } from '../../fixtures/runs'

function linea(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot(), 'electron', 'cli', 'index.ts'), ...args], {
    cwd: projectRoot(),
    encoding: 'utf8',
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('linea CLI', () => {
  it('info prints the engine, its backends and devices', () => {
    const r = linea('info')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Linea engine \d+\.\d+\.\d+/)
    expect(r.stdout).toContain('backends compiled: cpu')
    expect(r.stdout).toMatch(/ {2}cpu +\S/)
    expect(r.stdout).toContain('mixer_fwd')
    // a device whose memory is unknown (a WebGPU adapter) shows none, not "0 B"
    expect(r.stdout).not.toMatch(/, 0 B,/)
  })

  it('info --json prints machine-readable info', () => {
    const r = linea('info', '--json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).devices[0].id).toBe('cpu')
  })

  it('an unknown command or flag prints the usage and exits 2', () => {
    const unknown = linea('trian')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("linea: unknown command 'trian'")
    expect(unknown.stderr).toContain('usage: linea <command>')
    const flag = linea('info', '--verbose')
    expect(flag.code).toBe(2)
    expect(flag.stderr).toContain("Unknown option '--verbose'")
    const port = linea('serve', '--port', 'http')
    expect(port.code).toBe(2)
    expect(port.stderr).toContain('--port http is not a port number; valid: 0 (any free port) to 65535')
    expect(linea().code).toBe(2)
  })

  it('a missing addon build is explained with how to build it', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot(), 'electron', 'cli', 'index.ts'), 'info'], {
      cwd: projectRoot(),
      encoding: 'utf8',
      env: { ...process.env, LINEA_ADDON: '/nonexistent/linea.node' },
    })
    expect(r.status).toBe(1)
    expect(r.stderr).toContain("Linea's native engine (linea.node) could not be loaded")
    expect(r.stderr).toContain('npm run build:native')
  })
})

describe('linea train', () => {
  const dir = mkdtempSync(join(tmpdir(), 'linea-cli-train-'))
  const modelPath = join(dir, 'model.json')
  const trainPath = join(dir, 'train.json')
  writeFileSync(modelPath, JSON.stringify(smallModelSpec('gated-deltanet')))
  // early stop left at the train spec's default (0.99)
  writeFileSync(trainPath, JSON.stringify(quickTrainSpec({ steps: 6, eval: { every: 3, batches: 1 }, early_stop_accuracy: 0.99 })))

  it('trains a preset, writes metrics.jsonl and a checkpoint, prints a summary', () => {
    const out = join(dir, 'run')
    const r = linea('train', modelPath, trainPath, '--out', out)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('backend: cpu (asked for)')
    expect(r.stderr).toMatch(/\[#+\] 6\/6 loss \d/)
    expect(r.stdout).toMatch(/status: (completed after 6|early_stopped after \d+) steps/)
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines.filter((l) => l.type === 'train')).toHaveLength(6)
    expect(lines.filter((l) => l.type === 'eval').length).toBeGreaterThan(0)
    const ckpt = lines.find((l) => l.type === 'checkpoint').path
    expect(existsSync(ckpt)).toBe(true)
    expect(r.stdout).toContain(`checkpoint: ${ckpt}`)
  })

  it("--max-steps stops at N on the schedule of the spec's steps; the last progress line shows the last eval", () => {
    const out = join(dir, 'short')
    const long = join(dir, 'long.json')
    writeFileSync(
      long,
      JSON.stringify(quickTrainSpec({ steps: 40, eval: { every: 3, batches: 1 }, schedule: { warmup_steps: 1, decay: 'cosine', min_lr_ratio: 0 } })),
    )
    const r = linea('train', modelPath, long, '--out', out, '--max-steps', '5')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('status: completed after 5 steps')
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    const train = lines.filter((l) => l.type === 'train')
    expect(train.map((l) => l.step)).toEqual([1, 2, 3, 4, 5])
    // lr of step 5 (0-based 4) on a cosine over 40 steps, not 5: (4 − 1) / (40 − 1) of the way
    expect(train[4].lr).toBeCloseTo(1e-3 * 0.5 * (1 + Math.cos((Math.PI * 3) / 39)), 12)
    expect(JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')).max_steps).toBe(5)
    // The engine reports step 5 before the eval after it: the line printed last carries that eval, not the one of step 3.
    const evals = lines.filter((l) => l.type === 'eval')
    expect(evals.map((e) => e.step)).toEqual([3, 5])
    const progress = r.stderr.split('\n').filter((l) => l.includes(' 5/5 loss'))
    expect(progress.at(-1)).toContain(`eval acc ${evals[1].headline.toFixed(4)} @5`)
  })

  it("--init-from starts a run from a checkpoint's weights: its first loss is not a fresh model's", () => {
    const source = join(dir, 'source')
    const made = linea('train', modelPath, trainPath, '--out', source)
    expect(made.code, made.stderr).toBe(0)
    const ckpt = readFileSync(join(source, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; path?: string })
      .filter((l) => l.type === 'checkpoint')
      .at(-1)!.path!
    const firstLoss = (out: string) =>
      JSON.parse(
        readFileSync(join(out, 'metrics.jsonl'), 'utf8')
          .split('\n')
          .find((l) => l.includes('"train"'))!,
      ).loss as number
    const tuned = join(dir, 'tuned')
    const fresh = join(dir, 'fresh')
    expect(linea('train', modelPath, trainPath, '--out', tuned, '--init-from', ckpt, '--max-steps', '1').code).toBe(0)
    expect(linea('train', modelPath, trainPath, '--out', fresh, '--max-steps', '1').code).toBe(0)
    expect(Math.abs(firstLoss(tuned) - firstLoss(fresh))).toBeGreaterThan(1e-3)
    const both = linea('train', modelPath, trainPath, '--out', join(dir, 'both'), '--init-from', ckpt, '--resume', ckpt)
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('--init-from starts a new run from weights; --resume continues one')
  })

  it('refuses a --max-steps that is not a step of the run', () => {
    for (const bad of ['0', '7', '2.5', 'x']) {
      const r = linea('train', modelPath, trainPath, '--out', join(dir, `bad-${bad}`), '--max-steps', bad)
      expect(r.code, bad).toBe(2)
      expect(r.stderr).toContain(`--max-steps ${bad}: expected a whole number from 1 to the spec's steps (6)`)
    }
  })

  it("--backend and --precision replace the train spec's, checked like it; the run says which backend it took", () => {
    const out = join(dir, 'cpu-f64')
    const r = linea('train', modelPath, trainPath, '--out', out, '--max-steps', '2', '--backend', 'cpu', '--precision', 'f64')
    expect(r.code, r.stderr).toBe(0)
    const saved = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8'))
    expect([saved.backend, saved.precision]).toEqual(['cpu', 'f64'])
    expect(r.stderr).toMatch(/backend: .*cpu/)
    for (const [flags, message] of [
      [['--backend', 'tpu'], '--backend tpu: expected one of auto, cpu, cuda, webgpu or cuda:N'],
      [['--precision', 'f8'], '--precision f8: expected one of auto, f32, f64, bf16, f16'],
      [['--backend', 'cpu', '--precision', 'bf16'], "'bf16' needs a GPU backend"],
      [['--backend', 'cpu', '--precision', 'f16'], "'f16' runs on backend 'webgpu' (backend is 'cpu')"],
    ] as const) {
      const bad = linea('train', modelPath, trainPath, '--out', join(dir, 'bad-flags'), ...flags)
      expect(bad.code, flags.join(' ')).toBe(2)
      expect(bad.stderr).toContain(message)
    }
    const profile = linea('profile', 'gla', '--report', join(dir, 'p.html'), '--backend', 'gpu')
    expect(profile.code).toBe(2)
    expect(profile.stderr).toContain('--backend gpu: expected auto, cpu, cuda, cuda:N or webgpu')
  })

  it('refuses a bad spec file naming the field, and a missing --out', () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, JSON.stringify({ ...JSON.parse(readFileSync(modelPath, 'utf8')), d_model: 31 }))
    const r = linea('train', bad, trainPath, '--out', join(dir, 'x'))
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('is not a valid ModelSpec')
    expect(r.stderr).toContain('layers[0].heads')
    const missing = linea('train', join(dir, 'nope.json'), trainPath, '--out', join(dir, 'y'))
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('cannot read the model spec')
    const noOut = linea('train', modelPath, trainPath)
    expect(noOut.code).toBe(2)
    expect(noOut.stderr).toContain('--out <dir> is required')
  })
})
