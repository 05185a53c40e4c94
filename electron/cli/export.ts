// `linea export <run folder | checkpoint.safetensors> --out <dir> [--checkpoint checkpoints/step-N.safetensors]
//  [--format torch|fla|both] [--data N]`:
// torch (the default) writes a self-contained PyTorch folder (model.py,
// config.json, model.safetensors, README.txt, the torchrun recipe, and with
// --data N the run's task as token data); fla writes flash-linear-attention's
// own folder (config.json, model.safetensors, README.txt) when one of its
// model classes computes the model, else says why; both writes the PyTorch
// folder and the fla one in <out>/fla/ (the PyTorch folder even when fla does
// not apply). For the run's latest checkpoint, or the one named; it says
// which format(s) it wrote.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { isUserError } from '../api/errors'
import { exportFla, FLA_CAUSAL_LM, FlaNotApplicableError, type FlaExport } from '../interop/export-fla'
import { exportTorch, type TorchExport } from '../interop/export-torch'
import { checkpointFile, listCheckpoints } from '../workspace/inspections'
import { CliInputError } from './train'

export interface ExportCommandOptions {
  run: string
  out: string
  checkpoint?: string
  /** --data: training sequences of the run's task to write for train.py. */
  data?: string
  /** --format: torch (default), fla or both. */
  format?: string
}

export const EXPORT_FORMATS = ['torch', 'fla', 'both'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

/** --format's value, or a CliInputError naming the valid ones. */
export function exportFormat(value: string | undefined): ExportFormat {
  if (value === undefined) return 'torch'
  if ((EXPORT_FORMATS as readonly string[]).includes(value)) return value as ExportFormat
  throw new CliInputError(`--format '${value.slice(0, 40)}' is not an export format; valid: ${EXPORT_FORMATS.join(', ')}`)
}

/** The checkpoint file to export: the argument itself, or a run folder's (its record's, else its latest, else --checkpoint). */
export function exportSource(o: ExportCommandOptions): string {
  if (!existsSync(o.run))
    throw new CliInputError(`${o.run} does not exist; give a run folder (runs/<id>, or what linea train --out wrote) or a checkpoint file`)
  if (statSync(o.run).isFile()) {
    if (o.checkpoint) throw new CliInputError('--checkpoint is for run folders; the argument is already a checkpoint file')
    return o.run
  }
  let checkpoint = o.checkpoint
  const recordPath = join(o.run, 'run.json')
  if (!checkpoint && existsSync(recordPath)) {
    let record: unknown
    try {
      record = JSON.parse(readFileSync(recordPath, 'utf8'))
    } catch (err) {
      throw new CliInputError(`${recordPath} is not valid JSON: ${(err as Error).message}`)
    }
    const named = (record as { checkpoint?: unknown } | null)?.checkpoint
    if (typeof named === 'string') checkpoint = named
  }
  checkpoint ??= listCheckpoints(o.run).at(-1)?.checkpoint
  if (!checkpoint) throw new CliInputError(`${o.run} has no checkpoints/step-N.safetensors yet; train it first, or give a checkpoint file`)
  try {
    return checkpointFile(o.run, checkpoint)
  } catch (err) {
    throw new CliInputError((err as Error).message)
  }
}

/** Runs an export, its UserErrors becoming CliInputErrors (exit 2 with the message). */
function asCliInput<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (isUserError(err)) throw new CliInputError((err as Error).message)
    throw err
  }
}

/** The PyTorch export's lines; `flaNote`: whether fla could load the model too (when fla's own format was not asked for). */
function torchLines(result: TorchExport, source: string, shown: string, flaNote: boolean): string {
  return (
    `exported ${result.spec.name} (step ${result.step}, ${result.parameters} parameters) from ${source}\n` +
    `PyTorch folder ${shown}: ${result.files.join(', ')}\n` +
    `PyTorch module (plain torch): check it with  python3 ${join(shown, 'model.py')}\n` +
    (flaNote ? `${result.fla.line}${result.fla.modelType ? ' (--format fla or both writes it)' : ''}\n` : '') +
    (result.data
      ? `data for train.py: ${Object.entries(result.data.splits)
          .map(([name, s]) => `${name} ${s.rows} x ${s.seq_len}`)
          .join(', ')}\ncontinue training on every GPU here:  bash ${join(shown, 'train.sh')}\n`
      : `continue training: add --data N for the run's task, then  bash ${join(shown, 'train.sh')}\n`)
  )
}

function flaLines(result: FlaExport, shown: string): string {
  return (
    `flash-linear-attention folder ${shown}: ${result.files.join(', ')} (model_type '${result.modelType}', ${FLA_CAUSAL_LM[result.modelType]})\n` +
    `load it where fla is installed:  import fla; AutoModelForCausalLM.from_pretrained("${shown}")\n`
  )
}

export function exportCommand(o: ExportCommandOptions): number {
  const format = exportFormat(o.format)
  let dataSequences: number | undefined
  if (o.data !== undefined) {
    dataSequences = Number(o.data)
    if (!/^\d+$/.test(o.data) || !Number.isSafeInteger(dataSequences) || dataSequences < 1)
      throw new CliInputError(`--data '${o.data}' is not a number of sequences; give a whole number >= 1, e.g. --data 20000`)
    if (format === 'fla') throw new CliInputError(`--data is for the PyTorch folder's train.py; with --format fla nothing reads it (use --format both)`)
  }
  const source = exportSource(o)
  if (format === 'fla') {
    const result = asCliInput(() => exportFla(source, o.out))
    process.stdout.write(
      `exported ${result.spec.name} (step ${result.step}, ${result.parameters} parameters) from ${source}\nformat: fla\n${flaLines(result, o.out)}`,
    )
    return 0
  }
  const torch = asCliInput(() => exportTorch(source, o.out, { dataSequences }))
  let text = torchLines(torch, source, o.out, format === 'torch')
  if (format === 'both') {
    const flaDir = join(o.out, 'fla')
    try {
      text += flaLines(exportFla(source, flaDir), flaDir) + 'formats: torch, fla\n'
    } catch (err) {
      if (!(err instanceof FlaNotApplicableError)) {
        process.stdout.write(text)
        if (isUserError(err)) throw new CliInputError(`fla folder ${flaDir}: ${(err as Error).message}`)
        throw err
      }
      text += `fla: not written: ${err.message}\nformats: torch (fla was asked for but does not apply)\n`
    }
  } else text += 'format: torch\n'
  process.stdout.write(text)
  return 0
}
