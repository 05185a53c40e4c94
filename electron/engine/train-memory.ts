// How much memory a training run needs, before it starts: a spec that needs
// terabytes validates (every field is in range) and would start, then fail
// deep in an allocation or take the machine down with it. Pure TypeScript,
// no backend: the main process checks a run against the machine before it
// queues it (lab-service), and the same numbers explain the refusal.
//
// Bytes at the peak of a training step, with b bytes per element (4 for f32
// and bf16, 8 for f64), N = batch × seq_len tokens, P parameters (P_t
// trainable):
//   parameters  P · b
//   gradients   P_t · b
//   optimizer   2 · P_t · b            AdamW's two moments
//   activations the larger of
//                 training: 2 · F(N)  forward intermediates, held by the tape
//                                     until the step ends, and as many gradients
//                 evaluation: F(N_eval) at the longest evaluation length, no tape
// F counts, per token, every tensor a block's forward creates (projections,
// short convs, feature maps, gates, the mixer's output, norms, the MLP's
// gate/up/hidden/down, residual adds; softmax layers O(T · d) as the tiled
// kernel keeps it), plus the LM head's logits at labelled rows only (the
// task decides how many: MQAR's queries, every position for state tracking
// and bytes). It is an estimate of what the engine allocates, within tens of
// percent, not a bound: good enough to refuse a run that cannot fit, not to
// pack one to the last byte.
import { headDims, outputNormWeight, type Layer, type ModelSpec } from '../api/model-spec'
import type { Task, TrainSpec } from '../api/train-spec'
import { paramCounts } from './estimate'

export interface TrainingMemory {
  batchSize: number
  seqLen: number
  bytesPerElement: number
  /** Parameter count (all) and trainable. */
  params: number
  trainableParams: number
  parametersBytes: number
  gradientsBytes: number
  optimizerBytes: number
  /** At the peak: a training step, or evaluation at its longest length when that is larger. */
  activationsBytes: number
  totalBytes: number
}

/** The shape of a run's work: batch, training length, longest evaluation length, labelled rows per sequence. */
export interface TrainingShape {
  batchSize: number
  seqLen: number
  evalSeqLen: number
  /** Rows per sequence the loss reads (the LM head runs only there), at length `seqLen`. */
  labelledPerSequence: (seqLen: number) => number
  dtype: TrainSpec['precision']
}

/** Labelled positions per sequence of length T for each task (see tasks/*.ts). */
function labelled(task: Task): (T: number) => number {
  switch (task.kind) {
    case 'mqar':
      return () => task.num_kv_pairs
    case 'selective_copy':
      return () => task.num_tokens
    case 'induction_heads':
      return () => 1
    default:
      return (T) => T // parity, modular addition, permutations, bytes: every position
  }
}

export function trainingShape(train: TrainSpec): TrainingShape {
  const task = train.task
  const evalLens = 'eval_seq_lens' in task ? task.eval_seq_lens : []
  return {
    batchSize: train.batch_size,
    seqLen: task.seq_len,
    evalSeqLen: Math.max(task.seq_len, ...evalLens),
    labelledPerSequence: labelled(task),
    dtype: train.precision,
  }
}

/** Elements one layer's block creates per token in a forward pass (see the header). */
function layerElementsPerToken(spec: ModelSpec, layer: Layer): number {
  const d = spec.d_model
  const H = layer.heads
  const { dk, dv } = headDims(spec, layer)
  const hidden = spec.block === 'transformer' && spec.mlp_expansion > 0 ? Math.max(1, Math.round(spec.mlp_expansion * d)) : 0
  // pre-norm and residual add; with an MLP its norm, gate, up, hidden, down and residual add
  let n = 2 * d + (hidden > 0 ? 3 * d + 3 * hidden : 0)
  if (layer.kind === 'softmax') {
    const hd = H * dk
    return n + 3 * hd + (layer.rotary ? 2 * hd : 0) + hd + H + d
  }
  const kd = H * dk
  const vd = H * dv
  const kf = H * (layer.feature_map === 'taylor2' ? 1 + dk + dk * dk : dk)
  n += 2 * kd + vd // q, k, v projections
  if (layer.short_conv > 0) n += 2 * kd + vd
  n += 2 * kf // feature maps of q and k
  if (layer.forget_gate === 'scalar' || layer.input_gate === 'softplus') n += 2 * H // dt projection, + bias
  if (layer.forget_gate === 'scalar') n += 2 * H
  if (layer.forget_gate === 'vector') n += 16 + 2 * kd
  if (layer.input_gate === 'sigmoid' || layer.input_gate === 'exp') n += H
  if (layer.delta_rule !== 'off') n += 2 * H
  n += vd // the mixer's output
  // a per-head weight multiplies the normalized output as a separate op: one more vd
  if (layer.output_norm !== 'none') n += outputNormWeight(layer) === 'per_head' ? 2 * vd : vd
  if (layer.shortcut !== 'none') n += 2 * vd
  if (layer.output_gate === 'swish') n += 2 * vd
  return n + d // output projection
}

/** Forward elements for `batch` sequences of length T: blocks, embedding, final norm, head at labelled rows. */
function forwardElements(spec: ModelSpec, batch: number, T: number, labelledRows: number): number {
  const perToken = spec.layers.reduce((n, l) => n + layerElementsPerToken(spec, l), 0) + 2 * spec.d_model
  const rows = Math.min(labelledRows, T) * batch
  // gathered hidden rows, logits, and the loss's per-row values
  const head = rows * (spec.d_model + spec.vocab_size + 4)
  return batch * T * perToken + head
}

export function estimateTrainingMemory(spec: ModelSpec, shape: TrainingShape): TrainingMemory {
  const b = shape.dtype === 'f64' ? 8 : 4
  const counts = paramCounts(spec)
  const trainStep = 2 * forwardElements(spec, shape.batchSize, shape.seqLen, shape.labelledPerSequence(shape.seqLen))
  const evaluation = forwardElements(spec, shape.batchSize, shape.evalSeqLen, shape.labelledPerSequence(shape.evalSeqLen))
  const parametersBytes = counts.all * b
  const gradientsBytes = counts.total * b
  const optimizerBytes = 2 * counts.total * b
  const activationsBytes = Math.max(trainStep, evaluation) * b
  return {
    batchSize: shape.batchSize,
    seqLen: shape.seqLen,
    bytesPerElement: b,
    params: counts.all,
    trainableParams: counts.total,
    parametersBytes,
    gradientsBytes,
    optimizerBytes,
    activationsBytes,
    totalBytes: parametersBytes + gradientsBytes + optimizerBytes + activationsBytes,
  }
}

/** "1.5 GiB", "12 GiB", "3.2 PiB": sizes as a person reads them. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']
  let i = 0
  let v = bytes
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${Math.round(v)} bytes` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`
}

/**
 * Why a run does not fit in `availableBytes` on `device`, or undefined when
 * it does: "this run needs about X on cpu (parameters …, activations …); the
 * machine has Y; lower …, or pass allowOverMemory: true to start it anyway".
 */
export function memoryProblem(
  m: TrainingMemory,
  device: string,
  availableBytes: number,
  what = 'this run',
  lower = 'batch_size, seq_len, d_model or the layer count',
): string | undefined {
  if (m.totalBytes <= availableBytes) return undefined
  const parts =
    `parameters ${formatBytes(m.parametersBytes)}, gradients ${formatBytes(m.gradientsBytes)}, AdamW state ${formatBytes(m.optimizerBytes)}, ` +
    `activations ${formatBytes(m.activationsBytes)} for batch ${m.batchSize} × seq_len ${m.seqLen}`
  const has = device === 'cpu' ? `the machine has ${formatBytes(availableBytes)}` : `${device} has ${formatBytes(availableBytes)}`
  return `${what} needs about ${formatBytes(m.totalBytes)} on ${device} (${parts}); ${has}; lower ${lower}, or pass allowOverMemory: true to start it anyway`
}
