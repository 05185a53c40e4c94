// Export of a Linea checkpoint to a self-contained PyTorch folder:
//
//   model.py           the model in plain torch (export-torch-python.ts, export-torch-mixers.ts), built from config.json
//   config.json        the ModelSpec, as the checkpoint carries it
//   train_spec.json    the checkpoint's TrainSpec (the recipe's optimizer settings; Linea checkpoints written back carry it)
//   model.safetensors  the parameters in f32 under nn.Module names (no optimizer moments)
//   README.txt         what was written and how to load it
//   train.py, train.sh, convert_data.py   the recipe to continue training with torchrun (export-recipe.ts)
//   data/              with --data N: the run's task as token data for train.py (export-task-data.ts)
//
// The parameters are checked against the model the spec builds (names and
// shapes, the same model Linea trains) before anything is written, so a folder
// that exists always loads. Writes go through temp files and renames.
import { existsSync, lstatSync, readdirSync, renameSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { UserError } from '../api/errors'
import { headDims, type ModelSpec } from '../api/model-spec'
import type { Backend } from '../engine/backend'
import { readCheckpoint, type CheckpointState } from '../engine/checkpoint/checkpoint'
import { writeSafetensors, type NamedTensor } from '../engine/checkpoint/safetensors'
import { GLA_GATE_NORMALIZER, GLA_GATE_RANK } from '../engine/model/linear-mixer'
import { Model } from '../engine/model/model'
import { opDefaults } from '../engine/ops/generated'
import { makeDirs } from '../platform/make-dirs'
import { BARE_PROJECTIONS, torchModelSource, type TorchExportConstants } from './export-torch-python'
import { flaMappingNote, type FlaMappingNote } from './export-fla-note'
import { exportReadme } from './export-readme'
import { RECIPE_FILES, recipeSources } from './export-recipe'
import { checkDataSequences, writeTaskData, type TaskData } from './export-task-data'

export const TORCH_EXPORT_FILES = ['model.py', 'config.json', 'train_spec.json', 'model.safetensors', 'README.txt'] as const

export class ExportError extends UserError {
  override name = 'ExportError'
}

/** What an export wrote. */
export interface TorchExport {
  dir: string
  files: string[]
  spec: ModelSpec
  /** Parameters written (fixed buffers such as RetNet's decays included). */
  parameters: number
  step: number
  /** The token data written for train.py, with --data. */
  data?: TaskData
  /** Whether a flash-linear-attention model class computes the spec too, and why not. */
  fla: FlaMappingNote
}

export interface TorchExportOptions {
  /** Also write this many training sequences of the checkpoint's task (and its eval sets) into data/. */
  dataSequences?: number
  /**
   * The checkpoint holds a design's initial weights (the composer's Export…),
   * not a run's: the README says where they came from (the seed), instead of
   * the checkpoint file, which is a temporary one.
   */
  design?: DesignOrigin
}

/** Where a design export's weights came from: the engine's initialization with this seed, untrained. */
export interface DesignOrigin {
  seed: number
}

/** How an export names where its weights came from (README, the safetensors' linea.source). */
export function exportSourceLabel(checkpointPath: string, design: DesignOrigin | undefined): string {
  return design ? `a design from Linea's composer, initialized with seed ${design.seed} (untrained)` : checkpointPath
}

/** Refuses a spec no export can be written for (before anything runs), naming the layer. */
export function checkExportable(spec: ModelSpec, where = 'the ModelSpec'): void {
  for (const [i, layer] of spec.layers.entries())
    if (layer.kind === 'linear' && layer.feature_map === 'hedgehog')
      throw new ExportError(`${where}: layers.${i}.feature_map 'hedgehog' is not built by Linea yet, so nothing can be exported`)
}

/** Linea's nn.Module name of a parameter: bare projections become `<name>.weight`. */
export function torchParamName(lineaName: string): string {
  const last = lineaName.slice(lineaName.lastIndexOf('.') + 1)
  return (BARE_PROJECTIONS as readonly string[]).includes(last) ? `${lineaName}.weight` : lineaName
}

/** The engine's constants model.py must use to compute what this engine computes. */
export function torchExportConstants(): TorchExportConstants {
  return {
    normEps: opDefaults.norm_fwd.eps,
    l2Eps: opDefaults.feature_map_fwd.eps,
    denominatorEps: opDefaults.mixer_fwd.eps,
    rotaryBase: opDefaults.rotary_fwd.base,
    glaGateNormalizer: GLA_GATE_NORMALIZER,
    glaGateRank: GLA_GATE_RANK,
  }
}

/** A backend that never runs anything: the model is built for its parameter names and shapes only. */
const SHAPES_ONLY: Backend = new Proxy({} as Backend, {
  get(_t, prop) {
    if (prop === 'id') return 'shapes-only'
    if (prop === 'kind') return 'cpu'
    throw new Error(`the shapes-only backend cannot ${String(prop)}`)
  },
})

/** The checkpoint's parameters by torch name, in f32, after checking them against the spec's model. */
function torchTensors(path: string, state: CheckpointState): Record<string, NamedTensor> {
  const spec = state.modelSpec
  checkExportable(spec, path)
  const model = new Model(spec, SHAPES_ONLY, 'f32', 0, false)
  const out: Record<string, NamedTensor> = {}
  for (const p of model.params.list()) {
    const t = state.tensors[p.name]
    if (!t) throw new ExportError(`${path}: has no tensor ${p.name}, which its ModelSpec's model needs`)
    if (t.shape.join() !== p.tensor.shape.join())
      throw new ExportError(`${path}: tensor ${p.name} has shape [${t.shape.join(', ')}]; the ModelSpec's model needs [${p.tensor.shape.join(', ')}]`)
    if (t.dtype !== 'F32' && t.dtype !== 'F64') throw new ExportError(`${path}: tensor ${p.name} is ${t.dtype}; parameters are F32 or F64`)
    out[torchParamName(p.name)] = { dtype: 'F32', shape: [...t.shape], data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) }
  }
  return out
}

/** The output folder: created when missing; an existing one must be a folder holding no other files than an earlier export's. */
function prepareOutDir(outDir: string): string {
  const dir = resolve(outDir)
  if (existsSync(dir)) {
    const st = lstatSync(dir)
    if (st.isSymbolicLink() || !st.isDirectory()) throw new ExportError(`--out ${outDir} exists and is not a folder; give a new or an export folder`)
    const foreign = readdirSync(dir).filter((f) => !(TORCH_EXPORT_FILES as readonly string[]).includes(f) && !EXTRA_FILES.includes(f))
    if (foreign.length)
      throw new ExportError(
        `--out ${outDir} holds files an export does not write (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', …' : ''}); give a new folder or an earlier export's`,
      )
  } else {
    try {
      makeDirs(dir)
    } catch (err) {
      throw new ExportError(`--out ${outDir} cannot be created: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  return dir
}

/** Besides the model files, what an export folder may hold: the recipe, its data, train.py's checkpoints, the fla export (--format both). */
const EXTRA_FILES: string[] = [...RECIPE_FILES, 'data', 'checkpoints', 'fla']

function writeAtomic(path: string, text: string): void {
  const tmp = join(resolve(path, '..'), `.${basename(path)}.${process.pid}.tmp`)
  writeFileSync(tmp, text, { flag: 'wx', mode: path.endsWith('.sh') ? 0o755 : 0o644 })
  renameSync(tmp, path)
}

/** Exports the checkpoint at `checkpointPath` into `outDir` (see the file's header). */
export function exportTorch(checkpointPath: string, outDir: string, options: TorchExportOptions = {}): TorchExport {
  if (options.dataSequences !== undefined) checkDataSequences(options.dataSequences)
  const state = readCheckpoint(checkpointPath)
  const tensors = torchTensors(checkpointPath, state)
  const dir = prepareOutDir(outDir)
  const spec = state.modelSpec
  const source = exportSourceLabel(checkpointPath, options.design)
  writeSafetensors(join(dir, 'model.safetensors'), tensors, {
    format: 'pt',
    'linea.model_spec': JSON.stringify(spec),
    'linea.step': String(state.step),
    'linea.source': options.design ? source : basename(checkpointPath),
  })
  writeAtomic(join(dir, 'config.json'), JSON.stringify(spec, null, 2) + '\n')
  writeAtomic(join(dir, 'train_spec.json'), JSON.stringify(state.trainSpec, null, 2) + '\n')
  writeAtomic(join(dir, 'model.py'), torchModelSource(torchExportConstants()))
  for (const [name, text] of Object.entries(recipeSources())) writeAtomic(join(dir, name), text)
  const data = options.dataSequences === undefined ? undefined : writeTaskData(dir, state.trainSpec, options.dataSequences)
  const parameters = Object.values(tensors).reduce((n, t) => n + t.data.length, 0)
  const dims = spec.layers.map((l) => headDims(spec, l))
  const fla = flaMappingNote(spec)
  writeAtomic(
    join(dir, 'README.txt'),
    exportReadme({ spec, trainSpec: state.trainSpec, step: state.step, source, design: !!options.design, parameters, dims, data, fla: fla.line }),
  )
  const files = [...TORCH_EXPORT_FILES, ...RECIPE_FILES, ...(data ? ['data/'] : [])]
  return { dir, files, spec, parameters, step: state.step, data, fla }
}
