// `linea inspect`, run as a person would: train a tiny model with
// `linea train`, then inspect its checkpoint (the file, and a run folder).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { InspectResult } from '../../../electron/api/inspect'
import type { ModelSpec } from '../../../electron/api/model-spec'
import { resizeModel } from '../../../electron/api/resize'
import type { Task } from '../../../electron/api/train-spec'
import { projectRoot } from '../../../electron/platform/project-root'
import { preset } from '../../../electron/api/presets'
import { trainSpec } from '../../fixtures/specs'

function linea(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot(), 'electron', 'cli', 'index.ts'), ...args], {
    cwd: projectRoot(),
    encoding: 'utf8',
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

const dir = mkdtempSync(join(tmpdir(), 'linea-cli-inspect-'))
const T = 32

function trainTiny(name: string, presetId: string, task: Task, vocab: number, model: Partial<ModelSpec> = {}): string {
  const modelPath = join(dir, `${name}.model.json`)
  const trainPath = join(dir, `${name}.train.json`)
  writeFileSync(modelPath, JSON.stringify({ ...resizeModel(preset(presetId), { d_model: 32, vocab_size: vocab, heads: 2, n_layers: 2 }), ...model }))
  writeFileSync(
    trainPath,
    JSON.stringify(
      trainSpec({
        task,
        steps: 8,
        batch_size: 4,
        backend: 'cpu',
        schedule: { warmup_steps: 1, decay: 'cosine', min_lr_ratio: 0.1 },
        eval: { every: 8, batches: 1 },
      }),
    ),
  )
  const out = join(dir, name)
  const r = linea('train', modelPath, trainPath, '--out', out)
  expect(r.code, r.stderr).toBe(0)
  return out
}

let mqarRun: string
let checkpoint: string

beforeAll(() => {
  mqarRun = trainTiny('mqar', 'hybrid-gla', { kind: 'mqar', seq_len: T, num_kv_pairs: 4, power_a: 0.01, vocab_size: 64 }, 64)
  checkpoint = join(mqarRun, readdirSync(mqarRun).find((f) => f.endsWith('.safetensors')) ?? `checkpoints/${readdirSync(join(mqarRun, 'checkpoints')).at(-1)}`)
}, 120_000)

describe('linea inspect', () => {
  it('inspects an MQAR checkpoint: layers, maps, the recall grid and the example', () => {
    const out = join(dir, 'mqar-inspect.json')
    const r = linea('inspect', checkpoint, '--out', out, '--task', 'mqar', '--pairs', '1,2,4', '--examples', '16', '--max-attention-t', '64', '--example', '3')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('] capturing 2 layers over 32 tokens')
    expect(r.stdout).toMatch(/recall by number of pairs: 1: [\d.]+%, 2: [\d.]+%, 4: [\d.]+%/)
    const result = JSON.parse(readFileSync(out, 'utf8')) as InspectResult
    expect(result.format).toBe('linea.inspect/1')
    expect(result.layers.map((l) => l.kind)).toEqual(['linear', 'softmax'])
    for (const layer of result.layers) for (const h of layer.heads) expect(h.attention).toHaveLength(T * T)
    expect(result.input.tokens).toHaveLength(T)
    expect(result.input.pairs).toHaveLength(4)
    for (const p of result.input.pairs!) {
      expect(result.input.tokens[p.query]).toBe(result.input.tokens[p.key]) // the query repeats its key
      expect(result.input.labels[p.query]).toBe(result.input.tokens[p.value]) // and asks for its value
    }
    const recall = result.recall!
    expect(recall.numKvPairs).toEqual([1, 2, 4])
    expect(recall.trainedNumKvPairs).toBe(4)
    // every example's every query lands in one distance bucket: 16 examples × n queries
    recall.numKvPairs.forEach((n, j) => {
      expect(recall.byDistance[j]!.reduce((s, c) => s + c.count, 0)).toBe(16 * n)
      expect(recall.byPosition[j]!.reduce((s, c) => s + c.count, 0)).toBe(16 * n)
      // and in one of the two kinds: key only in its pair, or also earlier as noise
      expect(recall.byKeyInNoise![j]!).toHaveLength(2)
      expect(recall.byKeyInNoise![j]!.reduce((s, c) => s + c.count, 0)).toBe(16 * n)
    })
    expect(recall.keyInNoiseBuckets).toEqual(['key only in its pair', 'key also earlier as noise'])
    expect(result.name).toMatch(/^step-\d+-example-3$/)
  })

  it('inspects the folder linea train wrote: its latest checkpoint, or the one --checkpoint names', () => {
    const out = join(dir, 'train-out.json')
    const r = linea('inspect', mqarRun, '--out', out, '--pairs', '4', '--examples', '4')
    expect(r.code, r.stderr).toBe(0)
    const latest = readdirSync(join(mqarRun, 'checkpoints')).at(-1)!
    const result = JSON.parse(readFileSync(out, 'utf8')) as InspectResult
    expect([result.runId, result.checkpoint]).toEqual(['mqar', `checkpoints/${latest}`])
    const wrong = linea('inspect', mqarRun, '--out', out, '--checkpoint', 'checkpoints/step-9999999.safetensors')
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain(`checkpoint 'checkpoints/step-9999999.safetensors' does not exist in ${mqarRun}; it has: checkpoints/${latest}`)
    const empty = mkdtempSync(join(tmpdir(), 'linea-empty-run-'))
    const none = linea('inspect', empty, '--out', out)
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('has no run.json and no checkpoints/step-N.safetensors')
  })

  it('inspects a run folder through its run.json, and reads typed text in byte-level models only', () => {
    const ckpt = readdirSync(join(mqarRun, 'checkpoints')).at(-1)!
    writeFileSync(join(mqarRun, 'run.json'), JSON.stringify({ id: 'tiny', name: 'tiny mqar', status: 'completed', checkpoint: `checkpoints/${ckpt}` }))
    const out = join(dir, 'folder.json')
    const r = linea('inspect', mqarRun, '--out', out, '--pairs', '4', '--examples', '4', '--state-steps', '0,15,31')
    expect(r.code, r.stderr).toBe(0)
    const result = JSON.parse(readFileSync(out, 'utf8')) as InspectResult
    expect(result.runId).toBe('tiny')
    expect(result.layers[0]!.heads[0]!.snapshots!.map((s) => s.t)).toEqual([0, 15, 31])
    const text = linea('inspect', mqarRun, '--out', join(dir, 'text.json'), '--text', 'hello')
    expect(text.code).toBe(2)
    expect(text.stderr).toContain("this model's vocabulary is 64")
  })

  it('refuses what it cannot do, naming the value and what is valid', () => {
    const wrongTask = linea('inspect', checkpoint, '--out', join(dir, 'x.json'), '--task', 'parity')
    expect(wrongTask.code).toBe(2)
    expect(wrongTask.stderr).toContain("this checkpoint was trained on 'mqar'")
    const tooMany = linea('inspect', checkpoint, '--out', join(dir, 'x.json'), '--pairs', '9', '--examples', '2')
    expect(tooMany.code).toBe(2)
    expect(tooMany.stderr).toContain('recall.numKvPairs: 9 does not fit this task (seq_len 32, vocab_size 64); valid: 1..8')
    const head = linea('inspect', checkpoint, '--out', join(dir, 'x.json'), '--heads', '5')
    expect(head.code).toBe(2)
    expect(head.stderr).toContain('head 5 does not exist; layer 0 has heads 0..1')
    const missing = linea('inspect', join(dir, 'nope'), '--out', join(dir, 'x.json'))
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('does not exist; give a run folder')
  })

  it('draws the accuracy-by-length curve of a state-tracking model', () => {
    const run = trainTiny('parity', 'deltanet-negative-eigen', { kind: 'parity', seq_len: 16, eval_seq_lens: [64] }, 8)
    const ckpt = join(run, 'checkpoints', readdirSync(join(run, 'checkpoints')).at(-1)!)
    const out = join(dir, 'parity.json')
    const r = linea('inspect', ckpt, '--out', out, '--max-attention-t', '16')
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/accuracy by length \(trained 16\): 8: [\d.]+%, 16: [\d.]+%, 32: [\d.]+%, 64: [\d.]+%, 128: [\d.]+%/)
    const result = JSON.parse(readFileSync(out, 'utf8')) as InspectResult
    expect(result.lengths!.points.map((p) => p.seqLen)).toEqual([8, 16, 32, 64, 128])
    expect(result.lengths!.points.every((p) => p.count > 0 && p.accuracy >= 0 && p.accuracy <= 1)).toBe(true)
    expect(result.recall).toBeUndefined()
  })

  it('with learned positions, stops the default length curve at the table and refuses a longer length', () => {
    const run = trainTiny('parity-learned', 'deltanet', { kind: 'parity', seq_len: 16, eval_seq_lens: [32] }, 8, { position: 'learned', max_positions: 32 })
    const out = join(dir, 'parity-learned.json')
    const r = linea('inspect', run, '--out', out, '--max-attention-t', '16')
    expect(r.code, r.stderr).toBe(0)
    expect((JSON.parse(readFileSync(out, 'utf8')) as InspectResult).lengths!.points.map((p) => p.seqLen)).toEqual([8, 16, 32])
    const longer = linea('inspect', run, '--out', join(dir, 'x.json'), '--lengths', '16,64')
    expect(longer.code).toBe(2)
    expect(longer.stderr).toContain('an input of 64 tokens is longer than the 32 learned positions of this model')
  })
})
