// The op calls one training step of a model makes, found without computing:
// the model, its forward and backward (the loss, ctx.backward) and the
// optimizer (sum_squares for the clip, adamw_step per parameter) run on a
// tracing backend whose tensors are shapes only; each op is planned by the
// addon's planOp, which gives its outputs' shapes (and throws the op table's
// error for a bad call), and recorded; for a run, an evaluation forward at
// each evaluation length too. Backend selection asks a backend whether it
// accepts each of these calls.
//
// Returns: the distinct calls, in the order first made, each as
// { op, inputs: { name: { shape, dtype } }, attrs (as given, no defaults),
// outputs (the optional outputs asked for) }; calls with the same op,
// input shapes and dtypes, attributes and outputs appear once.
import type { ModelSpec } from '../api/model-spec'
import type { TrainSpec } from '../api/train-spec'
import { loadAddon, type LineaAddon, type NativeTensorDesc } from './addon'
import { Ctx } from './autograd/context'
import { precisionDTypes, type RunPrecision } from './precision'
import type { AttrValue, Backend, OpObserver, OpOutputs } from './backend'
import { Model } from './model/model'
import { createTask } from './tasks'
import type { Batch } from './tasks/types'
import { toDevice } from './train/device-batch'
import { AdamW } from './train/optimizer'
import { checkRun } from './train/run-checks'
import { arrayFor, Tensor, type DType, type HostArray } from './tensor'

/** One op call: what a backend is asked to run, without data. */
export interface TracedCall {
  op: string
  inputs: Record<string, NativeTensorDesc>
  attrs: Record<string, AttrValue>
  /** Optional outputs asked for. */
  outputs: string[]
}

/** A key equal for calls with the same op, shapes, dtypes, attributes and outputs. */
export function callKey(call: TracedCall): string {
  const sorted = <T>(o: Record<string, T>) =>
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k]])
  return JSON.stringify([call.op, sorted(call.inputs), sorted(call.attrs), [...call.outputs].sort()])
}

/** The calls without repeats, first occurrence kept. */
export function distinctCalls(calls: Iterable<TracedCall>): TracedCall[] {
  const seen = new Map<string, TracedCall>()
  for (const c of calls) {
    const key = callKey(c)
    if (!seen.has(key)) seen.set(key, c)
  }
  return [...seen.values()]
}

/** A Backend that computes nothing: tensors are shapes, ops are planned and recorded. */
export class TracingBackend implements Backend {
  readonly id = 'trace'
  readonly kind = 'cpu' as const
  private readonly addon: LineaAddon = loadAddon()
  private readonly calls = new Map<string, TracedCall>()

  /** The distinct calls so far, in the order first made. */
  traced(): TracedCall[] {
    return [...this.calls.values()]
  }

  upload(data: HostArray, shape: readonly number[]): Tensor {
    const dtype: DType = data instanceof Float32Array ? 'f32' : data instanceof Float64Array ? 'f64' : 'i32'
    return this.shape(shape, dtype)
  }

  zeros(shape: readonly number[], dtype: DType): Tensor {
    return this.shape(shape, dtype)
  }

  /** Zeros of the tensor's size: nothing was computed. */
  async read(tensor: Tensor): Promise<HostArray> {
    return arrayFor(tensor.dtype, tensor.size)
  }

  dispose(): void {}

  view(tensor: Tensor, shape: readonly number[]): Tensor {
    const size = shape.reduce((a, b) => a * b, 1)
    if (size !== tensor.size) throw new Error(`view: [${shape.join(', ')}] has ${size} elements, the tensor [${tensor.shape.join(', ')}] has ${tensor.size}`)
    return this.shape(shape, tensor.dtype)
  }

  fill(): void {}
  write(): void {}

  supports(): boolean {
    return true
  }

  run(op: string, inputs: Record<string, Tensor | undefined>, attrs: Record<string, AttrValue | undefined> = {}, outputs: string[] = []): OpOutputs {
    const call: TracedCall = { op, inputs: {}, attrs: {}, outputs: [...outputs] }
    for (const [name, t] of Object.entries(inputs)) if (t) call.inputs[name] = { shape: [...t.shape], dtype: t.dtype }
    for (const [name, v] of Object.entries(attrs)) if (v !== undefined) call.attrs[name] = v
    const plan = this.addon.planOp(op, call.inputs, call.attrs, call.outputs)
    const key = callKey(call)
    if (!this.calls.has(key)) this.calls.set(key, call)
    const out: OpOutputs = {}
    for (const o of plan.outputs) out[o.name] = this.shape(o.shape, o.dtype)
    return out
  }

  memory(): { bytesInUse: number; peakBytes: number } {
    return { bytesInUse: 0, peakBytes: 0 }
  }

  resetPeak(): void {}
  async synchronize(): Promise<void> {}
  observe(_observer: OpObserver | undefined): void {}

  private shape(shape: readonly number[], dtype: DType): Tensor {
    return new Tensor(this, undefined, [...shape], dtype)
  }
}

/**
 * The distinct op calls of one training step of `spec` on `batch` (forward,
 * backward, clip and AdamW), then of an evaluation forward on each of `evalBatches`.
 */
export async function traceTrainingStep(spec: ModelSpec, precision: RunPrecision, batch: Batch, evalBatches: Batch[] = []): Promise<TracedCall[]> {
  const backend = new TracingBackend()
  const { weights, compute } = precisionDTypes(precision)
  const model = new Model(spec, backend, weights, 0, false)
  const trainable = model.params.trainable()
  const optimizer = new AdamW(backend, trainable, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 })
  const ctx = new Ctx(backend, compute, true)
  const device = toDevice(backend, batch)
  model.loss(ctx, device)
  ctx.backward([])
  const grads = ctx.gradsByName(trainable)
  optimizer.step(grads, 1e-3, 1, { gradSqSum: optimizer.gradSqSum(grads), maxNorm: 1 })
  for (const b of evalBatches) model.loss(new Ctx(backend, compute, false), toDevice(backend, b))
  return backend.traced()
}

/** A batch of B sequences of T tokens labelled at every position (the profiler's shape). */
export function fullyLabelledBatch(batchSize: number, seqLen: number): Batch {
  return { batchSize, seqLen, inputs: new Int32Array(batchSize * seqLen), labels: new Int32Array(batchSize * seqLen), tags: {} }
}

/**
 * The distinct op calls of a run: the first training step on its task's
 * first batch (batch size, sequence length, labelled rows) and an
 * evaluation forward at each evaluation length, in `precision` (bf16:
 * f32 weights, bf16 ops). Refuses a spec pair the trainer would refuse, first.
 */
export async function traceRun(spec: ModelSpec, trainSpec: TrainSpec, precision: RunPrecision): Promise<TracedCall[]> {
  const task = createTask(trainSpec.task, trainSpec.seed)
  checkRun(spec, trainSpec, task)
  const evalBatches = task.evalSets(trainSpec.batch_size, 1).flatMap((set) => set.batches.slice(0, 1))
  return traceTrainingStep(spec, precision, task.trainBatch(0, trainSpec.batch_size), evalBatches)
}
