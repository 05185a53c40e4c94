// `linea export <run folder | checkpoint.safetensors> --out <dir> [--checkpoint checkpoints/step-N.safetensors]`:
// writes a self-contained PyTorch folder (model.py, config.json,
// model.safetensors, README.txt, the torchrun recipe, and with --data N the
// run's task as token data) for the run's latest checkpoint, or the one
// named, and says what it wrote.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { isUserError } from '../api/errors'
import { exportTorch } from '../interop/export-torch'
import { checkpointFile, listCheckpoints } from '../workspace/inspections'
import { CliInputError } from './train'

export interface ExportCommandOptions {
  run: string
  out: string
  checkpoint?: string
  /** --data: training sequences of the run's task to write for train.py. */
  data?: string
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

export function exportCommand(o: ExportCommandOptions): number {
  let dataSequences: number | undefined
  if (o.data !== undefined) {
    dataSequences = Number(o.data)
    if (!/^\d+$/.test(o.data) || !Number.isSafeInteger(dataSequences) || dataSequences < 1)
      throw new CliInputError(`--data '${o.data}' is not a number of sequences; give a whole number >= 1, e.g. --data 20000`)
  }
  const source = exportSource(o)
  let result
  try {
    result = exportTorch(source, o.out, { dataSequences })
  } catch (err) {
    if (isUserError(err)) throw new CliInputError((err as Error).message)
    throw err
  }
  const shown = o.out
  process.stdout.write(
    `exported ${result.spec.name} (step ${result.step}, ${result.parameters} parameters) from ${source}\n` +
      `to ${shown}: ${result.files.join(', ')}\n` +
      `PyTorch module (plain torch): check it with  python3 ${join(shown, 'model.py')}\n` +
      `${result.fla.line}\n` +
      (result.data
        ? `data for train.py: ${Object.entries(result.data.splits)
            .map(([name, s]) => `${name} ${s.rows} x ${s.seq_len}`)
            .join(', ')}\ncontinue training on every GPU here:  bash ${join(shown, 'train.sh')}\n`
        : `continue training: add --data N for the run's task, then  bash ${join(shown, 'train.sh')}\n`),
  )
  return 0
}
