// Checkpoints: the model's parameters (named as PyTorch would load them),
// the optimizer's moments and the step, in one safetensors file whose
// metadata carries the ModelSpec and TrainSpec. Loading checks the format,
// the specs and every tensor's shape before anything is overwritten.
import { ModelSpecSchema, type ModelSpec } from '../../api/model-spec'
import { TrainSpecSchema, type TrainSpec } from '../../api/train-spec'
import { formatErrors, validateWith } from '../../api/validate'
import type { Model } from '../model/model'
import type { AdamW } from '../train/optimizer'
import type { FloatDType, HostArray } from '../tensor'
import { readSafetensors, SafetensorsError, writeSafetensors, type NamedTensor, type TypedArray } from './safetensors'
import { clip, UserError } from '../../api/errors'

export const CHECKPOINT_FORMAT = 'linea.checkpoint/1'
const MOMENT_PREFIX = { m: 'optimizer.exp_avg.', v: 'optimizer.exp_avg_sq.' } as const

export class CheckpointError extends UserError {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`checkpoint ${path}: ${message}`)
    this.name = 'CheckpointError'
  }
}

export interface CheckpointState {
  modelSpec: ModelSpec
  trainSpec: TrainSpec
  /** Steps completed. */
  step: number
  dtype: FloatDType
  tensors: Record<string, NamedTensor>
}

export async function saveCheckpoint(
  path: string,
  model: Model,
  optimizer: AdamW | undefined,
  trainSpec: TrainSpec,
  step: number,
  extra: Record<string, string> = {},
): Promise<void> {
  const tensors: Record<string, NamedTensor> = {}
  const named = (data: HostArray, shape: readonly number[]): NamedTensor => ({
    dtype: data instanceof Float32Array ? 'F32' : data instanceof Float64Array ? 'F64' : 'I32',
    shape: [...shape],
    data: data as TypedArray,
  })
  for (const p of model.params.list()) tensors[p.name] = named(await p.tensor.read(), p.tensor.shape)
  if (optimizer)
    for (const [kind, prefix] of Object.entries(MOMENT_PREFIX) as ['m' | 'v', string][])
      for (const [name, t] of optimizer[kind]) tensors[prefix + name] = named(await t.read(), t.shape)
  writeSafetensors(path, tensors, {
    ...extra,
    format: CHECKPOINT_FORMAT,
    'linea.model_spec': JSON.stringify(model.spec),
    'linea.train_spec': JSON.stringify(trainSpec),
    'linea.step': String(step),
    'linea.dtype': model.dtype,
  })
}

export function readCheckpoint(path: string): CheckpointState {
  let file
  try {
    file = readSafetensors(path)
  } catch (err) {
    // The file's problems (header, offsets, shapes) are the caller's; anything else is a bug of ours and stays one.
    if (err instanceof SafetensorsError) throw new CheckpointError(path, err.message.replace(`${path}: `, ''))
    throw err
  }
  const meta = file.metadata
  if (meta.format !== CHECKPOINT_FORMAT)
    throw new CheckpointError(
      path,
      `metadata format is ${meta.format === undefined ? 'missing' : `'${clip(meta.format, 60)}'`}; expected '${CHECKPOINT_FORMAT}' (not a Linea checkpoint?)`,
    )
  const parse = (key: string) => {
    try {
      return JSON.parse(meta[key] ?? '')
    } catch {
      throw new CheckpointError(path, `metadata ${key} is not valid JSON`)
    }
  }
  const model = validateWith(ModelSpecSchema, parse('linea.model_spec'))
  if (!model.ok) throw new CheckpointError(path, `its ModelSpec is invalid:\n${formatErrors(model.errors)}`)
  const train = validateWith(TrainSpecSchema, parse('linea.train_spec'))
  if (!train.ok) throw new CheckpointError(path, `its TrainSpec is invalid:\n${formatErrors(train.errors)}`)
  const step = Number(meta['linea.step'])
  if (!Number.isSafeInteger(step) || step < 0)
    throw new CheckpointError(path, `metadata linea.step = '${clip(String(meta['linea.step']), 40)}' is not a step number`)
  const dtype = meta['linea.dtype']
  if (dtype !== 'f32' && dtype !== 'f64') throw new CheckpointError(path, `metadata linea.dtype = '${clip(String(dtype), 40)}'; valid: f32, f64`)
  return { modelSpec: model.value, trainSpec: train.value, step, dtype, tensors: file.tensors }
}

/** Copies a checkpoint's parameters (and moments, when given) into a model built from its spec. */
export function restoreCheckpoint(path: string, state: CheckpointState, model: Model, optimizer?: AdamW): void {
  const write = (name: string, target: { shape: readonly number[]; dtype: string }, put: (data: HostArray) => void) => {
    const t = state.tensors[name]
    if (!t) throw new CheckpointError(path, `has no tensor ${name}`)
    if (t.shape.join() !== target.shape.join())
      throw new CheckpointError(path, `tensor ${name} has shape [${t.shape.join(', ')}], the model needs [${target.shape.join(', ')}]`)
    const want = target.dtype === 'f32' ? 'F32' : 'F64'
    if (t.dtype !== want) throw new CheckpointError(path, `tensor ${name} is ${t.dtype}, the model is ${target.dtype}`)
    put(t.data)
  }
  // Check everything first, then write, so a bad file changes nothing.
  const writes: (() => void)[] = []
  const backend = model.backend
  for (const p of model.params.list()) write(p.name, p.tensor, (d) => writes.push(() => backend.write(p.tensor, d)))
  if (optimizer)
    for (const [kind, prefix] of Object.entries(MOMENT_PREFIX) as ['m' | 'v', string][])
      for (const [name, t] of optimizer[kind]) write(prefix + name, t, (d) => writes.push(() => backend.write(t, d)))
  for (const w of writes) w()
}
