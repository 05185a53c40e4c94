// Export of a Linea checkpoint to flash-linear-attention's own format, when
// one of fla's model classes computes the ModelSpec (fla-config.ts decides):
//
//   config.json        fla's config (model_type, architectures, the type's fields, a hybrid's `attn`)
//   model.safetensors  the parameters in F32 under fla's names and layouts (fla-params.ts), format 'pt'
//   README.txt         what the folder is and how fla loads it
//
// The folder is what fla's save_pretrained writes, so `import fla` then
// `AutoModelForCausalLM.from_pretrained(dir)` loads it, and `linea import`
// reads it back to the same model and the same weights. When no fla class
// computes the spec, FlaExportError says why (the standalone PyTorch module,
// export-torch.ts, is the export then).
//
// One copy of the weights: an fla tensor that is one Linea tensor as it
// stands (most of them) is written from the checkpoint's own array; only
// fused or regrouped tensors (Mamba2's in_proj, conv1d, gated norm) are
// assembled into new arrays.
import { existsSync, lstatSync, readdirSync, renameSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { UserError } from '../api/errors'
import type { ModelSpec } from '../api/model-spec'
import { readCheckpoint } from '../engine/checkpoint/checkpoint'
import { writeSafetensors, type NamedTensor } from '../engine/checkpoint/safetensors'
import { makeDirs } from '../platform/make-dirs'
import { FlaConfigError, flaConfigFromModelSpec, type FlaConfig, type FlaLayout, type FlaModelType } from './fla-config'
import { assembleFlaTensor, flaComputedParams, flaTensorLinks, flaTensorShapes, lineaTensorShapes, optionalFlaTensors, type TensorLink } from './fla-params'
import { exportSourceLabel, type DesignOrigin } from './export-torch'

export const FLA_EXPORT_FILES = ['config.json', 'model.safetensors', 'README.txt'] as const

export class FlaExportError extends UserError {
  override name = 'FlaExportError'
}

/** No fla model class computes the spec; the message says why. */
export class FlaNotApplicableError extends FlaExportError {
  override name = 'FlaNotApplicableError'
}

/** fla's causal-LM class of each model type (what `architectures` names; fla registers each with AutoModelForCausalLM). */
export const FLA_CAUSAL_LM: Record<FlaModelType, string> = {
  gla: 'GLAForCausalLM',
  retnet: 'RetNetForCausalLM',
  delta_net: 'DeltaNetForCausalLM',
  gated_deltanet: 'GatedDeltaNetForCausalLM',
  mamba2: 'Mamba2ForCausalLM',
  linear_attn: 'LinearAttentionForCausalLM',
  transformer: 'TransformerForCausalLM',
}

/** What an fla export wrote. */
export interface FlaExport {
  dir: string
  files: string[]
  spec: ModelSpec
  modelType: FlaModelType
  config: FlaConfig
  /** Values written (a tied head is not written twice). */
  parameters: number
  step: number
}

/**
 * fla's config for a spec, with the class to load it; a FlaExportError naming
 * why (flaConfigFromModelSpec's reasons) when no fla class computes the spec.
 */
export function flaExportConfig(spec: ModelSpec): { config: FlaConfig; layout: FlaLayout } {
  let mapped
  try {
    mapped = flaConfigFromModelSpec(spec)
  } catch (err) {
    if (err instanceof FlaConfigError)
      throw new FlaNotApplicableError(
        `no flash-linear-attention model class computes '${spec.name}': ${err.message}; export it as a standalone PyTorch module (--format torch)`,
      )
    throw err
  }
  const { model_type, ...fields } = mapped.config
  const type = mapped.layout.modelType
  return {
    config: { model_type, architectures: [FLA_CAUSAL_LM[type]], ...fields, torch_dtype: 'float32' },
    layout: mapped.layout,
  }
}

/** The checkpoint's parameters as f32 arrays, each checked against the shapes the links give; every parameter must have a link. */
function lineaArrays(
  path: string,
  tensors: Record<string, NamedTensor>,
  links: readonly TensorLink[],
  computed: ReadonlyMap<string, { data: Float32Array }>,
): Map<string, Float32Array> {
  const shapes = lineaTensorShapes(links)
  for (const name of Object.keys(tensors))
    if (!name.startsWith('optimizer.') && !shapes.has(name) && !computed.has(name))
      throw new FlaExportError(`${path}: parameter ${name} has no place in fla's model (a bug in the fla mapping; nothing was written)`)
  // What fla computes instead of storing (RetNet's decays) must be what the checkpoint holds.
  for (const [name, { data: want }] of computed) {
    const got = tensors[name]
    if (!got) throw new FlaExportError(`${path}: has no tensor ${name}, which its ModelSpec's model needs`)
    const at = want.findIndex((w, j) => !(Math.abs(Number(got.data[j]) - w) <= 1e-6 * Math.abs(w)))
    if (got.data.length !== want.length || at >= 0)
      throw new FlaNotApplicableError(
        `${name}[${at}] = ${got.data[at]}: fla's RetNet computes its decays as log(1 − 2^(−5−h)) = ${want[at]} and stores none, so it cannot hold this model; export it as a standalone PyTorch module (--format torch)`,
      )
  }
  const out = new Map<string, Float32Array>()
  for (const [name, shape] of shapes) {
    const t = tensors[name]
    if (!t) throw new FlaExportError(`${path}: has no tensor ${name}, which its ModelSpec's model needs`)
    if (t.shape.join() !== shape.join())
      throw new FlaExportError(`${path}: tensor ${name} has shape [${t.shape.join(', ')}]; the ModelSpec's model needs [${shape.join(', ')}]`)
    if (t.dtype !== 'F32' && t.dtype !== 'F64') throw new FlaExportError(`${path}: tensor ${name} is ${t.dtype}; parameters are F32 or F64`)
    out.set(name, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data))
  }
  return out
}

/** A link that is its Linea tensor as it stands: all rows, in order, same number of values. */
function isWhole(link: TensorLink, values: number): boolean {
  const s = link.segments
  return s.length === 1 && s[0]!.lineaRow === 0 && s[0]!.flaRow === 0 && s[0]!.flaStep === 1 && s[0]!.rows * link.rowSize === values
}

/** fla's tensors of the model, in link order: the Linea array itself where the layout is the same, else assembled. */
function flaTensors(path: string, spec: ModelSpec, links: readonly TensorLink[], arrays: Map<string, Float32Array>): Record<string, NamedTensor> {
  const skip = optionalFlaTensors(spec) // a tied head: fla ties lm_head to the embedding on load
  const out: Record<string, NamedTensor> = {}
  for (const [name, shape] of flaTensorShapes(links)) {
    if (skip.has(name)) continue
    const size = shape.reduce((a, b) => a * b, 1)
    const reading = links.filter((l) => l.fla === name)
    let data: Float32Array
    if (reading.length === 1 && isWhole(reading[0]!, size)) data = arrays.get(reading[0]!.linea)!
    else {
      data = new Float32Array(size)
      const problem = assembleFlaTensor(links, name, (n) => arrays.get(n)!, data)
      if (problem) throw new FlaExportError(`${path}: ${problem}`)
    }
    out[name] = { dtype: 'F32', shape: [...shape], data }
  }
  return out
}

/** The output folder: created when missing; an existing one must be a folder holding nothing but an earlier fla export's files. */
function prepareOutDir(outDir: string): string {
  const dir = resolve(outDir)
  if (existsSync(dir)) {
    const st = lstatSync(dir)
    if (st.isSymbolicLink() || !st.isDirectory()) throw new FlaExportError(`--out ${outDir} exists and is not a folder; give a new or an fla export folder`)
    const foreign = readdirSync(dir).filter((f) => !(FLA_EXPORT_FILES as readonly string[]).includes(f))
    if (foreign.length)
      throw new FlaExportError(
        `${outDir} holds files an fla export does not write (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', …' : ''}); give a new folder or an earlier fla export's`,
      )
  } else {
    try {
      makeDirs(dir)
    } catch (err) {
      throw new FlaExportError(`${outDir} cannot be created: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
  }
  return dir
}

function writeAtomic(path: string, text: string): void {
  const tmp = join(resolve(path, '..'), `.${basename(path)}.${process.pid}.tmp`)
  writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 })
  renameSync(tmp, path)
}

function flaReadme(r: { spec: ModelSpec; type: FlaModelType; step: number; source: string; parameters: number; f64: boolean }): string {
  const title = `${r.spec.name}, exported from Linea to flash-linear-attention`
  const softmax = r.spec.layers.flatMap((l, i) => (l.kind === 'softmax' ? [i] : []))
  const hybrid = r.type !== 'transformer' && softmax.length ? `, softmax attention at layers ${softmax.join(', ')} (config.json's attn)` : ''
  return `${title}
${'='.repeat(title.length)}

A Hugging Face folder of flash-linear-attention's '${r.type}' model (${FLA_CAUSAL_LM[r.type]}),
as fla's save_pretrained writes one: ${r.spec.layers.length} layers, d_model ${r.spec.d_model}, vocabulary ${r.spec.vocab_size}${hybrid}.
From ${r.source}, step ${r.step}; ${r.parameters} parameters.

  config.json        fla's config (model_type '${r.type}')
  model.safetensors  the weights in float32 under fla's parameter names${r.spec.tie_embeddings ? ' (lm_head tied to the embedding, so not stored)' : ''}${r.f64 ? '\n                     (the checkpoint was float64; its values are rounded to float32 here)' : ''}

Load it with fla installed (pip install flash-linear-attention, or its source on PYTHONPATH):

  import fla                                   # registers fla's models with transformers
  from transformers import AutoModelForCausalLM
  model = AutoModelForCausalLM.from_pretrained("<this folder>")
  logits = model(input_ids=ids).logits         # ids (B, T) int64 on the model's device

fla's kernels are Triton kernels: move the model to a GPU first (model.cuda()).
Softmax attention layers run through flash-attn, which must be importable.

Back into Linea:  linea import <this folder> <workspace>
`
}

/**
 * Exports the checkpoint at `checkpointPath` into `outDir` in fla's format (see the file's header);
 * `design`: the checkpoint holds a design's initial weights (named so in README.txt, as export-torch.ts does).
 */
export function exportFla(checkpointPath: string, outDir: string, options: { design?: DesignOrigin } = {}): FlaExport {
  const state = readCheckpoint(checkpointPath)
  const spec = state.modelSpec
  const { config, layout } = flaExportConfig(spec)
  const links = flaTensorLinks(spec, layout)
  const tensors = flaTensors(checkpointPath, spec, links, lineaArrays(checkpointPath, state.tensors, links, flaComputedParams(spec, layout)))
  const dir = prepareOutDir(outDir)
  const source = exportSourceLabel(checkpointPath, options.design)
  writeSafetensors(join(dir, 'model.safetensors'), tensors, {
    format: 'pt', // transformers refuses a safetensors file without it
    'linea.model_spec': JSON.stringify(spec),
    'linea.step': String(state.step),
    'linea.source': options.design ? source : basename(checkpointPath),
  })
  writeAtomic(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n')
  const parameters = Object.values(tensors).reduce((n, t) => n + t.data.length, 0)
  const type = layout.modelType
  writeAtomic(join(dir, 'README.txt'), flaReadme({ spec, type, step: state.step, source, parameters, f64: state.dtype === 'f64' }))
  return { dir, files: [...FLA_EXPORT_FILES], spec, modelType: type, config, parameters, step: state.step }
}
