// Import of a Hugging Face-format flash-linear-attention folder:
//
//   <folder>/config.json                     fla config (model_type + fields)
//   <folder>/model.safetensors               or
//   <folder>/model.safetensors.index.json    {"weight_map": {tensor: shard file}} + the shards
//
// into Linea's parameters (float32, Linea's names and shapes) and a ModelSpec,
// through the mapping of fla-config.ts and fla-params.ts. Every file is
// untrusted: shard names resolve inside the folder, JSON is size- and
// shape-capped, every shard header is checked against its file size before
// any tensor is read (a truncated shard is refused naming the file), every
// tensor the model needs must be where the index says with the shape fla's
// class gives it, and a tensor Linea has no place for is refused by name.
// Tensors are read one at a time, decoded (F32, BF16, F16) in chunks and
// copied into the Linea arrays: the model is held once, plus one tensor.
import { basename } from 'node:path'
import { UserError, clip } from '../api/errors'
import type { ModelSpec } from '../api/model-spec'
import type { RunImport } from '../api/runs'
import type { TrainSpec } from '../api/train-spec'
import { CHECKPOINT_FORMAT } from '../engine/checkpoint/checkpoint'
import { SafetensorsError, SafetensorsReader, writeSafetensors, type NamedTensor } from '../engine/checkpoint/safetensors'
import { FILE_LIMITS, isJsonObject, jsonShapeProblem, readRegularFile, statEntry } from '../workspace/files'
import { resolveInside } from '../workspace/paths'
import { modelSpecFromFlaConfig, parseFlaConfigText, type FlaLayout } from './fla-config'
import { copyLinkRows, flaComputedParams, flaTensorLinks, flaTensorShapes, lineaTensorShapes, optionalFlaTensors, type TensorLink } from './fla-params'

export class HfImportError extends UserError {}

const fail = (message: string) => new HfImportError(message)

export const HF_CONFIG = 'config.json'
export const HF_WEIGHTS = 'model.safetensors'
export const HF_INDEX = 'model.safetensors.index.json'

export interface HfImport {
  spec: ModelSpec
  layout: FlaLayout
  /** Linea parameter name -> float32 values, in Linea's shape. */
  params: Map<string, { shape: number[]; data: Float32Array }>
  /** The safetensors files read, relative to the folder. */
  files: string[]
  /** dtypes found in the checkpoint, e.g. ['BF16']. */
  dtypes: string[]
}

/** A folder's JSON file, parsed (Python's Infinity and NaN allowed), or undefined when absent. */
function readFolderJson(folder: string, name: string, maxBytes: number): unknown {
  const path = resolveInside(folder, name)
  const bytes = readRegularFile(path, maxBytes, (message) => fail(message))
  if (bytes === undefined) return undefined
  let value: unknown
  try {
    value = parseFlaConfigText(bytes.toString('utf8'))
  } catch (err) {
    throw fail(`${path} is not valid JSON: ${clip((err as Error).message, 160)}`)
  }
  const problem = jsonShapeProblem(value)
  if (problem) throw fail(`${path} ${problem}`)
  return value
}

/** Which file holds each tensor: the index's weight_map, or every tensor in model.safetensors. */
function weightFiles(folder: string): Map<string, string> | 'single' {
  const index = readFolderJson(folder, HF_INDEX, FILE_LIMITS.record)
  if (index === undefined) {
    if (statEntry(resolveInside(folder, HF_WEIGHTS), (m) => fail(m)) === 'missing')
      throw fail(
        `${folder} has neither ${HF_WEIGHTS} nor ${HF_INDEX}; an fla checkpoint folder holds config.json and one of them (save_pretrained writes them)`,
      )
    return 'single'
  }
  const where = resolveInside(folder, HF_INDEX)
  if (!isJsonObject(index) || !isJsonObject(index.weight_map)) throw fail(`${where}: expected an object with weight_map {tensor name: shard file name}`)
  const map = new Map<string, string>()
  for (const [tensor, file] of Object.entries(index.weight_map)) {
    if (typeof file !== 'string' || !/^[\w.-]+\.safetensors$/.test(file) || file.startsWith('.'))
      throw fail(
        `${where}: weight_map['${clip(tensor, 120)}'] = ${clip(JSON.stringify(file) ?? String(file), 120)} is not a shard file name in the folder (e.g. model-00001-of-00002.safetensors)`,
      )
    map.set(tensor, file)
  }
  return map
}

/**
 * Reads the folder into Linea parameters and a ModelSpec (named `name`, else
 * the folder's name). Throws HfImportError (or FlaConfigError, SafetensorsError:
 * all UserErrors) naming the file, field or tensor at fault.
 */
export function importHfFolder(folder: string, name?: string): HfImport {
  const dir = statEntry(folder, (m) => fail(m))
  if (dir === 'missing') throw fail(`${folder} does not exist; give a folder with config.json and model.safetensors`)
  if (!dir.isDirectory()) throw fail(`${folder} is not a folder; give a folder with config.json and model.safetensors`)
  const config = readFolderJson(folder, HF_CONFIG, FILE_LIMITS.small)
  if (config === undefined) throw fail(`${folder} has no ${HF_CONFIG}`)
  if (!isJsonObject(config)) throw fail(`${resolveInside(folder, HF_CONFIG)} is not an object with model_type`)
  const { spec, layout } = modelSpecFromFlaConfig(config, name ?? (basename(folder).slice(0, 200) || 'imported'))
  const links = flaTensorLinks(spec, layout)
  const needed = flaTensorShapes(links)
  const optional = optionalFlaTensors(spec)

  const placement = weightFiles(folder)
  const readers = new Map<string, SafetensorsReader>()
  try {
    const open = (file: string) => {
      let r = readers.get(file)
      if (!r) {
        r = SafetensorsReader.open(resolveInside(folder, file))
        readers.set(file, r)
      }
      return r
    }
    // Every header first: a truncated or foreign shard is refused before anything is read.
    const files = placement === 'single' ? [HF_WEIGHTS] : [...new Set(placement.values())].sort()
    for (const f of files) open(f)
    const fileOf = new Map<string, string>()
    for (const f of files)
      for (const tensor of readers.get(f)!.entries.keys()) {
        if (placement !== 'single' && placement.get(tensor) !== f)
          throw fail(
            `${f} holds tensor '${clip(tensor, 120)}', which ${HF_INDEX} ${placement.has(tensor) ? `puts in ${placement.get(tensor)}` : 'does not list'}`,
          )
        if (!needed.has(tensor))
          throw fail(
            `${f}: tensor '${clip(tensor, 120)}' has no place in the Linea model of this ${layout.modelType} config (Linea reads ${[...needed.keys()].slice(0, 6).join(', ')}, ...); the config and the weights disagree, or fla added a parameter Linea does not compute`,
          )
        fileOf.set(tensor, f)
      }
    if (placement !== 'single')
      for (const [tensor, f] of placement) if (!fileOf.has(tensor)) throw fail(`${HF_INDEX} puts tensor '${clip(tensor, 120)}' in ${f}, which does not hold it`)
    for (const [tensor, shape] of needed) {
      const f = fileOf.get(tensor)
      if (!f) {
        if (optional.has(tensor)) continue
        throw fail(`tensor '${tensor}' is missing: the ${layout.modelType} config needs it with shape [${shape.join(', ')}] and no file of ${folder} holds it`)
      }
      const e = readers.get(f)!.entries.get(tensor)!
      if (e.shape.join() !== shape.join())
        throw fail(`${f}: tensor '${tensor}' has shape [${e.shape.join(', ')}]; the config gives fla's class [${shape.join(', ')}]`)
    }

    const params = new Map<string, { shape: number[]; data: Float32Array; written: Uint8Array; rowSize: number }>()
    for (const [lname, shape] of lineaTensorShapes(links)) {
      const size = shape.reduce((a, b) => a * b, 1)
      const rowSize = links.find((l) => l.linea === lname)!.rowSize
      params.set(lname, { shape, data: new Float32Array(size), written: new Uint8Array(size / rowSize), rowSize })
    }
    const byFla = new Map<string, TensorLink[]>()
    for (const l of links) byFla.set(l.fla, [...(byFla.get(l.fla) ?? []), l])
    const dtypes = new Set<string>()
    // Shard by shard, tensor by tensor: one tensor's floats at a time besides the Linea arrays.
    for (const f of files) {
      const reader = readers.get(f)!
      for (const [tensor, entry] of reader.entries) {
        dtypes.add(entry.dtype)
        const values = reader.readFloat32(tensor)
        for (const link of byFla.get(tensor) ?? []) {
          const target = params.get(link.linea)!
          const problem = copyLinkRows(link, values, target.data, target.written)
          if (problem) throw fail(`${f}: ${problem}`)
        }
      }
      reader.close()
    }
    const out = new Map<string, { shape: number[]; data: Float32Array }>(flaComputedParams(spec, layout))
    for (const [lname, p] of params) {
      const unwritten = p.written.indexOf(0)
      if (unwritten >= 0)
        throw fail(`Linea parameter ${lname} row ${unwritten} got no values from the checkpoint (a bug in the mapping of ${layout.modelType})`)
      out.set(lname, { shape: p.shape, data: p.data })
    }
    return { spec, layout, params: out, files, dtypes: [...dtypes].sort() }
  } catch (err) {
    if (err instanceof SafetensorsError) throw fail(err.message)
    throw err
  } finally {
    for (const r of readers.values()) r.close()
  }
}

/** Where a Linea checkpoint of an import says it came from (its metadata, and the run record's `imported`). */
export type ImportedFrom = RunImport

/**
 * The TrainSpec an imported model carries (a Linea checkpoint and run need
 * one): nothing was trained; it is what a fine-tune or the inspector starts
 * from, MQAR at the model's vocabulary on the CPU in float32, changeable
 * before training.
 */
export function importedTrainSpec(spec: ModelSpec): TrainSpec {
  const vocab = Math.min(spec.vocab_size, 8192)
  const task: TrainSpec['task'] =
    vocab >= 16 ? { kind: 'mqar', seq_len: 64, num_kv_pairs: 4, power_a: 0.01, vocab_size: vocab } : { kind: 'parity', seq_len: 32, eval_seq_lens: [32] }
  return {
    format: 'linea.train/1',
    task,
    steps: 1000,
    batch_size: 8,
    optimizer: { kind: 'adamw', lr: 1e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, grad_clip: 1 },
    schedule: { warmup_steps: 0, decay: 'cosine', min_lr_ratio: 0.1 },
    seed: 0,
    backend: 'auto',
    device: 0,
    precision: 'f32',
    eval: { every: 100, batches: 4 },
    early_stop_accuracy: null,
    checkpoint_every: 0,
  }
}

/**
 * Writes the import as a Linea checkpoint (step 0, float32, the parameters
 * in Linea's names) that readCheckpoint and restoreCheckpoint load.
 */
export function writeImportedCheckpoint(path: string, imported: HfImport, trainSpec: TrainSpec, from: ImportedFrom): void {
  const tensors: Record<string, NamedTensor> = {}
  for (const [name, p] of imported.params) tensors[name] = { dtype: 'F32', shape: p.shape, data: p.data }
  writeSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT,
    'linea.model_spec': JSON.stringify(imported.spec),
    'linea.train_spec': JSON.stringify(trainSpec),
    'linea.step': '0',
    'linea.dtype': 'f32',
    'linea.imported_from': JSON.stringify(from),
  })
}
