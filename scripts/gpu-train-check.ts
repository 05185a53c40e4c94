// The training check of issue 16 on the GPU box: every preset (resized to
// d_model 64) trains the same MQAR run three times, on the CPU in f32, on
// cuda:0 in f32 and on cuda:0 in mixed precision (bf16 passes over f32
// weights), same seed and batches. Prints a table (loss curves' mean and
// final relative difference to the CPU, final eval accuracy, tokens/s of
// each) and writes $OUT/gpu-train.json; exits 1 when a curve or an accuracy
// is outside the tolerances below. Then a deliberate out-of-memory run on
// cuda:0 must fail with a clear error, and a small run must train after it.
// Without a CUDA backend it says so and exits 0.
//
// Bundled with esbuild and run by native/tools/gpu-check.sh (step "train"):
//   npx esbuild scripts/gpu-train-check.ts --bundle --platform=node --format=esm --outfile=.device/gpu-train-check.mjs
// Environment: PRESETS=a,b (default all), TRAIN_STEPS (200), TRAIN_BATCH (32), OUT (a folder for the JSON).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ModelSpec } from '../electron/api/model-spec'
import { preset, PRESET_IDS } from '../electron/api/presets'
import { resizeModel } from '../electron/api/resize'
import type { TrainSpec } from '../electron/api/train-spec'
import { loadAddon } from '../electron/engine/addon'
import { nativeBackend } from '../electron/engine/native-backend'
import type { RunPrecision } from '../electron/engine/precision'
import { trainModel } from '../electron/engine/train/trainer'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { InspectRequestSchema, type InspectResult } from '../electron/api/inspect'
import { inspectCheckpoint } from '../electron/engine/inspect/inspect-checkpoint'

// LINEA_CHECK_BACKEND=cpu runs the script against the CPU itself (no bf16, no out-of-memory run), to try it.
const CUDA = process.env.LINEA_CHECK_BACKEND ?? 'cuda:0'
const STEPS = Number(process.env.TRAIN_STEPS ?? 200)
const BATCH = Number(process.env.TRAIN_BATCH ?? 32)
// f32 on two backends: the same math in another order, amplified by 200 steps of training.
const F32_MEAN_TOLERANCE = 0.02 // mean over steps of |loss_gpu - loss_cpu| / loss_cpu
const F32_FINAL_TOLERANCE = 0.05
// bf16: a few parts in a thousand per rounding; the curve may wander, the result may not.
const BF16_FINAL_TOLERANCE = 0.1
const ACCURACY_TOLERANCE = 0.05 // absolute, final eval accuracy

interface Curve {
  losses: number[]
  accuracy: number
  tokensPerSecond: number
  seconds: number
}

function trainSpecFor(): TrainSpec {
  return {
    format: 'linea.train/1',
    task: { kind: 'mqar', seq_len: 64, num_kv_pairs: 4, power_a: 0.01, vocab_size: 128 },
    steps: STEPS,
    batch_size: BATCH,
    optimizer: { kind: 'adamw', lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1, grad_clip: 1 },
    schedule: { warmup_steps: 20, decay: 'cosine', min_lr_ratio: 0 },
    seed: 0,
    backend: 'cpu',
    device: 0,
    precision: 'f32',
    eval: { every: STEPS, batches: 4 },
    early_stop_accuracy: null,
    checkpoint_every: 0,
  }
}

function modelFor(id: string): ModelSpec {
  return resizeModel(preset(id), { d_model: 64, vocab_size: 128, n_layers: 2 })
}

async function train(modelSpec: ModelSpec, trainSpec: TrainSpec, backendId: string, precision: RunPrecision): Promise<Curve> {
  const losses: number[] = []
  let accuracy = NaN
  let tokens = 0
  const started = performance.now()
  await trainModel({
    modelSpec,
    trainSpec,
    backend: nativeBackend(backendId),
    precision,
    events: {
      onStep: (p) => {
        losses.push(p.loss)
        tokens += trainSpec.batch_size * trainSpec.task.seq_len
      },
      onEval: (e) => (accuracy = e.headline),
    },
  })
  const seconds = (performance.now() - started) / 1000
  return { losses, accuracy, tokensPerSecond: tokens / seconds, seconds }
}

/** Mean and final relative difference of two loss curves. */
function curveDiff(got: number[], ref: number[]): { mean: number; final: number } {
  const rel = ref.map((r, i) => Math.abs((got[i] ?? NaN) - r) / Math.abs(r))
  return { mean: rel.reduce((a, b) => a + b, 0) / rel.length, final: rel[rel.length - 1]! }
}

/** A checkpoint trained on cuda:0, inspected on the CPU and on cuda:0: the same predictions, recall and output norms. */
async function inspectParity(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'linea-gpu-inspect-'))
  const modelSpec = modelFor('hybrid-gla')
  const summary = await trainModel({ modelSpec, trainSpec: { ...trainSpecFor(), steps: 50 }, backend: nativeBackend(CUDA), precision: 'f32', outDir: dir })
  const request = InspectRequestSchema.parse({ runId: 'gpu-check', recall: { examples: 128 } })
  const params = { checkpointPath: summary.checkpoint!, checkpoint: 'last', runId: 'gpu-check', runName: 'gpu-check', name: 'gpu-check', request }
  const cpu: InspectResult = await inspectCheckpoint(params, nativeBackend('cpu'))
  const gpu: InspectResult = await inspectCheckpoint(params, nativeBackend(CUDA))
  const same = cpu.input.predicted.filter((p, i) => p === gpu.input.predicted[i]).length / cpu.input.predicted.length
  const recallDiff = Math.max(0, ...(cpu.recall?.accuracy ?? []).map((a, i) => Math.abs(a - (gpu.recall?.accuracy[i] ?? NaN))))
  let num = 0
  let den = 0
  cpu.layers.forEach((l, li) =>
    l.heads.forEach((h, hi) =>
      h.outputNorm.forEach((x, t) => {
        num += (x - gpu.layers[li]!.heads[hi]!.outputNorm[t]!) ** 2
        den += x * x
      }),
    ),
  )
  const normErr = Math.sqrt(num / den)
  const ok = same >= 0.98 && recallDiff <= 0.02 && normErr <= 1e-3
  return `${ok ? 'ok' : 'FAIL'}: predictions agree ${(100 * same).toFixed(1)}%, recall accuracy differs by at most ${recallDiff.toFixed(3)}, output norms ${normErr.toExponential(2)} apart (CPU ${cpu.seconds.toFixed(2)} s, ${CUDA} ${gpu.seconds.toFixed(2)} s)`
}

async function outOfMemory(): Promise<string> {
  // About 1.6 TB of activations: no GPU has it; the engine must say so and go on.
  const huge = resizeModel(preset('gla'), { d_model: 4096, vocab_size: 128, n_layers: 8 })
  const spec = {
    ...trainSpecFor(),
    steps: 1,
    batch_size: 4096,
    task: { kind: 'mqar' as const, seq_len: 2048, num_kv_pairs: 4, power_a: 0.01, vocab_size: 128 },
  }
  try {
    await train(huge, spec, CUDA, 'bf16')
    return 'FAIL: an impossible run trained'
  } catch (err) {
    const message = (err as Error).message
    const after = await train(modelFor('gla'), { ...trainSpecFor(), steps: 5 }, CUDA, 'bf16')
    const clear = /out of memory/i.test(message)
    return `${clear && after.losses.length === 5 ? 'ok' : 'FAIL'}: "${message.slice(0, 300)}"; the next run trained ${after.losses.length} steps`
  }
}

async function main(): Promise<void> {
  const names = loadAddon().backends()
  if (!names.includes(CUDA)) {
    console.log(`gpu-train-check: no ${CUDA} (backends: ${names.join(', ')}): skipped`)
    return
  }
  const ids = process.env.PRESETS ? process.env.PRESETS.split(',') : PRESET_IDS()
  const rows: Record<string, unknown>[] = []
  let failed = 0
  console.log(
    `MQAR T = 64, 4 pairs, batch ${BATCH}, ${STEPS} steps, d_model 64, 2 layers; tolerances: f32 curve mean ${F32_MEAN_TOLERANCE}, final ${F32_FINAL_TOLERANCE}; bf16 final ${BF16_FINAL_TOLERANCE}; accuracy ±${ACCURACY_TOLERANCE}`,
  )
  console.log('preset                     f32 mean  f32 final  bf16 final  acc cpu  acc f32  acc bf16  tok/s cpu  tok/s f32  tok/s bf16  ok')
  for (const id of ids) {
    const modelSpec = modelFor(id)
    const trainSpec = trainSpecFor()
    try {
      const cpu = await train(modelSpec, trainSpec, 'cpu', 'f32')
      const f32 = await train(modelSpec, trainSpec, CUDA, 'f32')
      const bf16 = await train(modelSpec, trainSpec, CUDA, CUDA.startsWith('cuda') ? 'bf16' : 'f32')
      const d32 = curveDiff(f32.losses, cpu.losses)
      const d16 = curveDiff(bf16.losses, cpu.losses)
      const ok =
        d32.mean <= F32_MEAN_TOLERANCE &&
        d32.final <= F32_FINAL_TOLERANCE &&
        d16.final <= BF16_FINAL_TOLERANCE &&
        Math.abs(f32.accuracy - cpu.accuracy) <= ACCURACY_TOLERANCE &&
        Math.abs(bf16.accuracy - cpu.accuracy) <= ACCURACY_TOLERANCE
      if (!ok) failed++
      const f = (x: number, w: number, d = 4) => x.toFixed(d).padStart(w)
      console.log(
        `${id.padEnd(26)} ${f(d32.mean, 8)} ${f(d32.final, 10)} ${f(d16.final, 11)} ${f(cpu.accuracy, 8, 3)} ${f(f32.accuracy, 8, 3)} ${f(bf16.accuracy, 9, 3)}` +
          ` ${f(cpu.tokensPerSecond, 10, 0)} ${f(f32.tokensPerSecond, 10, 0)} ${f(bf16.tokensPerSecond, 11, 0)}  ${ok ? 'ok' : 'FAIL'}`,
      )
      rows.push({ preset: id, cpu_f32: cpu, cuda_f32: f32, cuda_bf16: bf16, f32_curve: d32, bf16_curve: d16, ok })
    } catch (err) {
      failed++
      console.log(`${id.padEnd(26)} FAIL: ${(err as Error).message}`)
      rows.push({ preset: id, error: (err as Error).message })
    }
  }
  const inspect = await inspectParity().catch((err) => `FAIL: ${(err as Error).message}`)
  console.log(`inspect cpu vs ${CUDA}: ${inspect}`)
  if (!inspect.startsWith('ok')) failed++
  const oom = CUDA.startsWith('cuda') ? await outOfMemory() : 'ok: skipped (not a GPU)'
  console.log(`out of memory: ${oom}`)
  if (!oom.startsWith('ok')) failed++
  if (process.env.OUT) {
    const device = loadAddon()
      .info()
      .devices.find((d) => d.id === CUDA)
    writeFileSync(
      join(process.env.OUT, 'gpu-train.json'),
      JSON.stringify({ device: device ? `${device.name} (${device.detail})` : CUDA, steps: STEPS, batch: BATCH, rows, inspect, outOfMemory: oom }, null, 1),
    )
  }
  console.log(`gpu-train-check: ${ids.length - rows.filter((r) => r.ok !== true).length} of ${ids.length} presets within tolerance`)
  if (failed) process.exitCode = 1
}

void main()
