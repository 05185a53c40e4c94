// Profiles a model on a backend: a training step timed per scope, phase and
// op (medians over repeats after warm-up), its memory by category, the
// device's ceilings from a short probe, and a sequence-length sweep of the
// model and of a softmax Transformer of the same width.
import { cpus, totalmem } from 'node:os'
import type { ModelSpec } from '../../api/model-spec'
import {
  CEILING_PROBE_MIN_REPEATS,
  CEILING_PROBE_SECONDS,
  logLogSlope,
  PROFILE_FORMAT,
  type Ceilings,
  type MachineInfo,
  type OpProfile,
  type PartProfile,
  type ProfileResult,
  type ProfileSettings,
  type ProfileTimeline,
  type SweepPoint,
  type SweepSeries,
  type TimelineEvent,
} from '../../api/profile'
import { competitionWarning, othersBusyCores, spreadOf, type CpuSample } from '../../api/profile-stats'
import { loadAddon } from '../addon'
import { Ctx, type ComputeDType } from '../autograd/context'
import type { Backend, OpTiming } from '../backend'
import { estimateModel, sameWidthTransformer } from '../estimate'
import { Model } from '../model/model'
import { Rng } from '../random'
import { precisionDTypes, resolvePrecision, type PrecisionDTypes } from '../precision'
import { disposeBatch, toDevice, type LabelledBatch } from '../train/device-batch'
import { AdamW } from '../train/optimizer'
import { opCost } from './op-costs'
import { inPhase, inPhaseAsync, inScope, phase, scope } from './scope'

export type ProfileProgress = (message: string, fraction: number) => void

const median = (xs: number[]) => spreadOf(xs).median

/** Bytes per element of each float dtype. */
const BYTES: Record<ComputeDType, number> = { f32: 4, f64: 8, bf16: 2, f16: 2 }

/** Most op calls a profile's timeline keeps (the rest are counted as dropped). */
export const TIMELINE_CAP = 50_000

/** The machine's and this process's CPU time now (for othersBusyCores). */
export function cpuSample(): CpuSample {
  const machineBusyMs = cpus().reduce((n, c) => n + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0)
  const own = process.cpuUsage()
  return { wallMs: performance.now(), machineBusyMs, ownMs: (own.user + own.system) / 1000 }
}

/** Random ids, and random labels at the last `labelled` positions of each sequence (all of them by default). */
function randomBatch(backend: Backend, vocab: number, B: number, T: number, seed: number, labelled = T): LabelledBatch {
  const rng = new Rng(seed)
  const inputs = Int32Array.from({ length: B * T }, () => rng.int(vocab))
  const first = T - Math.min(labelled, T)
  const labels = Int32Array.from({ length: B * T }, (_, n) => (n % T >= first ? rng.int(vocab) : -1))
  return toDevice(backend, { batchSize: B, seqLen: T, inputs, labels, tags: {} })
}

/** One training step: forward, backward, clip + AdamW, in their phases. */
async function trainStep(model: Model, optimizer: AdamW, backend: Backend, dtype: ComputeDType, batch: LabelledBatch, onForward?: () => void) {
  const ctx = new Ctx(backend, dtype, true)
  try {
    inPhase('forward', () => model.loss(ctx, batch))
    onForward?.()
    ctx.backward([])
    const grads = ctx.gradsByName(model.params.trainable())
    await inPhaseAsync('optimizer', async () => {
      inScope('optimizer', () => {
        const gradSqSum = optimizer.gradSqSum(grads)
        optimizer.step(grads, 1e-4, 1, { gradSqSum, maxNorm: 1 })
        gradSqSum.dispose()
      })
    })
    return grads
  } finally {
    ctx.dispose()
  }
}

function forwardOnly(model: Model, backend: Backend, dtype: ComputeDType, batch: LabelledBatch): void {
  const ctx = new Ctx(backend, dtype, false)
  try {
    model.loss(ctx, batch)
  } finally {
    ctx.dispose()
  }
}

async function timeMs(fn: () => unknown | Promise<unknown>, repeats: number): Promise<number> {
  const samples: number[] = []
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
  }
  return median(samples)
}

export function machineInfo(backend: Backend): MachineInfo {
  const info = loadAddon().info()
  // WebGPU's adapter is not one of the addon's devices: its own description.
  const adapter = backend.kind === 'webgpu' ? (backend as Backend & { adapter?: { name: string } }).adapter : undefined
  const device = adapter
    ? { name: adapter.name, memoryBytes: 0, detail: 'WebGPU (Dawn) adapter' }
    : (info.devices.find((d) => d.id === backend.id) ?? info.devices[0]!)
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryBytes: totalmem(),
    platform: `${process.platform}-${process.arch}`,
    node: process.versions.node,
    engineVersion: info.version,
    compiler: info.compiler,
    blas: info.blas,
    backend: backend.id,
    device: device.name,
    deviceMemoryBytes: device.memoryBytes,
    deviceDetail: device.detail,
    ...(backend.opTiming ? { opTiming: backend.opTiming } : {}),
  }
}

/**
 * Rates of fn over at least `seconds` and `minRepeats` calls (after one
 * untimed call that touches the memory): work / seconds per call.
 */
async function probeRates(fn: () => unknown, work: number, seconds: number, minRepeats: number): Promise<number[]> {
  await fn()
  const rates: number[] = []
  const started = performance.now()
  while (rates.length < minRepeats || (performance.now() - started < seconds * 1000 && rates.length < 1000)) {
    const t0 = performance.now()
    await fn()
    rates.push(work / Math.max((performance.now() - t0) / 1000, 1e-9))
  }
  return rates
}

/**
 * The device's ceilings: a streaming add of large arrays, and a large matrix
 * product, each repeated for at least `seconds` (and CEILING_PROBE_MIN_REPEATS
 * calls) after a warm-up call; the median rate and the spread of the rates.
 */
/** Calls per timed sample of a ceiling probe (then one wait for the device). */
const PROBE_CALLS = 4

export async function probeCeilings(backend: Backend, dtype: ComputeDType, seconds = CEILING_PROBE_SECONDS): Promise<Ceilings> {
  const width = BYTES[dtype]
  const n = 1 << 24 // 16M values: far past every cache
  const a = backend.zeros([n], dtype)
  const b = backend.zeros([n], dtype)
  let bandwidth: number[]
  try {
    // Each sample is PROBE_CALLS calls and a wait for the device: a GPU backend only enqueues
    // (its queue would hide the rate), and one wait per call would add its latency to each.
    bandwidth = await probeRates(
      () => {
        for (let i = 0; i < PROBE_CALLS; i++) backend.run('accumulate', { dst: a, src: b }, { alpha: 1 })
        return backend.synchronize()
      },
      PROBE_CALLS * 3 * n * width,
      seconds,
      CEILING_PROBE_MIN_REPEATS,
    )
  } finally {
    a.dispose()
    b.dispose()
  }
  const m = 1024
  const x = backend.zeros([m, m], dtype)
  const w = backend.zeros([m, m], dtype)
  let flops: number[]
  try {
    backend.fill(x, 0.5)
    backend.fill(w, 0.25)
    flops = await probeRates(
      () => {
        for (let i = 0; i < PROBE_CALLS; i++) backend.run('linear_fwd', { x, w }, {}).y!.dispose()
        return backend.synchronize()
      },
      PROBE_CALLS * 2 * m * m * m,
      seconds,
      CEILING_PROBE_MIN_REPEATS,
    )
  } finally {
    x.dispose()
    w.dispose()
  }
  const spread = { bandwidthBytesPerSecond: spreadOf(bandwidth), flopsPerSecond: spreadOf(flops) }
  return {
    bandwidthBytesPerSecond: spread.bandwidthBytesPerSecond.median,
    flopsPerSecond: spread.flopsPerSecond.median,
    method:
      `bandwidth: dst += src on ${n} ${dtype} values (2 reads, 1 write), median of ${bandwidth.length}; ` +
      `compute: a ${m}x${m}x${m} matrix product, median of ${flops.length}; each sample ${PROBE_CALLS} calls and a wait for the device, after a warm-up, repeated for at least ${seconds} s`,
    spread,
  }
}

/**
 * Per (scope, phase, op) and per (scope, phase): time per step over the
 * repeats (median and spread), and every call of the repeat whose step time
 * was the median, in order, for the trace.
 */
async function profileOps(model: Model, optimizer: AdamW, backend: Backend, dtype: ComputeDType, batch: LabelledBatch, repeats: number) {
  const perRepeat: Map<string, OpProfile>[] = []
  const timelines: TimelineEvent[][] = []
  const dropped: number[] = []
  const phaseMs: Record<'forward' | 'backward' | 'optimizer' | 'total', number[]> = { forward: [], backward: [], optimizer: [], total: [] }
  for (let r = 0; r < repeats; r++) {
    // Each op as it is enqueued (its scope and phase are the caller's then); its timing is
    // filled when the observer is cleared (a GPU's events are read after the step).
    const seen: { scope: string; phase: OpProfile['phase']; op: string; cost: { flops: number; bytes: number }; timing: OpTiming }[] = []
    backend.observe((op, inputs, attrs, outputs, timing) => {
      seen.push({ scope: scope(), phase: phase(), op, cost: opCost(op, inputs, attrs, outputs), timing })
    })
    try {
      await trainStep(model, optimizer, backend, dtype, batch)
    } finally {
      backend.observe(undefined)
    }
    await backend.settleTimings?.()
    const ops = new Map<string, OpProfile>()
    const events: TimelineEvent[] = []
    let lost = 0
    const totals = { forward: 0, backward: 0, optimizer: 0 }
    let lastEnd = 0
    for (const { scope: sc, phase: ph, op, cost, timing } of seen) {
      const ms = timing.ms
      const key = `${sc}|${ph}|${op}`
      const e = ops.get(key) ?? { scope: sc, phase: ph, op, calls: 0, ms: 0, flops: 0, bytes: 0 }
      e.calls++
      e.ms += ms
      e.flops += cost.flops
      e.bytes += cost.bytes
      ops.set(key, e)
      totals[ph] += ms
      // Where it ran when the backend says (else right after the previous op); never before the previous one ended.
      const startMs = Number.isFinite(timing.startMs) ? Math.max(lastEnd, timing.startMs!) : lastEnd
      lastEnd = startMs + ms
      if (events.length < TIMELINE_CAP) events.push({ scope: sc, phase: ph, op, startMs, ms, flops: cost.flops, bytes: cost.bytes })
      else lost++
    }
    perRepeat.push(ops)
    timelines.push(events)
    dropped.push(lost)
    for (const p of ['forward', 'backward', 'optimizer'] as const) phaseMs[p].push(totals[p])
    phaseMs.total.push(totals.forward + totals.backward + totals.optimizer)
  }
  const keys = new Set(perRepeat.flatMap((m) => [...m.keys()]))
  const ops: OpProfile[] = [...keys].map((key) => {
    const first = perRepeat.find((m) => m.has(key))!.get(key)!
    const spread = spreadOf(perRepeat.map((m) => m.get(key)?.ms ?? 0))
    return { ...first, ms: spread.median, spread }
  })
  ops.sort((a, b) => b.ms - a.ms)
  const partKeys = new Map<string, { scope: string; phase: OpProfile['phase'] }>()
  for (const o of ops) partKeys.set(`${o.scope}|${o.phase}`, { scope: o.scope, phase: o.phase })
  const parts: PartProfile[] = [...partKeys.entries()].map(([key, { scope, phase }]) => {
    const spread = spreadOf(perRepeat.map((m) => [...m.values()].filter((o) => `${o.scope}|${o.phase}` === key).reduce((n, o) => n + o.ms, 0)))
    return { scope, phase, ms: spread.median, spread }
  })
  // the repeat whose step time is nearest the median
  const mid = median(phaseMs.total)
  const repeat = phaseMs.total.reduce((best, t, i) => (Math.abs(t - mid) < Math.abs(phaseMs.total[best]! - mid) ? i : best), 0)
  const timeline: ProfileTimeline = { repeat, repeats, events: timelines[repeat] ?? [], dropped: dropped[repeat] ?? 0 }
  const spread = {
    forwardMs: spreadOf(phaseMs.forward),
    backwardMs: spreadOf(phaseMs.backward),
    optimizerMs: spreadOf(phaseMs.optimizer),
    totalMs: spreadOf(phaseMs.total),
  }
  return { ops, parts, timeline, spread, forwardMs: median(phaseMs.forward), backwardMs: median(phaseMs.backward), optimizerMs: median(phaseMs.optimizer) }
}

async function memoryBreakdown(
  model: Model,
  optimizer: AdamW,
  backend: Backend,
  dtypes: PrecisionDTypes,
  batch: LabelledBatch,
  spec: ModelSpec,
  settings: ProfileSettings,
) {
  const width = BYTES[dtypes.weights]
  const before = backend.memory().bytesInUse
  backend.resetPeak()
  let afterForward = before
  const grads = await trainStep(model, optimizer, backend, dtypes.compute, batch, () => (afterForward = backend.memory().bytesInUse))
  const peak = backend.memory().peakBytes
  let gradients = 0
  for (const g of grads.values()) gradients += g.size * width
  const parameters = model.params.list().reduce((n, p) => n + p.tensor.size * width, 0)
  const optimizerState = [...optimizer.m.values(), ...optimizer.v.values()].reduce((n, t) => n + t.size * width, 0)
  const activations = Math.max(0, afterForward - before)
  return {
    parameters,
    gradients,
    optimizerState,
    activations,
    recurrentState: estimateModel(spec, settings.seqLen, BYTES[dtypes.compute]).model.stateBytes,
    workspace: Math.max(0, peak - before - activations - gradients),
    peak,
  }
}

/** Time of one decoding step at context `c`: the forward of one token, plus each softmax layer's attention over c cached keys. */
async function decodeMsPerToken(spec: ModelSpec, model: Model, backend: Backend, dtypes: PrecisionDTypes, c: number): Promise<number> {
  const one = randomBatch(backend, spec.vocab_size, 1, 1, 5)
  const base = await timeMs(() => forwardOnly(model, backend, dtypes.compute, one), 5)
  disposeBatch(one)
  let attention = 0
  const rng = new Rng(9)
  for (const layer of spec.layers) {
    if (layer.kind !== 'softmax') continue
    const hd = layer.head_dim ?? spec.d_model / layer.heads
    const make = (shape: number[]) => {
      const n = shape.reduce((a, b) => a * b, 1)
      const host = dtypes.weights === 'f32' ? new Float32Array(n) : new Float64Array(n)
      for (let i = 0; i < n; i++) host[i] = rng.normal()
      const t = backend.upload(host, shape)
      if (dtypes.compute === dtypes.weights) return t
      // bf16 passes attend over a bf16 cache
      const narrow = backend.run('cast', { x: t }, { to: dtypes.compute })['y']!
      t.dispose()
      return narrow
    }
    const q = make([1, layer.heads, hd])
    const k = make([1, c, layer.heads, hd])
    const v = make([1, c, layer.heads, hd])
    attention += await timeMs(() => backend.run('softmax_attn_decode', { q, k, v }, { window: layer.window ?? 0 }).o!.dispose(), 5)
    for (const t of [q, k, v]) t.dispose()
  }
  return base + attention
}

/**
 * Seconds the next length will likely take, from the last two: time grows as
 * T^slope, with the slope seen so far (at least 1; 2 with one point only, to be safe).
 */
export function predictSeconds(done: readonly [number, number][], T: number): number | undefined {
  const last = done.at(-1)
  if (!last) return undefined
  const prev = done.at(-2)
  const slope = prev ? Math.max(1, Math.log(last[1] / prev[1]) / Math.log(last[0] / prev[0])) : 2
  return last[1] * (T / last[0]) ** (Number.isFinite(slope) ? slope : 2)
}

async function sweepSeries(
  name: string,
  spec: ModelSpec,
  backend: Backend,
  dtypes: PrecisionDTypes,
  settings: ProfileSettings,
  progress: (T: number) => void,
): Promise<SweepSeries> {
  const points: SweepPoint[] = []
  let stopped: string | undefined
  const started = performance.now()
  /** (T, seconds) each length took, to predict the next. */
  const lengthSeconds: [number, number][] = []
  const model = new Model(spec, backend, dtypes.weights, 1)
  const optimizer = new AdamW(backend, model.params.trainable(), { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 })
  try {
    for (const T of settings.sweepLengths) {
      const seconds = (performance.now() - started) / 1000
      if (seconds > settings.sweepBudgetSeconds) {
        stopped = `stopped before T=${T}: the time budget of ${settings.sweepBudgetSeconds} s was used (${seconds.toFixed(0)} s)`
        break
      }
      const predicted = predictSeconds(lengthSeconds, T)
      if (predicted !== undefined && seconds + predicted > settings.sweepBudgetSeconds) {
        stopped = `stopped before T=${T}: it would take about ${predicted.toFixed(0)} s, past the time budget of ${settings.sweepBudgetSeconds} s (${seconds.toFixed(0)} s used)`
        break
      }
      const last = points.at(-1)
      if (
        last &&
        last.peakBytes * (T / last.seqLen) ** 2 > settings.sweepMemoryLimitBytes &&
        last.peakBytes * (T / last.seqLen) > settings.sweepMemoryLimitBytes
      ) {
        stopped = `stopped before T=${T}: its peak memory would pass the limit of ${Math.round(settings.sweepMemoryLimitBytes / 2 ** 20)} MiB`
        break
      }
      progress(T)
      const lengthStarted = performance.now()
      const batch = randomBatch(backend, spec.vocab_size, 1, T, T, settings.labelsPerSequence)
      try {
        await trainStep(model, optimizer, backend, dtypes.compute, batch) // warm-up
        backend.resetPeak()
        const trainStepMs = await timeMs(() => trainStep(model, optimizer, backend, dtypes.compute, batch), 2)
        const peakBytes = backend.memory().peakBytes
        const prefillMs = await timeMs(() => forwardOnly(model, backend, dtypes.compute, batch), 2)
        const decode = await decodeMsPerToken(spec, model, backend, dtypes, T)
        points.push({ seqLen: T, trainStepMs, prefillMs, decodeMsPerToken: decode, peakBytes })
        lengthSeconds.push([T, (performance.now() - lengthStarted) / 1000])
      } catch (err) {
        stopped = `stopped at T=${T}: ${(err as Error).message.split('\n')[0]}`
        break
      } finally {
        disposeBatch(batch)
      }
    }
  } finally {
    optimizer.dispose()
    model.dispose()
  }
  const xs = points.map((p) => p.seqLen)
  return {
    name,
    points,
    stopped,
    slopes: {
      trainStep: logLogSlope(
        xs,
        points.map((p) => p.trainStepMs),
      ),
      prefill: logLogSlope(
        xs,
        points.map((p) => p.prefillMs),
      ),
    },
  }
}

export async function profileModel(
  spec: ModelSpec,
  backend: Backend,
  settings: ProfileSettings,
  onProgress: ProfileProgress = () => undefined,
): Promise<ProfileResult> {
  const precision = resolvePrecision(settings.precision ?? settings.dtype, backend.id)
  const dtypes = precisionDTypes(precision)
  const dtype = dtypes.compute
  const machine = machineInfo(backend)
  const before = cpuSample()
  onProgress('measuring the device ceilings', 0.02)
  const ceilings = await probeCeilings(backend, dtype, settings.probeSeconds)
  const labels = settings.labelsPerSequence === undefined ? '' : `, ${Math.min(settings.labelsPerSequence, settings.seqLen)} labels per sequence`
  onProgress(`profiling a training step (batch ${settings.batchSize}, T=${settings.seqLen}${labels})`, 0.1)
  const model = new Model(spec, backend, dtypes.weights, 0)
  const optimizer = new AdamW(backend, model.params.trainable(), { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 })
  const batch = randomBatch(backend, spec.vocab_size, settings.batchSize, settings.seqLen, 3, settings.labelsPerSequence)
  let step: ProfileResult['step']
  let ops: OpProfile[]
  let parts: PartProfile[]
  let timeline: ProfileTimeline
  let memory: ProfileResult['memory']
  try {
    for (let i = 0; i < settings.warmup; i++) await trainStep(model, optimizer, backend, dtype, batch)
    const prof = await profileOps(model, optimizer, backend, dtype, batch, settings.repeats)
    ops = prof.ops
    parts = prof.parts
    timeline = prof.timeline
    const totalMs = prof.forwardMs + prof.backwardMs + prof.optimizerMs
    step = {
      forwardMs: prof.forwardMs,
      backwardMs: prof.backwardMs,
      optimizerMs: prof.optimizerMs,
      totalMs,
      tokensPerSecond: (settings.batchSize * settings.seqLen) / (totalMs / 1000),
      spread: prof.spread,
    }
    memory = await memoryBreakdown(model, optimizer, backend, dtypes, batch, spec, settings)
  } finally {
    disposeBatch(batch)
    optimizer.dispose()
    model.dispose()
  }
  // Other processes busy while the ceilings and the step were measured: those times are suspect.
  const competing = competitionWarning(othersBusyCores(before, cpuSample()), machine.cores)
  const lengths = settings.sweepLengths.length
  onProgress('sweeping sequence lengths (this model)', 0.3)
  const modelSweep = await sweepSeries(spec.name, spec, backend, dtypes, settings, (T) =>
    onProgress(`sweep, ${spec.name}: T=${T}`, 0.3 + (0.35 * settings.sweepLengths.indexOf(T)) / lengths),
  )
  const transformer = sameWidthTransformer(spec)
  onProgress('sweeping sequence lengths (Transformer)', 0.65)
  const transformerSweep = await sweepSeries('Transformer (same width)', transformer, backend, dtypes, settings, (T) =>
    onProgress(`sweep, Transformer: T=${T}`, 0.65 + (0.35 * settings.sweepLengths.indexOf(T)) / lengths),
  )
  onProgress('done', 1)
  return {
    format: PROFILE_FORMAT,
    createdMs: Date.now(),
    spec,
    settings,
    precision,
    machine,
    ceilings,
    step,
    ops,
    parts,
    timeline,
    warnings: competing ? [competing] : [],
    memory,
    sweep: { model: modelSweep, transformer: transformerSweep },
    parameters: estimateModel(spec, settings.seqLen).totalParams,
  }
}
