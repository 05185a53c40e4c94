// Issue 19's benchmark on the GPU box: Linea's WebGPU backend through
// NVIDIA's Vulkan driver, next to the CUDA backend on the same GPU and the CPU.
//
// 1. Training: tokens/s of the full training step (forward, backward, clip,
//    AdamW) of MQAR models at d_model 256, 4 layers, T = 512, batch 16, on
//    webgpu (f32: WebGPU's storage), cuda:0 in f32 and bf16, and the CPU (f32).
//    Tokens over the wall time of the steps after WARMUP (no eval inside).
//    The goal: WebGPU at least 30% of CUDA. Then webgpu again with the
//    128 x 128 matmul tile for large products (webgpu_matmul128), with the
//    products pipelined (webgpu_matmul_pipeline), in precision f16
//    (webgpu_f16), and without
//    the split sums of weight gradients (webgpu_no_split_k, the control), with
//    every tile staged along k (webgpu_along_k, the control for staging that
//    follows the layout), and the default again last (webgpu_again: drift).
// 2. The mixer op on the tokens32k grid (BENCHMARKS.md: H = 16, dk = dv = 128,
//    B·T = 32768), fwd and fwd+bwd per forget-gate kind and the delta rules,
//    on webgpu (f32) and cuda:0 in f32 and bf16 (inputs cast on the device), median ms of REPEATS
//    after one warm-up call;
//    then causal softmax attention (the hybrids' layers) on the same cells, with
//    the 16 x 16 tiled kernels as the blocked ones' control (webgpu_tiled; a
//    training row's: webgpu_attention_tiles, for models with softmax layers).
//    Each timed call ends with synchronize(), so a time covers its GPU work.
//
// 2b. Kernel by kernel (scripts/webgpu-kernel-times.ts, after the training rows): the projections'
//    products under each matmul variant, and the mixer's kernels, at the training shape.
//
// 3. Where a training step's time goes: the profiler's per-op times (forward, backward and
//    optimizer summed per op) of PROFILE_MODELS at the training shape, on webgpu and cuda:0 in f32:
//    which kernels to make faster next.
//
// Writes $OUT/gpu-webgpu-bench.json; prints one line per row. Without a
// WebGPU adapter it says why and exits 1 (the box has one through NVIDIA's
// Vulkan driver once libvulkan1 is unpacked: gpu-check.sh step "webgpu").
//
// Bundled by scripts/device-bundles.sh (webgpu stays external: Dawn's binding
// is loaded from node_modules/webgpu at run time).
// Environment: WEBGPU_BENCH_TRAIN / WEBGPU_BENCH_OPS / WEBGPU_BENCH_PROFILE / WEBGPU_BENCH_MATMUL128 / WEBGPU_BENCH_SPLIT_K_CONTROL / WEBGPU_BENCH_STAGING_CONTROL / WEBGPU_BENCH_POOL_CONTROL / WEBGPU_BENCH_PLAN_CONTROL / WEBGPU_BENCH_ATTENTION_BLOCKS / WEBGPU_BENCH_MATMUL_PIPELINE / WEBGPU_BENCH_F16 / WEBGPU_BENCH_KERNELS (0: skip that part),
// WEBGPU_BENCH_PROFILE_MODELS (gated-deltanet), WEBGPU_BENCH_MODELS
// (gla,retnet,mamba2,gated-deltanet), WEBGPU_BENCH_SEQ (512), WEBGPU_BENCH_BATCH (16),
// WEBGPU_BENCH_STEPS (16), WEBGPU_BENCH_REPEATS (5), WEBGPU_BENCH_CELLS (16x2048,4x8192,1x32768; a cell
// "BxT:kind+kind" times those kinds only, softmax among them),
// WEBGPU_BENCH_BACKENDS (webgpu,cuda,cpu: the training rows' backends), WEBGPU_BENCH_SUBMIT_BATCHES
// (e.g. 64,16: a training row per dispatches-per-submission setting, beside the default's 1024).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ModelSpec } from '../electron/api/model-spec'
import { preset } from '../electron/api/presets'
import { resizeModel } from '../electron/api/resize'
import type { TrainSpec } from '../electron/api/train-spec'
import type { ProfileSettings } from '../electron/api/profile'
import type { Backend } from '../electron/engine/backend'
import type { Tensor } from '../electron/engine/tensor'
import { loadAddon } from '../electron/engine/addon'
import { nativeBackend } from '../electron/engine/native-backend'
import { profileModel } from '../electron/engine/profile/profiler'
import { Rng } from '../electron/engine/random'
import { trainModel } from '../electron/engine/train/trainer'
import { probeWebGpu, webGpuBackend } from '../electron/engine/webgpu/backend'
import { findWebGpuAdapter } from '../electron/engine/webgpu/device'
import { useSubmitBatch } from '../electron/engine/webgpu/driver'
import { usePlanCache } from '../electron/engine/webgpu/plan_cache'
import { keepWorkingSet } from '../electron/engine/webgpu/pool'
import {
  useAttentionBlocks,
  useLayoutStaging,
  useMatmulPipeline,
  useMatmulTile,
  useSplitK,
  useSubgroupMatrixProducts,
  webGpuMixerForm,
} from '../electron/engine/webgpu/ops'
import { mixerKernelTimes, productTimes } from './webgpu-kernel-times'

const OUT = process.env.OUT ?? '/tmp'
const STEPS = Number(process.env.WEBGPU_BENCH_STEPS ?? 16)
const WARMUP = 3
if (!(STEPS > WARMUP)) throw new Error(`WEBGPU_BENCH_STEPS ${STEPS}: give more than the ${WARMUP} warm-up steps`)
const REPEATS = Number(process.env.WEBGPU_BENCH_REPEATS ?? 5)
/** The grid's cells, "BxT" each, or "BxT:kind+kind" for some kinds only (e.g. 1x32768:delta+gated_delta). */
const CELLS = (process.env.WEBGPU_BENCH_CELLS ?? '16x2048,4x8192,1x32768').split(',').map((cell) => {
  const [size, kinds] = cell.split(':')
  const [B, T] = size!.split('x').map(Number) as [number, number]
  return { B, T, kinds: kinds?.split('+') }
})
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const TRAIN_MODELS = (process.env.WEBGPU_BENCH_MODELS ?? 'gla,retnet,mamba2,gated-deltanet').split(',')
const PROFILE_MODELS = (process.env.WEBGPU_BENCH_PROFILE_MODELS ?? 'gated-deltanet').split(',')
const SEQ = Number(process.env.WEBGPU_BENCH_SEQ ?? 512)
/** The training rows' backends (webgpu, cuda, cpu) and the submitted-batch controls (e.g. 64,16). */
const BACKENDS = (process.env.WEBGPU_BENCH_BACKENDS ?? 'webgpu,cuda,cpu').split(',')
const SUBMIT_BATCHES = (process.env.WEBGPU_BENCH_SUBMIT_BATCHES ?? '').split(',').filter(Boolean).map(Number)
const BATCH = Number(process.env.WEBGPU_BENCH_BATCH ?? 16)
/**
 * Extra rounds of webgpu then cuda bf16, back to back, after a model's rows: both backends' figures
 * drift within a call (CUDA's bf16 step by 30-40 % between calls), so issue 19's ratio is read as the
 * median of ratios taken a few seconds apart.
 */
const PAIRS = Number(process.env.WEBGPU_BENCH_PAIRS ?? 0)

function trainSpec(backend: string, precision: 'f32' | 'bf16' | 'f16'): TrainSpec {
  return {
    format: 'linea.train/1',
    task: { kind: 'mqar', seq_len: SEQ, num_kv_pairs: Math.min(32, SEQ / 4), power_a: 0.01, vocab_size: 512 },
    steps: STEPS,
    batch_size: BATCH,
    optimizer: { kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, grad_clip: 1 },
    schedule: { warmup_steps: 1, decay: 'constant', min_lr_ratio: 1 },
    seed: 0,
    backend: backend.startsWith('cuda') ? 'cuda' : backend === 'webgpu' ? 'webgpu' : 'cpu',
    device: 0,
    precision,
    eval: { every: STEPS, batches: 1 },
    early_stop_accuracy: null,
    checkpoint_every: 0,
  }
}

async function backendFor(id: string): Promise<Backend> {
  return id === 'webgpu' ? await webGpuBackend() : nativeBackend(id)
}

/**
 * tokens/s over the steps after WARMUP (wall time from the end of step WARMUP to the last), and the
 * final loss. Not per step: the trainer reports steps as their metrics come back, which on a GPU can
 * be several at once.
 */
async function trainThroughput(spec: ModelSpec, backendId: string, precision: 'f32' | 'bf16' | 'f16') {
  let loss = NaN
  let warmEnd = 0
  let lastEnd = 0
  let peakBytes = 0
  const backend = await backendFor(backendId)
  await trainModel({
    modelSpec: spec,
    trainSpec: trainSpec(backendId, precision),
    backend,
    precision,
    events: {
      onStep: (p) => {
        if (p.step === WARMUP) warmEnd = performance.now()
        lastEnd = performance.now()
        loss = p.loss
        peakBytes = Math.max(peakBytes, p.peakMemoryBytes)
      },
    },
  })
  const tokens = (STEPS - WARMUP) * BATCH * SEQ
  // peakBytes: the backend's own count of what tensors held at most during a step (f16's saving shows here).
  return { tokensPerSecond: Math.round(tokens / ((lastEnd - warmEnd) / 1000)), loss, steps: STEPS, warmup: WARMUP, peakBytes }
}

/** trainThroughput, or the error's first line in its place (a row of the JSON either way). */
async function throughputOrError(spec: ModelSpec, backend: string, precision: 'f32' | 'bf16' | 'f16'): Promise<unknown> {
  try {
    return await trainThroughput(spec, backend, precision)
  } catch (err) {
    return { error: (err as Error).message.split('\n')[0] }
  }
}

/** A webgpu training row with a switch (a use* setter) set to `value`, restored afterwards. */
async function underSwitch<T>(spec: ModelSpec, use: (value: T) => T, value: T, precision: 'f32' | 'f16' = 'f32'): Promise<unknown> {
  const was = use(value)
  try {
    return await throughputOrError(spec, 'webgpu', precision)
  } finally {
    use(was)
  }
}

/** The mixer attributes of a kind of the grid: forget gate, delta rule. */
const KINDS: Record<string, { gate: string; delta: boolean }> = {
  none: { gate: 'none', delta: false },
  fixed: { gate: 'fixed', delta: false },
  scalar: { gate: 'scalar', delta: false },
  vector: { gate: 'vector', delta: false },
  delta: { gate: 'none', delta: true },
  gated_delta: { gate: 'scalar', delta: true },
}

/**
 * One cell's host inputs, shared by every kind and backend: drawing 4 · 67M normals per call in
 * JavaScript took longer than the timed GPU work (a row of the first box run: about a minute).
 */
interface CellInputs {
  q: Float32Array
  k: Float32Array
  kUnit: Float32Array // k with each row l2-normalized, as the delta rule's feature map leaves keys
  v: Float32Array
  dO: Float32Array
  gScalar: Float32Array
  gVector: Float32Array
  beta: Float32Array
}

function cellInputs(B: number, T: number, H: number, D: number): CellInputs {
  const rng = new Rng(7)
  const normal = (n: number, scale: number) => Float32Array.from({ length: n }, () => scale * rng.normal())
  const N = B * T * H * D
  const k = normal(N, 1)
  const kUnit = k.slice()
  for (let r = 0; r < N / D; r++) {
    let s = 0
    for (let i = 0; i < D; i++) s += kUnit[r * D + i]! ** 2
    for (let i = 0; i < D; i++) kUnit[r * D + i]! /= Math.sqrt(s)
  }
  return {
    q: normal(N, 1),
    k,
    kUnit,
    v: normal(N, 1),
    dO: normal(N, 1),
    gScalar: Float32Array.from({ length: B * T * H }, () => -0.05 * Math.abs(rng.normal())),
    gVector: Float32Array.from({ length: N }, () => -0.05 * Math.abs(rng.normal())),
    beta: Float32Array.from({ length: B * T * H }, () => 1 / (1 + Math.exp(-rng.normal()))),
  }
}

/** Uploads f32 host data in `dtype` (bf16: cast on the device, the f32 copy freed). */
function uploadAs(backend: Backend, data: Float32Array, shape: number[], dtype: 'f32' | 'bf16'): Tensor {
  const t = backend.upload(data, shape)
  if (dtype === 'f32') return t
  const cast = backend.run('cast', { x: t }, { to: dtype }).y!
  backend.dispose(t)
  return cast
}

async function mixerTimes(
  backend: Backend,
  kind: string,
  B: number,
  T: number,
  host: CellInputs,
  dtype: 'f32' | 'bf16' = 'f32',
): Promise<{ fwd: number; fwdBwd: number; form: string }> {
  const H = 16
  const D = 128
  const { gate, delta } = KINDS[kind]!
  const owned: Tensor[] = []
  const up = (data: Float32Array, shape: number[]) => {
    const t = uploadAs(backend, data, shape, dtype)
    owned.push(t)
    return t
  }
  const inputs: Record<string, Tensor | undefined> = {
    q: up(host.q, [B, T, H, D]),
    k: up(delta ? host.kUnit : host.k, [B, T, H, D]),
    v: up(host.v, [B, T, H, D]),
    g:
      gate === 'fixed'
        ? up(
            Float32Array.from({ length: H }, (_, h) => Math.log(1 - 2 ** (-5 - h))),
            [H],
          )
        : gate === 'scalar'
          ? up(host.gScalar, [B, T, H])
          : gate === 'vector'
            ? up(host.gVector, [B, T, H, D])
            : undefined,
    beta: delta ? up(host.beta, [B, T, H]) : undefined,
  }
  const attrs = { form: 'chunked', gate, delta }
  const time = (fn: () => Tensor[]) => medianTime(backend, fn)
  const fwd = await time(() => Object.values(backend.run('mixer_fwd', inputs, attrs)).filter((t): t is Tensor => t !== undefined))
  const dO = up(host.dO, [B, T, H, D])
  const fwdBwd = await time(() => {
    const f = backend.run('mixer_fwd', inputs, attrs)
    const b = backend.run('mixer_bwd', { ...inputs, do: dO }, attrs)
    return [...Object.values(f), ...Object.values(b)].filter((t): t is Tensor => t !== undefined)
  })
  for (const t of owned) backend.dispose(t)
  // The form each direction ran in (they differ where a kernel covers one direction only).
  const formOf = (op: string) =>
    backend.kind === 'webgpu'
      ? webGpuMixerForm({ op, dims: { K: D }, attrs: { form: 'chunked', input_gate: 'none', normalize: 'none', delta, gate } })
      : 'chunked'
  const [fwdForm, bwdForm] = [formOf('mixer_fwd'), formOf('mixer_bwd')]
  return { fwd, fwdBwd, form: fwdForm === bwdForm ? fwdForm : `${fwdForm} forward, ${bwdForm} backward` }
}

/** A grid row's CUDA columns (f32, bf16) for the log line. */
function cudaColumns(row: Record<string, unknown>): string {
  return (['cuda', 'cuda_bf16'] as const)
    .map((key) => {
      const c = row[key] as { fwd?: number; fwdBwd?: number; error?: string } | undefined
      const name = key === 'cuda' ? 'cuda f32' : 'cuda bf16'
      return c?.error ? `${name} ${c.error}` : `${name} fwd ${c?.fwd?.toFixed(2) ?? '-'} ms, f+b ${c?.fwdBwd?.toFixed(2) ?? '-'} ms`
    })
    .join('; ')
}

/** Median ms of REPEATS calls of `fn` after one warm-up, each ended by synchronize(); its tensors disposed. */
async function medianTime(backend: Backend, fn: () => Tensor[]): Promise<number> {
  const warm = fn()
  await backend.synchronize()
  for (const t of warm) backend.dispose(t)
  const ms: number[] = []
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now()
    const outs = fn()
    await backend.synchronize()
    ms.push(performance.now() - start)
    for (const t of outs) backend.dispose(t)
  }
  return median(ms)
}

/** Causal softmax attention (the hybrids' layers) on a cell: fwd, and fwd + bwd, H = 16, D = 128. */
async function attentionTimes(
  backend: Backend,
  B: number,
  T: number,
  host: CellInputs,
  dtype: 'f32' | 'bf16' = 'f32',
): Promise<{ fwd: number; fwdBwd: number }> {
  const [H, D] = [16, 128]
  const owned = [host.q, host.k, host.v, host.dO].map((data) => uploadAs(backend, data, [B, T, H, D], dtype))
  const [q, k, v, dO] = owned as [Tensor, Tensor, Tensor, Tensor]
  const all = (o: Record<string, Tensor | undefined>) => Object.values(o).filter((t): t is Tensor => t !== undefined)
  const fwd = await medianTime(backend, () => all(backend.run('softmax_attn_fwd', { q, k, v })))
  const fwdBwd = await medianTime(backend, () => {
    const f = backend.run('softmax_attn_fwd', { q, k, v })
    return [...all(f), ...all(backend.run('softmax_attn_bwd', { q, k, v, o: f.o, lse: f.lse, do: dO }))]
  })
  for (const t of owned) backend.dispose(t)
  return { fwd, fwdBwd }
}

/** The profiler's per-op times of one training step, summed over scopes and phases, largest first. */
async function opTimes(spec: ModelSpec, backend: Backend): Promise<{ stepMs: number; ops: { op: string; ms: number; calls: number }[] }> {
  const settings: ProfileSettings = {
    batchSize: BATCH,
    seqLen: SEQ,
    dtype: 'f32',
    precision: 'f32',
    warmup: 1,
    repeats: 3,
    probeSeconds: 0.2,
    sweepLengths: [],
    sweepBudgetSeconds: 0,
    sweepMemoryLimitBytes: 2 ** 30,
  }
  const result = await profileModel(spec, backend, settings)
  const byOp = new Map<string, { ms: number; calls: number }>()
  for (const o of result.ops) {
    const row = byOp.get(o.op) ?? { ms: 0, calls: 0 }
    row.ms += o.ms
    row.calls += o.calls
    byOp.set(o.op, row)
  }
  const ops = [...byOp.entries()].map(([op, r]) => ({ op, ...r })).sort((a, b) => b.ms - a.ms)
  return { stepMs: result.step.totalMs, ops }
}

async function main(): Promise<void> {
  const probe = await probeWebGpu()
  if (!probe.adapter) {
    console.log(`gpu-webgpu-bench: no WebGPU adapter: ${probe.reason}`)
    process.exit(1)
  }
  console.log(`WebGPU adapter: ${probe.adapter.name} (${[...probe.adapter.features].join(', ')})`)
  // Every feature the adapter offers, plain and with Dawn's unsafe APIs allowed (experimental
  // features such as the subgroup matrices and, on some drivers, shader-f16 hide behind it).
  const adapterFeatures: Record<string, string[]> = {}
  for (const toggles of [[], ['enable-dawn-features=allow_unsafe_apis'], ['enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia']]) {
    const { adapter } = await findWebGpuAdapter(toggles)
    const features = [...adapter.features].sort()
    adapterFeatures[toggles.join(' ') || 'default'] = features
    console.log(`adapter features (${toggles.join(' ') || 'default'}): ${features.join(' ')}`)
    // Dawn lists the subgroup matrices' shapes and component types in the adapter's info (experimental).
    // Its entries are Dawn objects whose fields are getters (JSON.stringify sees none): read them by name.
    type Config = Record<'componentType' | 'resultComponentType' | 'M' | 'N' | 'K', unknown>
    const configs = (adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: Config[] }).subgroupMatrixConfigs
    if (configs !== undefined) {
      const shown = [...configs].map((c) => `${String(c.componentType)}->${String(c.resultComponentType)} ${String(c.M)}x${String(c.N)}x${String(c.K)}`)
      adapterFeatures[`subgroupMatrixConfigs (${toggles.join(' ') || 'default'})`] = shown
      console.log(`subgroup matrix configs (${toggles.join(' ') || 'default'}): ${shown.join(', ') || 'none'}`)
    }
  }
  const hasCuda = loadAddon()
    .backends()
    .some((b) => b.startsWith('cuda'))
  const result: Record<string, unknown> = {
    benchmark: 'gpu-webgpu-bench',
    adapter: probe.adapter,
    // The subgroup-matrix shape precision f16's products run on (LINEA_WEBGPU_SUBGROUP_MATRIX=1), or null.
    subgroupMatrix: (await webGpuBackend()).driver.gpu.info.subgroupMatrix ?? null,
    adapterFeatures,
    date: new Date().toISOString(),
    training: [] as unknown[],
    mixer: [] as unknown[],
    profile: [] as unknown[],
  }
  const kernels = { products: [] as unknown[], mixers: [] as unknown[] }
  result.kernels = kernels
  if (process.env.WEBGPU_BENCH_TRAIN !== '0')
    for (const id of TRAIN_MODELS) {
      const spec = resizeModel(preset(id), { d_model: 256, n_layers: 4, vocab_size: 512 })
      const row: Record<string, unknown> = { model: id, d_model: 256, layers: 4, seq_len: SEQ, batch: BATCH }
      const runs = (
        [
          ['webgpu', 'webgpu', 'f32'],
          ...(hasCuda
            ? ([
                ['cuda_f32', 'cuda:0', 'f32'],
                ['cuda_bf16', 'cuda:0', 'bf16'],
              ] as [string, string, 'f32' | 'bf16'][])
            : []),
          ['cpu', 'cpu', 'f32'],
        ] as [string, string, 'f32' | 'bf16'][]
      ).filter(([, backend]) => BACKENDS.includes(backend.replace(/:.*/, '')))
      for (const [key, backend, precision] of runs) row[key] = await throughputOrError(spec, backend, precision)
      // The controls and the drift check train on webgpu only.
      if (BACKENDS.includes('webgpu')) {
        const on = (name: string) => process.env[`WEBGPU_BENCH_${name}`] !== '0'
        // The 128 x 128 matmul tile (kernels/matmul.ts; opt-in until timed here), right after the default.
        if (on('MATMUL128')) row.webgpu_matmul128 = await underSwitch(spec, useMatmulTile, 128)
        // Pipelined products (kernels/matmul.ts; opt-in until timed here).
        if (on('MATMUL_PIPELINE')) row.webgpu_matmul_pipeline = await underSwitch(spec, useMatmulPipeline, true)
        // WebGPU's mixed precision (f16 storage, f32 kernels on converted copies, a loss scale): memory, at what cost in time.
        if (on('F16')) row.webgpu_f16 = await throughputOrError(spec, 'webgpu', 'f16')
        // f16's products on the subgroup matrices (where the device has them) against the portable f16 kernel.
        if (on('F16') && (await webGpuBackend()).driver.gpu.info.subgroupMatrix)
          row.webgpu_f16_portable_products = await underSwitch(spec, useSubgroupMatrixProducts, false, 'f16')
        // The control for the split sums of weight gradients (on by default): the same step without them.
        if (on('SPLIT_K_CONTROL')) row.webgpu_no_split_k = await underSwitch(spec, useSplitK, false)
        // The control for staging that follows the operands' layout (on by default): every tile staged along k.
        if (on('STAGING_CONTROL')) row.webgpu_along_k = await underSwitch(spec, useLayoutStaging, false)
        // The buffer pool's control: free buffers kept up to a fixed 512 MiB only (pool.ts), which the
        // step's working set at this shape exceeds, so each step created its buffers again.
        if (on('POOL_CONTROL')) row.webgpu_fixed_pool = await underSwitch(spec, keepWorkingSet, false)
        // The plan cache's control (webgpu/plan_cache.ts): every call planned by the addon again.
        if (on('PLAN_CONTROL')) row.webgpu_no_plan_cache = await underSwitch(spec, usePlanCache, false)
        // The blocked attention kernels' control (they are the default): the 16 x 16 tiles, for models with softmax layers.
        if (on('ATTENTION_BLOCKS') && spec.layers.some((l) => l.kind === 'softmax'))
          row.webgpu_attention_tiles = await underSwitch(spec, useAttentionBlocks, false)
        // Dispatches per submitted batch (driver.ts, 1024 by default): smaller batches let the GPU start
        // while the host still encodes the step.
        for (const n of SUBMIT_BATCHES) row[`webgpu_submit${n}`] = await underSwitch(spec, useSubmitBatch, n)
        // The default once more, last: how far the GPU's state drifted over the row (the session-11 call
        // had one model's controls 1.6x its default, which no kernel difference explains).
        row.webgpu_again = await throughputOrError(spec, 'webgpu', 'f32')
      }
      const tps = (k: string) => (row[k] as { tokensPerSecond?: number } | undefined)?.tokensPerSecond
      const ratio = (k: string) => (tps('webgpu') && tps(k) ? tps('webgpu')! / tps(k)! : null)
      row.webgpu_over_cuda_f32 = ratio('cuda_f32')
      row.webgpu_over_cuda_bf16 = ratio('cuda_bf16')
      if (PAIRS > 0 && hasCuda && BACKENDS.includes('webgpu')) {
        const pairs: { webgpu?: number; webgpu_f16?: number; cuda_bf16?: number; ratio: number | null; ratio_f16: number | null }[] = []
        for (let i = 0; i < PAIRS; i++) {
          const w = ((await throughputOrError(spec, 'webgpu', 'f32')) as { tokensPerSecond?: number }).tokensPerSecond
          // Precision f16 too (f16 storage, products on matrix units where the device has them).
          const h =
            process.env.WEBGPU_BENCH_F16 !== '0'
              ? ((await throughputOrError(spec, 'webgpu', 'f16')) as { tokensPerSecond?: number }).tokensPerSecond
              : undefined
          const c = ((await throughputOrError(spec, 'cuda:0', 'bf16')) as { tokensPerSecond?: number }).tokensPerSecond
          pairs.push({ webgpu: w, webgpu_f16: h, cuda_bf16: c, ratio: w && c ? w / c : null, ratio_f16: h && c ? h / c : null })
        }
        row.pairs = pairs
        const ratios = pairs.map((p) => p.ratio).filter((r): r is number => r !== null)
        row.webgpu_over_cuda_bf16_pairs = { median: ratios.length ? median(ratios) : null, min: ratios.length ? Math.min(...ratios) : null, n: ratios.length }
        const ratiosF16 = pairs.map((p) => p.ratio_f16).filter((r): r is number => r !== null)
        if (ratiosF16.length) row.webgpu_f16_over_cuda_bf16_pairs = { median: median(ratiosF16), min: Math.min(...ratiosF16), n: ratiosF16.length }
        console.log(
          `pairs ${id.padEnd(16)} webgpu/cuda bf16 ${ratios.map((r) => r.toFixed(2)).join(' ')}  median ${ratios.length ? median(ratios).toFixed(2) : '-'}` +
            (ratiosF16.length ? `  webgpu f16/cuda bf16 ${ratiosF16.map((r) => r.toFixed(2)).join(' ')}  median ${median(ratiosF16).toFixed(2)}` : ''),
        )
      }
      ;(result.training as unknown[]).push(row)
      console.log(
        `train ${id.padEnd(16)} webgpu ${String(tps('webgpu') ?? JSON.stringify(row.webgpu)).padStart(9)} tok/s  cuda f32 ${String(tps('cuda_f32') ?? '-').padStart(9)}  ` +
          `cuda bf16 ${String(tps('cuda_bf16') ?? '-').padStart(9)}  cpu ${String(tps('cpu') ?? '-').padStart(8)}  webgpu/cuda f32 ${row.webgpu_over_cuda_f32 === null ? '-' : (row.webgpu_over_cuda_f32 as number).toFixed(2)}` +
          `  webgpu matmul 128 ${String(tps('webgpu_matmul128') ?? '-')}  without split sums ${String(tps('webgpu_no_split_k') ?? '-')}` +
          `  staged along k ${String(tps('webgpu_along_k') ?? '-')}  default again ${String(tps('webgpu_again') ?? '-')}` +
          `  fixed pool ${String(tps('webgpu_fixed_pool') ?? '-')}  no plan cache ${String(tps('webgpu_no_plan_cache') ?? '-')}` +
          `  attention tiles ${String(tps('webgpu_attention_tiles') ?? '-')}  matmul pipelined ${String(tps('webgpu_matmul_pipeline') ?? '-')}  f16 ${String(tps('webgpu_f16') ?? '-')}  f16 portable products ${String(tps('webgpu_f16_portable_products') ?? '-')}` +
          SUBMIT_BATCHES.map((n) => `  submit ${n} ${String(tps(`webgpu_submit${n}`) ?? '-')}`).join(''),
      )
      // Each row as it lands: a call's time limit may stop the benchmark before the end.
      writeFileSync(join(OUT, 'gpu-webgpu-bench.json'), JSON.stringify(result, null, 1))
    }
  // Kernel by kernel, after the training rows (scripts/webgpu-kernel-times.ts): the projections'
  // products under each matmul variant at the training shapes' rows, and the mixer at the training
  // shape. Run first in the sixteenth session's call b, it left every training row after it 20-45 %
  // slower than in the calls without it (cause not found): the training rows come first.
  if (process.env.WEBGPU_BENCH_KERNELS !== '0') {
    const gpu = await webGpuBackend()
    const N = BATCH * SEQ
    kernels.products = await productTimes(
      gpu,
      [
        [N, 256, 256],
        [N, 256, 768],
        [N, 768, 256],
        [N, 256, 512],
      ],
      REPEATS,
    )
    for (const kind of [
      { name: 'gated_delta', gate: 'scalar', delta: true },
      { name: 'gated_delta_staged', gate: 'scalar', delta: true, stagedScans: true },
      { name: 'vector', gate: 'vector', delta: false },
    ] as const)
      kernels.mixers.push(await mixerKernelTimes(gpu, kind, [BATCH, SEQ, 2, 128], REPEATS))
    writeFileSync(join(OUT, 'gpu-webgpu-bench.json'), JSON.stringify(result, null, 1))
  }
  if (process.env.WEBGPU_BENCH_PROFILE !== '0')
    for (const id of PROFILE_MODELS) {
      const spec = resizeModel(preset(id), { d_model: 256, n_layers: 4, vocab_size: 512 })
      const row: Record<string, unknown> = { model: id, d_model: 256, layers: 4, seq_len: SEQ, batch: BATCH, precision: 'f32' }
      for (const [key, open] of [
        ['webgpu', () => webGpuBackend()],
        ['cuda', () => (hasCuda ? nativeBackend('cuda:0') : undefined)],
      ] as const) {
        const backend = await open()
        if (!backend) continue
        try {
          const times = await opTimes(spec, backend)
          row[key] = times
          const top = times.ops
            .slice(0, 6)
            .map((o) => `${o.op} ${o.ms.toFixed(1)}`)
            .join(', ')
          console.log(`profile ${id.padEnd(16)} ${key.padEnd(6)} step ${times.stepMs.toFixed(1)} ms: ${top}`)
        } catch (err) {
          row[key] = { error: (err as Error).message.split('\n')[0] }
          console.log(`profile ${id.padEnd(16)} ${key.padEnd(6)} ${(row[key] as { error: string }).error}`)
        }
      }
      ;(result.profile as unknown[]).push(row)
      writeFileSync(join(OUT, 'gpu-webgpu-bench.json'), JSON.stringify(result, null, 1))
    }
  if (process.env.WEBGPU_BENCH_OPS !== '0') {
    const gpu = await webGpuBackend()
    const cuda = hasCuda ? nativeBackend('cuda:0') : undefined
    for (const { B, T, kinds } of CELLS) {
      const wanted = (kind: string) => !kinds || kinds.includes(kind)
      const host = cellInputs(B, T, 16, 128)
      for (const kind of Object.keys(KINDS)) {
        if (!wanted(kind)) continue
        const row: Record<string, unknown> = { kind, B, T, H: 16, dk: 128, dv: 128, dtype: 'f32' }
        for (const [key, backend, dtype] of [
          ['webgpu', gpu, 'f32'],
          ['cuda', cuda, 'f32'],
          ['cuda_bf16', cuda, 'bf16'],
        ] as const) {
          if (!backend) continue
          try {
            row[key] = await mixerTimes(backend, kind, B, T, host, dtype)
          } catch (err) {
            row[key] = { error: (err as Error).message.split('\n')[0] }
          }
        }
        ;(result.mixer as unknown[]).push(row)
        const w = row.webgpu as { fwd?: number; fwdBwd?: number; form?: string; error?: string }
        console.log(
          `mixer ${kind.padEnd(11)} ${B}x${T}: webgpu (${w.form ?? '?'}) fwd ${w.fwd?.toFixed(2) ?? w.error} ms, f+b ${w.fwdBwd?.toFixed(2) ?? '-'} ms; ${cudaColumns(row)}`,
        )
        writeFileSync(join(OUT, 'gpu-webgpu-bench.json'), JSON.stringify(result, null, 1))
      }
      // Softmax attention, the hybrids' other layer (WebGPU's tiled kernels for heads up to 128).
      if (!wanted('softmax')) continue
      const row: Record<string, unknown> = { kind: 'softmax', B, T, H: 16, dk: 128, dv: 128, dtype: 'f32' }
      for (const [key, backend, dtype] of [
        ['webgpu', gpu, 'f32'],
        ['webgpu_tiled', gpu, 'f32'],
        ['cuda', cuda, 'f32'],
        ['cuda_bf16', cuda, 'bf16'],
      ] as const) {
        if (!backend) continue
        const was = key === 'webgpu_tiled' ? useAttentionBlocks(false) : undefined
        try {
          row[key] = await attentionTimes(backend, B, T, host, dtype)
        } catch (err) {
          row[key] = { error: (err as Error).message.split('\n')[0] }
        } finally {
          if (was !== undefined) useAttentionBlocks(was)
        }
      }
      ;(result.mixer as unknown[]).push(row)
      const w = row.webgpu as { fwd?: number; fwdBwd?: number; error?: string }
      const tiled = row.webgpu_tiled as { fwd?: number; fwdBwd?: number; error?: string } | undefined
      const tiledText = tiled ? `tiled fwd ${tiled.fwd?.toFixed(2) ?? tiled.error} ms, f+b ${tiled.fwdBwd?.toFixed(2) ?? '-'} ms; ` : ''
      console.log(
        `mixer softmax     ${B}x${T}: webgpu fwd ${w.fwd?.toFixed(2) ?? w.error} ms, f+b ${w.fwdBwd?.toFixed(2) ?? '-'} ms; ${tiledText}${cudaColumns(row)}`,
      )
      writeFileSync(join(OUT, 'gpu-webgpu-bench.json'), JSON.stringify(result, null, 1))
    }
  }
  writeFileSync(join(OUT, 'gpu-webgpu-bench.json'), JSON.stringify(result, null, 1))
  console.log(`wrote ${join(OUT, 'gpu-webgpu-bench.json')}`)
  process.exit(0)
}

await main()
