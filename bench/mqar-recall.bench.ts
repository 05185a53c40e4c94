// Recall benchmark (issue: the engine): MQAR on the CPU backend for a set of
// presets at 2 layers, d_model 64, vocabulary 512. Each run trains until eval
// accuracy reaches 0.99 or its time budget runs out, and the JSON records
// steps, wall time, accuracy and training tokens/s.
//
//   node --import tsx bench/mqar-recall.bench.ts [--seq-len 128 --pairs 8] [--budget-seconds 120]
//        [--budgets transformer:300,gated-deltanet:480] [--presets a,b,...] [--lr 0.001]
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { ModelSpec } from '../electron/api/model-spec'
import { resizeModel } from '../electron/api/resize'
import type { TrainSpec } from '../electron/api/train-spec'
import { loadAddon } from '../electron/engine/addon'
import { nativeBackend } from '../electron/engine/native-backend'
import { preset } from '../electron/engine/presets'
import { projectRoot } from '../electron/engine/project-root'
import { trainModel, type EvalProgress } from '../electron/engine/train/trainer'

const { values } = parseArgs({
  options: {
    'seq-len': { type: 'string', default: '128' },
    pairs: { type: 'string', default: '8' },
    'budget-seconds': { type: 'string', default: '70' },
    budgets: { type: 'string', default: 'transformer:400,gated-deltanet:560,hybrid:480' },
    presets: { type: 'string', default: 'transformer,linear-transformer,retnet,gla,mamba2,deltanet,gated-deltanet,hybrid' },
    steps: { type: 'string', default: '3000' },
    lr: { type: 'string', default: '0.001' },
    out: { type: 'string' },
  },
})
const T = Number(values['seq-len'])
const pairs = Number(values.pairs)
const defaultBudget = Number(values['budget-seconds'])
const budgets = new Map(
  values.budgets!
    .split(',')
    .filter(Boolean)
    .map((kv) => {
      const [id, seconds] = kv.split(':')
      return [id!, Number(seconds)] as const
    }),
)
const VOCAB = 512
const D_MODEL = 64

function modelFor(id: string): ModelSpec {
  if (id === 'hybrid') {
    // One Gated DeltaNet layer, one sliding-window softmax layer (window 16).
    const spec = resizeModel(preset('hybrid-gated-deltanet'), { d_model: D_MODEL, n_layers: 2, vocab_size: VOCAB })
    spec.layers[1] = { kind: 'softmax', heads: 2, window: 16, rotary: true }
    spec.hybrid = { ratio: 0.5, placement: 'interleave' }
    return spec
  }
  return resizeModel(preset(id), { d_model: D_MODEL, n_layers: 2, vocab_size: VOCAB })
}

function trainSpec(): TrainSpec {
  return {
    format: 'linea.train/1',
    task: { kind: 'mqar', seq_len: T, num_kv_pairs: pairs, power_a: 0.01, vocab_size: VOCAB },
    steps: Number(values.steps),
    batch_size: 64,
    optimizer: { kind: 'adamw', lr: Number(values.lr), beta1: 0.9, beta2: 0.98, eps: 1e-8, weight_decay: 0.1, grad_clip: 1 },
    schedule: { warmup_steps: 100, decay: 'cosine', min_lr_ratio: 0.1 },
    seed: 0,
    backend: 'cpu',
    device: 0,
    precision: 'f32',
    eval: { every: 100, batches: 4 },
    early_stop_accuracy: 0.99,
    checkpoint_every: 0,
  }
}

const cpu = nativeBackend('cpu')
const rows: Record<string, unknown>[] = []
const sweepStart = performance.now()
for (const id of values.presets!.split(',')) {
  const model = modelFor(id)
  const spec = trainSpec()
  const budget = budgets.get(id) ?? defaultBudget
  const started = performance.now()
  let best = 0
  let tokensPerSecond = 0
  let lastEval: EvalProgress | undefined
  const summary = await trainModel({
    modelSpec: model,
    trainSpec: spec,
    backend: cpu,
    events: {
      onStep: (p) => (tokensPerSecond = p.tokensPerSecond),
      onEval: (e) => {
        lastEval = e
        best = Math.max(best, e.headline)
        process.stderr.write(`  ${id} step ${e.step}: accuracy ${e.headline.toFixed(4)} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`)
      },
      shouldStop: () => (performance.now() - started) / 1000 > budget,
    },
  })
  const seconds = (performance.now() - started) / 1000
  const row = {
    preset: id,
    layers: model.layers.map((l) => (l.kind === 'softmax' ? `softmax(window ${l.window ?? 'full'})` : 'linear')),
    status: summary.status,
    steps: summary.steps,
    wall_seconds: Math.round(seconds * 10) / 10,
    budget_seconds: budget,
    final_accuracy: lastEval?.headline ?? null,
    best_accuracy: best,
    reached_0_99: best >= 0.99,
    train_tokens_per_second: Math.round(summary.tokensPerSecond),
    last_step_tokens_per_second: Math.round(tokensPerSecond),
    parameters: summary.parameters,
    accuracy_by_distance: lastEval?.sets[0]?.byTag.distance ?? null,
  }
  rows.push(row)
  process.stderr.write(`${id}: ${row.status} at step ${row.steps}, accuracy ${row.best_accuracy.toFixed(4)}, ${row.wall_seconds} s, ${row.train_tokens_per_second} tok/s\n`)
}

const info = loadAddon().info()
const result = {
  benchmark: 'mqar-recall',
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, blas: info.blas, engine: info.version, node: process.versions.node },
  settings: { seq_len: T, num_kv_pairs: pairs, vocab_size: VOCAB, d_model: D_MODEL, layers: 2, batch_size: 64, train_spec: trainSpec() },
  sweep_seconds: Math.round((performance.now() - sweepStart) / 1000),
  rows,
}
const out = values.out ?? join(projectRoot(), 'bench', `mqar-recall-T${T}-kv${pairs}.json`)
writeFileSync(out, JSON.stringify(result, null, 2) + '\n')
console.log('preset                 status         steps   wall s   best acc   tok/s')
for (const r of rows)
  console.log(
    `${String(r.preset).padEnd(22)} ${String(r.status).padEnd(14)} ${String(r.steps).padStart(5)} ${String(r.wall_seconds).padStart(8)} ${(r.best_accuracy as number).toFixed(4).padStart(10)} ${String(r.train_tokens_per_second).padStart(7)}`,
  )
console.log(`sweep: ${result.sweep_seconds} s; wrote ${out}`)
