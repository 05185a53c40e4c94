// `linea inspect <run folder | checkpoint.safetensors> --out inspect.json`:
// inspects a checkpoint (the run's latest unless --checkpoint) in an engine
// process with progress, and writes the InspectResult the app's Inspect
// screen reads. It prints the headline figures.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
import { InspectRequestSchema, type InspectRequest, type InspectResult } from '../api/inspect'
import type { RunRecord } from '../api/runs'
import { TASK_KINDS } from '../api/train-spec'
import { formatErrors, validateWith } from '../api/validate'
import { readCheckpoint } from '../engine/checkpoint/checkpoint'
import { EngineCallError, EngineProcess, forkLauncher } from '../jobs/engine-process'
import { checkpointFile, inspectionName, listCheckpoints } from '../workspace/inspections'
import { CliInputError } from './train'

export interface InspectCommandOptions {
  run: string
  out: string
  checkpoint?: string
  task?: string
  example?: string
  text?: string
  heads?: string
  stateSteps?: string
  maxAttentionT?: string
  pairs?: string
  examples?: string
  lengths?: string
}

const intList = (value: string | undefined, flag: string) =>
  value?.split(',').map((x) => {
    const n = Number(x)
    if (!Number.isInteger(n) || n < 0) throw new CliInputError(`${flag} '${value}': '${x}' is not a whole number`)
    return n
  })

const int = (value: string | undefined, flag: string) => {
  const [n] = intList(value, flag) ?? []
  return n
}

/** The checkpoint to inspect and the run it belongs to (when it is a run folder). */
function locate(o: InspectCommandOptions): { path: string; checkpoint: string; runId: string; runName: string } {
  if (!existsSync(o.run)) throw new CliInputError(`${o.run} does not exist; give a run folder (runs/<id>) or a checkpoint file`)
  if (statSync(o.run).isFile()) {
    if (o.checkpoint) throw new CliInputError('--checkpoint is for run folders; the argument is already a checkpoint file')
    const runDir = dirname(dirname(o.run))
    return { path: o.run, checkpoint: relative(runDir, o.run), runId: idOf(runDir), runName: basename(o.run) }
  }
  const recordPath = join(o.run, 'run.json')
  if (!existsSync(recordPath)) return trainOutFolder(o)
  let record: RunRecord
  try {
    record = JSON.parse(readFileSync(recordPath, 'utf8')) as RunRecord
  } catch (err) {
    throw new CliInputError(`${recordPath} is not valid JSON: ${(err as Error).message}`)
  }
  const checkpoint = o.checkpoint ?? record.checkpoint
  if (!checkpoint) throw new CliInputError(`run ${record.id} has no checkpoint yet (status ${record.status}); train it first`)
  try {
    return { path: checkpointFile(o.run, checkpoint), checkpoint, runId: record.id, runName: record.name }
  } catch (err) {
    throw new CliInputError((err as Error).message)
  }
}

/** A run id for a folder that is not a workspace run: its name, made a valid id. */
function idOf(dir: string): string {
  return (
    basename(dir)
      .replace(/[^A-Za-z0-9_-]+/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '') || 'run'
  )
}

/** A folder `linea train --out` wrote (no run.json): its latest checkpoint unless --checkpoint. */
function trainOutFolder(o: InspectCommandOptions): { path: string; checkpoint: string; runId: string; runName: string } {
  const have = listCheckpoints(o.run)
  if (!have.length && !o.checkpoint)
    throw new CliInputError(
      `${o.run} has no run.json and no checkpoints/step-N.safetensors: give a run folder (a workspace's runs/<id>, or what linea train --out wrote) or a checkpoint file`,
    )
  const checkpoint = o.checkpoint ?? have.at(-1)!.checkpoint
  try {
    return { path: checkpointFile(o.run, checkpoint), checkpoint, runId: idOf(o.run), runName: basename(o.run) }
  } catch (err) {
    throw new CliInputError((err as Error).message)
  }
}

const INPUT_ERRORS = ['InspectLimitError', 'TaskError', 'InspectionError']

export async function inspectCommand(o: InspectCommandOptions): Promise<number> {
  const where = locate(o)
  let state
  try {
    state = readCheckpoint(where.path)
  } catch (err) {
    throw new CliInputError((err as Error).message)
  }
  const kind = state.trainSpec.task.kind
  if (o.task !== undefined && o.task !== kind) {
    if (!(TASK_KINDS as readonly string[]).includes(o.task)) throw new CliInputError(`--task '${o.task}' is not a task; valid: ${TASK_KINDS.join(', ')}`)
    throw new CliInputError(
      `--task '${o.task}': this checkpoint was trained on '${kind}', and the inspector draws inputs from that task; use --task ${kind} or --text`,
    )
  }
  if (o.text !== undefined && o.example !== undefined) throw new CliInputError('give --example or --text, not both')
  if (o.text !== undefined && state.modelSpec.vocab_size < 256)
    throw new CliInputError(
      `--text is read as bytes (256 tokens); this model's vocabulary is ${state.modelSpec.vocab_size}. Use --example N to inspect an example of its task`,
    )
  const raw: InspectRequest = {
    runId: where.runId,
    checkpoint: where.checkpoint,
    input: o.text !== undefined ? { kind: 'text', text: o.text } : { kind: 'task', example: int(o.example, '--example') ?? 0 },
    ...(o.heads && { heads: intList(o.heads, '--heads') }),
    ...(o.stateSteps && { stateSteps: intList(o.stateSteps, '--state-steps') }),
    ...(o.maxAttentionT && { maxAttentionT: int(o.maxAttentionT, '--max-attention-t') }),
    ...((o.pairs || o.examples) && { recall: { numKvPairs: intList(o.pairs, '--pairs'), examples: int(o.examples, '--examples') } }),
    ...(o.lengths && { lengths: intList(o.lengths, '--lengths') }),
  }
  const checked = validateWith(InspectRequestSchema, raw)
  if (!checked.ok) throw new CliInputError(`the inspection asked for is not valid:\n${formatErrors(checked.errors)}`)
  const request = checked.value
  const engine = new EngineProcess(forkLauncher())
  engine.onEvent((name, data) => {
    if (name !== 'inspect.progress') return
    const p = data as { message: string; fraction: number }
    process.stderr.write(`[${String(Math.round(100 * p.fraction)).padStart(3)}%] ${p.message}\n`)
  })
  let result: InspectResult
  try {
    result = await engine.call('inspect', {
      checkpointPath: where.path,
      checkpoint: where.checkpoint,
      runId: where.runId,
      runName: where.runName,
      name: request.name ?? inspectionName(where.checkpoint, request),
      request,
    })
  } catch (err) {
    // a request the checkpoint cannot serve (a bound, a task parameter) is the user's to change
    if (err instanceof EngineCallError && (err.userError || INPUT_ERRORS.includes(err.engineName))) throw new CliInputError(err.message)
    throw err
  } finally {
    engine.stop()
  }
  writeFileSync(o.out, JSON.stringify(result) + '\n')
  process.stdout.write(
    `inspection: ${o.out} (${result.layers.length} layers, ${result.input.tokens.length} tokens, step ${result.step}, ${result.seconds.toFixed(1)} s)\n`,
  )
  const labelled = result.input.labels.flatMap((l, t) => (l >= 0 ? [result.input.predicted[t] === l] : []))
  if (labelled.length) process.stdout.write(`this input: ${labelled.filter(Boolean).length} of ${labelled.length} labelled positions right\n`)
  if (result.recall) {
    const r = result.recall
    process.stdout.write(`recall by number of pairs: ${r.numKvPairs.map((n, j) => `${n}: ${(100 * r.accuracy[j]!).toFixed(1)}%`).join(', ')}\n`)
  }
  if (result.lengths)
    process.stdout.write(
      `accuracy by length (trained ${result.lengths.trainedLength}): ${result.lengths.points.map((p) => `${p.seqLen}: ${(100 * p.accuracy).toFixed(1)}%`).join(', ')}\n`,
    )
  if (result.attentionSkipped) process.stdout.write(`attention maps left out: ${result.attentionSkipped}\n`)
  return 0
}
