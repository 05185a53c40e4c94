// Training throughput on the GPU box (issue 16's benchmark, Linea's side):
// the full training step (forward, backward, clip, AdamW) of two ~350M models
// at T = 4096 in mixed precision (bf16 passes over f32 weights) on cuda:0:
// a GLA + softmax hybrid (1 softmax layer in 4, as the preset places it) and
// a Gated DeltaNet, both d_model 1024, 20 layers, 8 heads, vocabulary 32000.
// The peer, flash-linear-attention's layers in PyTorch on the same shapes,
// is bench/reference/gpu-train-peer.py, run by the same gpu-check.sh step.
//
// Method: WARMUP steps, then MEASURE steps' tokens over their wall time (each
// step ends with its one read, so the time covers their GPU work); peak
// memory from the allocator; model FLOPs utilization against the H200's
// dense bf16 peak (989 TFLOP/s), with training FLOPs per token = 3 x the
// forward FLOPs per token at the mean context T/2 (engine/estimate.ts).
// Writes $OUT/gpu-train-bench.json; prints one line per model.
//
// Bundled: npx esbuild scripts/gpu-train-bench.ts --bundle --platform=node --format=esm --outfile=.device/gpu-train-bench.mjs
// Environment: BENCH_BATCH (8), BENCH_SEQ (4096), BENCH_MEASURE (10), BENCH_BIG / BENCH_SMALL (0: skip that
// part), BENCH_PROFILE (1: also where each big model's step goes, op by op, from the profiler's
// per-op device timing; $OUT/gpu-train-profile.json), LINEA_CHECK_BACKEND (cuda:0).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ModelSpec } from '../electron/api/model-spec'
import { preset } from '../electron/api/presets'
import { resizeModel } from '../electron/api/resize'
import type { TrainSpec } from '../electron/api/train-spec'
import { loadAddon } from '../electron/engine/addon'
import { estimateModel, paramCounts } from '../electron/engine/estimate'
import { nativeBackend } from '../electron/engine/native-backend'
import { profileModel } from '../electron/engine/profile/profiler'
import { trainModel } from '../electron/engine/train/trainer'
import { benchModel, benchTrain as trainOf, MODELS } from './gpu-bench-models'

const benchTrain = (steps: number) => trainOf(steps, BATCH, SEQ)

const BACKEND = process.env.LINEA_CHECK_BACKEND ?? 'cuda:0'
const BATCH = Number(process.env.BENCH_BATCH ?? 8)
const SEQ = Number(process.env.BENCH_SEQ ?? 4096)
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3)
const MEASURE = Number(process.env.BENCH_MEASURE ?? 10)
const PEAK_BF16_FLOPS = 989e12 // H200 SXM dense bf16

/**
 * Tokens/s of the steps after WARMUP: their tokens over the wall time from the end of the last
 * warm-up step to the end of the last step (steps overlap on the device, so a single step's
 * time is not its own; over a run of steps the wall time is). perSecond keeps the trainer's
 * reported figure per step, a moving window that still holds warm-up steps for its first
 * few values (the first step allocates), which an earlier median of them undercounted.
 */
async function throughput(
  spec: ModelSpec,
  train: TrainSpec,
  backendId: string,
  precision: 'f32' | 'bf16',
): Promise<{ tokensPerSecond: number; perSecond: number[]; peak: number }> {
  const perSecond: number[] = []
  let peak = 0
  let warmEnd = 0
  let end = 0
  let measured = 0
  await trainModel({
    modelSpec: spec,
    trainSpec: train,
    backend: nativeBackend(backendId),
    precision,
    events: {
      onStep: (p) => {
        if (p.step === WARMUP) warmEnd = p.elapsedSeconds
        if (p.step > WARMUP) {
          perSecond.push(p.tokensPerSecond)
          end = p.elapsedSeconds
          measured++
        }
        peak = Math.max(peak, p.peakMemoryBytes)
      },
    },
  })
  const tokensPerStep = train.batch_size * train.task.seq_len
  return { tokensPerSecond: (measured * tokensPerStep) / Math.max(end - warmEnd, 1e-9), perSecond, peak }
}

/**
 * When the GPU pays for small models: the MQAR models of the recall templates
 * (2 layers, no MLP) at d_model 64, 128 and 256, T = 256, batch 64: tokens/s
 * on the CPU (f32) and on the GPU (f32 and bf16). SMALL_SEQ, SMALL_BATCH, SMALL_PAIRS,
 * SMALL_PRESETS ("gla,mamba2"), SMALL_D ("64,256") and SMALL_RUNS ("cpu_f32,gpu_bf16") pick
 * other cells; SMALL_PROFILE=1 adds each bf16 model's step on the device, op by op, so the
 * wall time per step can be set against the device's.
 */
async function smallModels(): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = []
  const seq = Number(process.env.SMALL_SEQ ?? 256)
  const batch = Number(process.env.SMALL_BATCH ?? 64)
  const pairs = Number(process.env.SMALL_PAIRS ?? 16)
  const presets = (process.env.SMALL_PRESETS ?? 'transformer,gla,gated-deltanet').split(',')
  const widths = (process.env.SMALL_D ?? '64,128,256').split(',').map(Number)
  const wanted = (process.env.SMALL_RUNS ?? 'cpu_f32,gpu_f32,gpu_bf16').split(',')
  for (const id of presets)
    for (const d of widths) {
      const spec = { ...resizeModel(preset(id), { d_model: d, n_layers: 2, vocab_size: 8192 }), mlp_expansion: 0 }
      const train: TrainSpec = {
        ...benchTrain(WARMUP + MEASURE),
        batch_size: batch,
        task: { kind: 'mqar', seq_len: seq, num_kv_pairs: pairs, power_a: 0.01, vocab_size: 8192 },
      }
      const row: Record<string, unknown> = { preset: id, d_model: d, seq_len: seq, batch }
      for (const [name, backendId, precision] of [
        ['cpu_f32', 'cpu', 'f32'],
        [`gpu_f32`, BACKEND, 'f32'],
        [`gpu_bf16`, BACKEND, 'bf16'],
      ] as const) {
        if (!wanted.includes(name)) continue
        if (precision === 'bf16' && !BACKEND.startsWith('cuda')) continue
        try {
          row[name] = (await throughput(spec, train, backendId, precision)).tokensPerSecond
        } catch (err) {
          row[name] = `error: ${(err as Error).message}`
        }
      }
      if (process.env.SMALL_PROFILE === '1' && BACKEND.startsWith('cuda')) {
        const profile = await stepProfile(`${id} d${d} T${seq} B${batch}`, spec, batch, seq)
        const wallMs = typeof row.gpu_bf16 === 'number' ? ((batch * seq) / row.gpu_bf16) * 1e3 : NaN
        row.gpu_bf16_wall_ms_per_step = wallMs
        row.gpu_bf16_device_ms_per_step = profile.ops_summed_ms
        row.gpu_bf16_ops_per_step = (profile.ops as { calls: number }[]).reduce((t, o) => t + o.calls, 0)
        row.gpu_bf16_ops = profile.ops
        console.log(
          `small ${id} d_model ${d}: wall ${wallMs.toFixed(2)} ms per step, device ${(profile.ops_summed_ms as number).toFixed(2)} ms, ` +
            `${String(row.gpu_bf16_ops_per_step)} ops`,
        )
      }
      rows.push(row)
      const f = (x: unknown) => (typeof x === 'number' ? x.toFixed(0).padStart(9) : '        -')
      console.log(
        `small ${id.padEnd(16)} d_model ${String(d).padStart(3)}  tokens/s  cpu f32 ${f(row.cpu_f32)}  gpu f32 ${f(row.gpu_f32)}  gpu bf16 ${f(row.gpu_bf16)}`,
      )
    }
  return rows
}

/**
 * Where a big model's training step goes: the profiler's per-op times (each op timed on the
 * device, median over repeats) summed per op and phase, largest first, beside the step's total.
 */
async function stepProfile(name: string, spec: ModelSpec, batch = BATCH, seq = SEQ): Promise<Record<string, unknown>> {
  const backend = nativeBackend(BACKEND)
  const result = await profileModel(spec, backend, {
    batchSize: batch,
    seqLen: seq,
    dtype: 'f32',
    precision: 'bf16',
    warmup: 1,
    repeats: 3,
    probeSeconds: 0.2,
    sweepLengths: [],
    sweepBudgetSeconds: 0,
    sweepMemoryLimitBytes: 0,
  })
  const byOp = new Map<string, { op: string; phase: string; ms: number; calls: number; flops: number; bytes: number }>()
  for (const o of result.ops) {
    const key = `${o.phase} ${o.op}`
    const row = byOp.get(key) ?? { op: o.op, phase: o.phase, ms: 0, calls: 0, flops: 0, bytes: 0 }
    row.ms += o.ms
    row.calls += o.calls
    row.flops += o.flops
    row.bytes += o.bytes
    byOp.set(key, row)
  }
  const ops = [...byOp.values()].sort((a, b) => b.ms - a.ms)
  const summed = ops.reduce((t, o) => t + o.ms, 0)
  console.log(
    `profile ${name}: step ${result.step.totalMs.toFixed(1)} ms (forward ${result.step.forwardMs.toFixed(1)}, backward ` +
      `${result.step.backwardMs.toFixed(1)}, optimizer ${result.step.optimizerMs.toFixed(1)}); ops summed ${summed.toFixed(1)} ms`,
  )
  for (const o of ops.slice(0, 25))
    console.log(
      `profile ${name}   ${o.phase.padEnd(9)} ${o.op.padEnd(22)} ${o.ms.toFixed(2).padStart(8)} ms  ${String(o.calls).padStart(5)} calls  ` +
        `${(o.flops / (o.ms / 1e3) / 1e12).toFixed(0).padStart(4)} TFLOP/s  ${(o.bytes / (o.ms / 1e3) / 1e9).toFixed(0).padStart(5)} GB/s`,
    )
  // by_scope: the profiler's own rows (per model part, phase and op), for a closer look offline.
  return { model: name, step: result.step, ops_summed_ms: summed, ops, by_scope: result.ops }
}

async function main(): Promise<void> {
  if (!loadAddon().backends().includes(BACKEND)) {
    console.log(`gpu-train-bench: no ${BACKEND}: skipped`)
    return
  }
  const rows = []
  for (const m of process.env.BENCH_BIG === '0' ? [] : MODELS) {
    const spec = benchModel(m.preset)
    try {
      const precision = BACKEND.startsWith('cuda') ? 'bf16' : 'f32'
      const { tokensPerSecond, perSecond, peak } = await throughput(spec, benchTrain(WARMUP + MEASURE), BACKEND, precision)
      const trainFlopsPerToken = 3 * estimateModel(spec, SEQ / 2).model.flopsPerToken
      const row = {
        model: m.name,
        params: paramCounts(spec).total,
        batch: BATCH,
        seq_len: SEQ,
        tokens_per_second: tokensPerSecond,
        tokens_per_second_all: perSecond,
        // The trainer's windowed figure at its highest over the run's: near 1 when the
        // window saw steady steps; above it for the last step, whose read drains the queue.
        max_window_over_run: Math.max(...perSecond) / tokensPerSecond,
        peak_bytes: peak,
        train_flops_per_token: trainFlopsPerToken,
        mfu: (tokensPerSecond * trainFlopsPerToken) / PEAK_BF16_FLOPS,
      }
      rows.push(row)
      console.log(
        `linea ${m.name.padEnd(22)} ${(row.params / 1e6).toFixed(0)}M params  ${tokensPerSecond.toFixed(0).padStart(8)} tokens/s  ` +
          `peak ${(peak / 2 ** 30).toFixed(1)} GiB  MFU ${(100 * row.mfu).toFixed(1)}%  highest window / run ${row.max_window_over_run.toFixed(2)}`,
      )
    } catch (err) {
      rows.push({ model: m.name, error: (err as Error).message })
      console.log(`linea ${m.name.padEnd(22)} FAIL: ${(err as Error).message}`)
    }
  }
  if (process.env.BENCH_PROFILE === '1') {
    const profiles = []
    for (const m of MODELS) {
      try {
        profiles.push(await stepProfile(m.name, benchModel(m.preset)))
      } catch (err) {
        console.log(`profile ${m.name} FAIL: ${(err as Error).message}`)
      }
    }
    if (process.env.OUT) writeFileSync(join(process.env.OUT, 'gpu-train-profile.json'), JSON.stringify(profiles, null, 1))
  }
  const small = process.env.BENCH_SMALL === '0' ? [] : await smallModels()
  if (process.env.OUT) writeFileSync(join(process.env.OUT, 'gpu-train-bench.json'), JSON.stringify({ backend: BACKEND, rows, small }, null, 1))
}

void main()
