// The op calls of a training step, traced without computing (trace-ops.ts),
// against the calls a real CPU step makes; backend selection by accepts.
import { describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../../electron/api/model-spec'
import { preset } from '../../../electron/api/presets'
import { resizeModel } from '../../../electron/api/resize'
import { SpecValidationError } from '../../../electron/api/validate'
import { loadAddon } from '../../../electron/engine/addon'
import { Ctx } from '../../../electron/engine/autograd/context'
import type { AttrValue } from '../../../electron/engine/backend'
import { addonAccepts, chooseBackend, selectBackend } from '../../../electron/engine/backend-select'
import { Model } from '../../../electron/engine/model/model'
import { nativeBackend } from '../../../electron/engine/native-backend'
import { Rng } from '../../../electron/engine/random'
import type { Batch } from '../../../electron/engine/tasks/types'
import { callKey, fullyLabelledBatch, traceRun, traceTrainingStep, type TracedCall } from '../../../electron/engine/trace-ops'
import { disposeBatch, toDevice } from '../../../electron/engine/train/device-batch'
import { AdamW } from '../../../electron/engine/train/optimizer'
import { quickTrainSpec } from '../../fixtures/runs'

const addon = loadAddon()
const cpu = nativeBackend('cpu')
const VOCAB = 12

function small(id: string): ModelSpec {
  return resizeModel(preset(id), { d_model: 16, vocab_size: VOCAB, heads: 2 })
}

/** B sequences of T tokens, every third position unlabelled. */
function batchOf(B: number, T: number): Batch {
  const rng = new Rng(5)
  const inputs = Int32Array.from({ length: B * T }, () => rng.int(VOCAB))
  const labels = Int32Array.from({ length: B * T }, (_, n) => (n % 3 === 1 ? -1 : rng.int(VOCAB)))
  return { batchSize: B, seqLen: T, inputs, labels, tags: {} }
}

/** A call with its output shapes, as one string. */
function signature(call: TracedCall, outputs: Record<string, { shape: readonly number[]; dtype: string }>): string {
  const outs = Object.keys(outputs)
    .sort()
    .map((name) => `${name}:${outputs[name]!.dtype}[${outputs[name]!.shape.join(',')}]`)
  return `${callKey({ ...call, outputs: [] })} -> ${outs.join(' ')}`
}

/** The distinct calls of one real training step on the CPU, with the outputs they returned. */
async function realStep(spec: ModelSpec, batch: Batch): Promise<Set<string>> {
  const seen = new Set<string>()
  cpu.observe((op, inputs, attrs, outputs) => {
    const call: TracedCall = { op, inputs: {}, attrs: {}, outputs: [] }
    for (const [name, t] of Object.entries(inputs)) if (t) call.inputs[name] = { shape: [...t.shape], dtype: t.dtype }
    for (const [name, v] of Object.entries(attrs)) if (v !== undefined) call.attrs[name] = v as AttrValue
    seen.add(signature(call, outputs))
  })
  const model = new Model(spec, cpu, 'f32', 1)
  const trainable = model.params.trainable()
  const optimizer = new AdamW(cpu, trainable, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 })
  const device = toDevice(cpu, batch)
  const ctx = new Ctx(cpu, 'f32', true)
  try {
    model.loss(ctx, device)
    ctx.backward([])
    const grads = ctx.gradsByName(trainable)
    const gradSqSum = optimizer.gradSqSum(grads)
    optimizer.step(grads, 1e-3, 1, { gradSqSum, maxNorm: 1 })
    gradSqSum.dispose()
  } finally {
    cpu.observe(undefined)
    ctx.dispose()
    optimizer.dispose()
    model.dispose()
    disposeBatch(device)
  }
  return seen
}

function traceSignatures(calls: TracedCall[]): Set<string> {
  return new Set(calls.map((c) => signature(c, Object.fromEntries(addon.planOp(c.op, c.inputs, c.attrs, c.outputs).outputs.map((o) => [o.name, o])))))
}

describe('traceTrainingStep', () => {
  for (const id of ['hybrid-gla', 'gated-deltanet']) {
    it(`${id} at d_model 16, T 8: the calls and output shapes of a real CPU step`, async () => {
      const spec = small(id)
      const batch = batchOf(2, 8)
      const calls = await traceTrainingStep(spec, 'f32', batch)
      expect(calls.length).toBe(new Set(calls.map(callKey)).size)
      const traced = traceSignatures(calls)
      const real = await realStep(spec, batch)
      expect([...traced].filter((s) => !real.has(s))).toEqual([])
      expect([...real].filter((s) => !traced.has(s))).toEqual([])
      const ops = new Set(calls.map((c) => c.op))
      for (const op of ['mixer_fwd', 'mixer_bwd', 'cross_entropy_fwd', 'cross_entropy_bwd', 'sum_squares', 'adamw_step']) expect(ops).toContain(op)
      if (id === 'hybrid-gla') expect(ops).toContain('softmax_attn_bwd')
      const mixer = calls.find((c) => c.op === 'mixer_fwd')!
      expect(mixer.inputs.q!.shape).toEqual([2, 8, 2, spec.layers[0]!.kind === 'linear' ? (spec.layers[0]!.dk ?? 8) : 8])
      expect(mixer.inputs.q!.dtype).toBe('f32')
    })
  }

  it('computes nothing: no CPU op, no memory, at a size a real step would take long over', async () => {
    const spec = resizeModel(preset('hybrid-gla'), { d_model: 512, vocab_size: 256, heads: 8 })
    const ran: string[] = []
    cpu.observe((op) => ran.push(op))
    const before = addon.memory('cpu').bytesInUse
    const t0 = performance.now()
    try {
      const calls = await traceTrainingStep(spec, 'f64', fullyLabelledBatch(16, 4096))
      expect(calls.find((c) => c.op === 'softmax_attn_fwd')!.inputs.q).toEqual({ shape: [16, 4096, 8, 64], dtype: 'f64' })
    } finally {
      cpu.observe(undefined)
    }
    expect(performance.now() - t0).toBeLessThan(2000)
    expect(ran).toEqual([])
    expect(addon.memory('cpu').bytesInUse).toBe(before)
  })

  it('throws the op table’s error for a call it refuses', async () => {
    const spec = small('transformer')
    // A window longer than the model can see is fine; a negative one is not.
    for (const layer of spec.layers) if (layer.kind === 'softmax') layer.window = -2
    await expect(traceTrainingStep(spec, 'f32', batchOf(1, 4))).rejects.toThrow(/softmax_attn_fwd: .*window/)
  })
})

describe('traceRun', () => {
  it('the task’s batch, and an evaluation forward at each evaluation length', async () => {
    const spec = resizeModel(preset('gated-deltanet'), { d_model: 16, vocab_size: 64, heads: 2 })
    const train = quickTrainSpec({ task: { kind: 'parity', seq_len: 8, eval_seq_lens: [8, 24] }, batch_size: 3, precision: 'f64' })
    const calls = await traceRun(spec, train, 'f64')
    const mixerT = (op: string) => [...new Set(calls.filter((c) => c.op === op).map((c) => c.inputs.q!.shape.slice(0, 2).join('x')))].sort()
    expect(mixerT('mixer_fwd')).toEqual(['3x24', '3x8'])
    expect(mixerT('mixer_bwd')).toEqual(['3x8'])
    expect(calls.every((c) => Object.values(c.inputs).every((t) => t.dtype !== 'f32'))).toBe(true)
  })

  it('refuses a spec pair the trainer refuses, before tracing', async () => {
    const spec = resizeModel(preset('gla'), { d_model: 16, vocab_size: 8, heads: 2 })
    await expect(traceRun(spec, quickTrainSpec(), 'f32')).rejects.toThrow(SpecValidationError)
  })
})

describe('selectBackend by accepts', () => {
  const hasCuda = addon.backends().includes('cuda:0')

  it('on the CPU: picks cpu, asked for or by auto without a CUDA device', async () => {
    const calls = await traceTrainingStep(small('gated-deltanet'), 'f32', batchOf(2, 8))
    expect(selectBackend('cpu', 0, calls)).toMatchObject({ backend: cpu, reason: 'cpu (asked for)' })
    if (!hasCuda) {
      expect(selectBackend('auto', 0, calls)).toMatchObject({ backend: cpu, reason: 'auto picked cpu: no CUDA device' })
      expect(() => selectBackend('cuda', 0, calls)).toThrow("backend 'cuda' device 0 is not available; available: cpu")
    }
  })

  it('a bf16 (mixed precision) run that would go to the CPU is refused, saying what to use', async () => {
    const calls = await traceTrainingStep(small('gla'), 'bf16', batchOf(2, 8))
    const message = "precision 'bf16' needs a CUDA device, and the run goes to the CPU; use precision 'f32' (or 'f64') on the CPU"
    expect(() => chooseBackend('cpu', 0, ['cpu'], calls, addonAccepts)).toThrow(message)
    expect(() => chooseBackend('auto', 0, ['cpu'], calls, addonAccepts)).toThrow(message)
    // with a device that takes every call, auto picks it
    expect(chooseBackend('auto', 0, ['cpu', 'cuda:0'], calls, () => null).id).toBe('cuda:0')
  })

  it('accepts for a backend the addon does not have throws, naming it', async () => {
    const [call] = await traceTrainingStep(small('gla'), 'f32', batchOf(1, 4))
    expect(() => addonAccepts('cuda:7', call!)).toThrow("backend 'cuda:7' is not available")
  })

  it('a device that refuses the mixer backward: auto falls back to cpu, cuda is refused', async () => {
    const calls = await traceTrainingStep(small('gated-deltanet'), 'f32', batchOf(2, 8))
    const fakeCuda = (id: string, call: TracedCall) =>
      id === 'cuda:0'
        ? call.op === 'mixer_bwd'
          ? `backend cuda:0 has no kernel for mixer_bwd with delta in ${call.inputs.q!.dtype}`
          : null
        : addonAccepts(id, call)
    const refused = calls.filter((c) => c.op === 'mixer_bwd').length
    expect(refused).toBeGreaterThan(0)
    expect(chooseBackend('auto', 0, ['cpu', 'cuda:0'], calls, fakeCuda)).toEqual({
      id: 'cpu',
      reason: `auto picked cpu: cuda:0 refuses ${refused} of the model's ${calls.length} op calls (backend cuda:0 has no kernel for mixer_bwd with delta in f32)`,
    })
    expect(() => chooseBackend('cuda', 0, ['cpu', 'cuda:0'], calls, fakeCuda)).toThrow(
      `backend cuda:0 cannot train this model: it refuses ${refused} of the model's ${calls.length} op calls (backend cuda:0 has no kernel for mixer_bwd with delta in f32); use backend 'cpu' or 'auto'`,
    )
    expect(chooseBackend('auto', 0, ['cpu', 'cuda:0'], calls, (id, c) => (id === 'cuda:0' ? null : addonAccepts(id, c)))).toEqual({
      id: 'cuda:0',
      reason: `auto picked cuda:0: it accepts all ${calls.length} of the model's op calls`,
    })
  })
})
