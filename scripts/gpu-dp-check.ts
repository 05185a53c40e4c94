// Data parallel over the GPUs of one box (issue 21), with NCCL: run by
// native/tools/gpu-check.sh's "dp" step on a box with 2 or more GPUs.
//
// 1. Parity: 200 MQAR steps of a small GLA in f32 on cuda:0 alone (this
//    process) and on cuda:0,1 (two engine processes, batch split in two,
//    gradients summed through NCCL). The sums run in another order, so the
//    curves agree to f32 rounding only while training has not amplified it:
//    the first EARLY steps within 1e-5 relative (the all-reduced gradient is
//    the one-GPU gradient), and the whole curve within the spread that f32
//    rounding alone gives this run: mean |Δloss| <= 1e-2 (the same config on
//    the CPU and on cuda:0 in f32, whose sums also differ only in order,
//    differ by up to 8e-3 in scripts/gpu-train-check.ts).
// 2. Scaling: tokens/s of the ~350M models (gpu-bench-models.ts) at T = 4096
//    in bf16, batch 8 per GPU, on 1 GPU and on N = 2 (and every power of two
//    up to the GPUs present): the median over MEASURE steps after WARMUP,
//    and the efficiency tokens/s(N) / (N tokens/s(1)).
// Writes $OUT/gpu-dp.json; prints a table.
//
// The engine processes are .device/engine-process.mjs, copied where the
// bundled job code looks for it (out/main/engine-process.js) by gpu-check.sh.
// Bundled: scripts/device-bundles.sh -> .device/gpu-dp-check.mjs
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { preset } from '../electron/api/presets'
import { resizeModel } from '../electron/api/resize'
import type { ModelSpec } from '../electron/api/model-spec'
import type { TrainSpec } from '../electron/api/train-spec'
import { loadAddon } from '../electron/engine/addon'
import { nativeBackend } from '../electron/engine/native-backend'
import { trainModel, type StepProgress } from '../electron/engine/train/trainer'
import { trainDataParallel } from '../electron/jobs/data-parallel'
import { forkLauncher } from '../electron/jobs/engine-process'
import { benchModel, benchTrain, MODELS } from './gpu-bench-models'

const WARMUP = Number(process.env.BENCH_WARMUP ?? 3)
const MEASURE = Number(process.env.BENCH_MEASURE ?? 10)
const PARITY_STEPS = Number(process.env.DP_PARITY_STEPS ?? 200)
const EARLY = 10
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Rank 0's (or the single process's) step reports of one run on `devices`. */
async function run(modelSpec: ModelSpec, trainSpec: TrainSpec, devices: number[]): Promise<StepProgress[]> {
  const steps: StepProgress[] = []
  if (devices.length === 1) {
    await trainModel({
      modelSpec,
      trainSpec: { ...trainSpec, device: devices[0]! },
      backend: nativeBackend(`cuda:${devices[0]}`),
      events: { onStep: (p) => steps.push(p) },
    })
    return steps
  }
  await trainDataParallel({
    launcher: forkLauncher(),
    params: { modelSpec, trainSpec, outDir: '' },
    devices,
    transport: 'nccl',
    onEvent: (rank, name, data) => rank === 0 && name === 'train.step' && steps.push(data as StepProgress),
  })
  return steps
}

async function parity(): Promise<Record<string, unknown>> {
  const modelSpec = resizeModel(preset('gla'), { d_model: 128, n_layers: 2, vocab_size: 512 })
  const trainSpec: TrainSpec = {
    ...benchTrain(PARITY_STEPS, 32, 128),
    task: { kind: 'mqar', seq_len: 128, num_kv_pairs: 8, power_a: 0.01, vocab_size: 512 },
    precision: 'f32',
    optimizer: { kind: 'adamw', lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1, grad_clip: 1 },
    schedule: { warmup_steps: 20, decay: 'cosine', min_lr_ratio: 0 },
  }
  const one = await run(modelSpec, trainSpec, [0])
  const two = await run(modelSpec, trainSpec, [0, 1])
  const diffs = one.map((p, n) => Math.abs(p.loss - (two[n]?.loss ?? NaN)))
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length
  const last = one.length - 1
  const finalRel = Math.abs(one[last]!.loss - two[last]!.loss) / Math.abs(one[last]!.loss)
  const earlyRel = Math.max(...one.slice(0, EARLY).map((p, n) => Math.abs(p.loss - two[n]!.loss) / Math.abs(p.loss)))
  const ok = two.length === one.length && earlyRel <= 1e-5 && mean <= 1e-2
  console.log(
    `parity ${PARITY_STEPS} steps, f32, batch 32: 1 GPU final loss ${one[last]!.loss.toFixed(5)}, 2 GPUs ${two[last]!.loss.toFixed(5)}; ` +
      `first ${EARLY} steps within ${earlyRel.toExponential(2)} relative, mean |Δloss| ${mean.toExponential(2)}, ` +
      `final relative ${finalRel.toExponential(2)}: ${ok ? 'ok' : 'FAIL'}`,
  )
  return {
    steps: PARITY_STEPS,
    one: one.map((p) => p.loss),
    two: two.map((p) => p.loss),
    early_steps: EARLY,
    early_max_rel_diff: earlyRel,
    mean_abs_diff: mean,
    final_rel_diff: finalRel,
    ok,
  }
}

async function scaling(gpus: number): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = []
  const counts = [1, 2, 4, 8].filter((n) => n <= gpus)
  for (const m of MODELS) {
    const modelSpec = benchModel(m.preset)
    const base: { n: number; tps: number; peak: number }[] = []
    for (const n of counts) {
      try {
        const steps = await run(modelSpec, benchTrain(WARMUP + MEASURE, 8 * n, 4096), [...Array(n).keys()])
        const tps = median(steps.filter((p) => p.step > WARMUP).map((p) => p.tokensPerSecond))
        base.push({ n, tps, peak: Math.max(...steps.map((p) => p.peakMemoryBytes)) })
        const eff = tps / (n * base[0]!.tps)
        rows.push({
          model: m.name,
          gpus: n,
          global_batch: 8 * n,
          tokens_per_s: tps,
          per_gpu_tokens_per_s: tps / n,
          efficiency: eff,
          peak_bytes_rank0: base[base.length - 1]!.peak,
        })
        console.log(`scaling ${m.name.padEnd(22)} ${n} GPU  ${tps.toFixed(0).padStart(9)} tokens/s  efficiency ${(100 * eff).toFixed(1)}%`)
      } catch (err) {
        rows.push({ model: m.name, gpus: n, error: (err as Error).message })
        console.log(`scaling ${m.name.padEnd(22)} ${n} GPU  FAIL: ${(err as Error).message}`)
      }
    }
  }
  return rows
}

async function main(): Promise<void> {
  const addon = loadAddon()
  const gpus = addon.backends().filter((b) => b.startsWith('cuda:')).length
  if (gpus < 2 || !addon.ncclAvailable?.()) {
    console.log(`gpu-dp-check: ${gpus} GPU(s), NCCL ${addon.ncclAvailable?.() ? 'built' : 'not built'}: skipped (needs 2 GPUs and NCCL)`)
    return
  }
  const result: Record<string, unknown> = { gpus }
  result.parity = await parity()
  if (process.env.DP_SCALING !== '0') result.scaling = await scaling(gpus)
  if (process.env.OUT) writeFileSync(join(process.env.OUT, 'gpu-dp.json'), JSON.stringify(result, null, 1))
}

void main()
