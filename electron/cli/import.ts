// `linea import <hf-folder> <workspace> [--name N]`: a flash-linear-attention
// checkpoint folder (config.json + safetensors) becomes a run of the
// workspace, runs/<id>/{run.json, checkpoints/step-0000000.safetensors},
// marked `imported` with its source and model type, which `linea inspect
// <run folder>`, the Inspect screen and a fine-tune open like a trained run.
import { resolve } from 'node:path'
import { isUserError } from '../api/errors'
import { importedTrainSpec, importHfFolder, writeImportedCheckpoint, type HfImport, type ImportedFrom } from '../interop/import-hf'
import { Workspace } from '../workspace/workspace'
import { CliInputError } from './train'

export interface ImportCommandOptions {
  folder: string
  workspace: string
  name?: string
}

/** The checkpoint an import writes, relative to its run folder. */
export const IMPORTED_CHECKPOINT = 'checkpoints/step-0000000.safetensors'

export function importCommand(o: ImportCommandOptions): number {
  if (o.name !== undefined && (o.name.length < 1 || o.name.length > 200)) throw new CliInputError(`--name '${o.name.slice(0, 40)}': give 1 to 200 characters`)
  const source = resolve(o.folder)
  let imported: HfImport
  try {
    imported = importHfFolder(source, o.name)
  } catch (err) {
    if (isUserError(err)) throw new CliInputError((err as Error).message)
    throw err
  }
  const from: ImportedFrom = { source, format: 'fla', modelType: imported.layout.modelType, dtypes: imported.dtypes }
  const trainSpec = importedTrainSpec(imported.spec)
  let ws: Workspace
  try {
    ws = Workspace.open(o.workspace)
  } catch (err) {
    if (isUserError(err)) throw new CliInputError((err as Error).message)
    throw err
  }
  try {
    const params = [...imported.params.values()].reduce((n, p) => n + p.data.length, 0)
    const run = ws.createRun({ name: imported.spec.name, modelSpec: imported.spec, trainSpec, params, imported: from })
    const started = Date.now()
    try {
      writeImportedCheckpoint(resolve(ws.runDir(run.id), IMPORTED_CHECKPOINT), imported, trainSpec, from)
    } catch (err) {
      ws.updateRun(run.id, { status: 'failed', failure: `import: the checkpoint could not be written: ${(err as Error).message}`, endedMs: Date.now() })
      throw err
    }
    ws.updateRun(run.id, { status: 'completed', checkpoint: IMPORTED_CHECKPOINT, startedMs: started, endedMs: Date.now() })
    const runDir = ws.runDir(run.id)
    process.stdout.write(
      `imported ${imported.layout.modelType} (${imported.dtypes.join(', ')}) from ${source}\n` +
        `run: ${runDir}\n` +
        `model: ${imported.spec.layers.length} layers, d_model ${imported.spec.d_model}, vocabulary ${imported.spec.vocab_size}, ${params} parameters\n` +
        `inspect it: linea inspect ${runDir} --out inspect.json\n`,
    )
    return 0
  } finally {
    ws.close()
  }
}
