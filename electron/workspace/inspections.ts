// Inspections cached in a run's folder, so reopening one is instant and needs
// no engine:
//   runs/<id>/inspect/<name>.json        the InspectResult (maps, traces; can be MBs)
//   runs/<id>/inspect/<name>.meta.json   its summary, for listing without reading the maps
// Names come from the checkpoint and the input (step-0000150-example-0),
// so asking the same question again finds the answer on disk.
// Every name and checkpoint becomes a path through checkId/resolveInside,
// and every file here is read as untrusted (files.ts): a bad one is an
// InspectionError naming it, never a TypeError or a quote of its content.
import { createHash } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { basename, isAbsolute } from 'node:path'
import { z } from 'zod'
import { clip, UserError } from '../api/errors'
import type { InspectionSummary, InspectRequestFull, InspectResult } from '../api/inspect'
import { INSPECT_FORMAT } from '../api/inspect'
import { ModelSpecSchema } from '../api/model-spec'
import { formatErrors, validateWith } from '../api/validate'
import { errnoOf, FILE_LIMITS, JSON_LIMITS, makeDir, readJsonFile, statEntry, writeFileAtomic } from './files'
import { checkId, PathError, resolveInside } from './paths'

export class InspectionError extends UserError {
  override name = 'InspectionError'
}

const fail = (message: string) => new InspectionError(message)

/** runs/<id>/inspect, checked to stay inside the run folder. */
export const inspectDir = (runDir: string) => inside(runDir, 'inspect')

/** A path under the run folder, or an InspectionError saying it leaves it. */
function inside(runDir: string, ...parts: string[]): string {
  try {
    return resolveInside(runDir, ...parts)
  } catch (err) {
    if (err instanceof PathError) throw new InspectionError(`${err.message} (outside the run folder)`)
    throw err
  }
}

/** The default cache name for a checkpoint and an input. */
export function inspectionName(checkpoint: string, request: Pick<InspectRequestFull, 'input'>): string {
  const stem = basename(checkpoint).replace(/\.safetensors$/, '')
  if (request.input.kind === 'task') return `${stem}-example-${request.input.example}`
  return `${stem}-text-${createHash('sha256').update(request.input.text).digest('hex').slice(0, 10)}`
}

/** An inspection's name, checked: it becomes inspect/<name>.json. */
export function checkInspectionName(name: unknown): string {
  return checkId('inspection name', name)
}

const CHECKPOINT_FILE = /^step-(\d+)\.safetensors$/

/** Checkpoints of a run, oldest first, as paths relative to the run folder with their step. */
export function listCheckpoints(runDir: string): { checkpoint: string; step: number }[] {
  const dir = inside(runDir, 'checkpoints')
  const st = statEntry(dir, fail)
  if (st === 'missing') return []
  if (!st.isDirectory()) throw new InspectionError(`${dir} is not a folder; checkpoints are files step-N.safetensors in it`)
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    throw new InspectionError(`${dir} cannot be listed: ${errnoOf(err)}`)
  }
  const out: { checkpoint: string; step: number }[] = []
  for (const f of names) {
    const m = CHECKPOINT_FILE.exec(f)
    if (!m) continue
    // Only regular files really inside the run folder (a link leading out, a FIFO or a folder is not a checkpoint).
    try {
      const path = resolveInside(runDir, 'checkpoints', f)
      const entry = statEntry(path, fail)
      if (entry === 'missing' || !entry.isFile()) continue
    } catch {
      continue
    }
    out.push({ checkpoint: `checkpoints/${f}`, step: Number(m[1]) })
  }
  return out.sort((a, b) => a.step - b.step)
}

/**
 * A checkpoint path given relative to the run folder (the caller's, or a run
 * record's), checked to stay inside it (no '..', not absolute, no link
 * leading out) and to be a regular .safetensors file.
 */
export function checkpointFile(runDir: string, checkpoint: string): string {
  const shown = clip(String(checkpoint), 120)
  if (typeof checkpoint !== 'string' || isAbsolute(checkpoint) || checkpoint.split(/[\\/]/).includes('..'))
    throw new InspectionError(`checkpoint '${shown}' is outside the run folder; give a path inside it, e.g. checkpoints/step-0000100.safetensors`)
  let path: string
  try {
    path = resolveInside(runDir, checkpoint)
  } catch (err) {
    if (err instanceof PathError) throw new InspectionError(`checkpoint '${shown}' is outside the run folder (it leads out through a symbolic link)`)
    throw err
  }
  if (!checkpoint.endsWith('.safetensors')) throw new InspectionError(`checkpoint '${shown}' is not a .safetensors file`)
  let entry: ReturnType<typeof statEntry>
  try {
    entry = statEntry(path, fail)
  } catch (err) {
    throw new InspectionError(`checkpoint '${shown}': ${(err as Error).message}`)
  }
  if (entry === 'missing' || !entry.isFile()) {
    const have = listCheckpoints(runDir).map((c) => c.checkpoint)
    throw new InspectionError(`checkpoint '${shown}' does not exist in ${runDir}; it has: ${have.length ? have.join(', ') : 'none yet'}`)
  }
  return path
}

function summaryOf(r: InspectResult): InspectionSummary {
  const input = r.request.input.kind === 'task' ? `${r.task.kind} example ${r.request.input.example}` : `text (${r.input.tokens.length} bytes)`
  return { runId: r.runId, name: r.name, checkpoint: r.checkpoint, step: r.step, createdMs: r.createdMs, input }
}

export function writeInspection(runDir: string, result: InspectResult): InspectionSummary {
  const name = checkInspectionName(result.name)
  const dir = inspectDir(runDir)
  makeDir(dir, fail)
  const summary = summaryOf(result)
  writeFileAtomic(inside(runDir, 'inspect', `${name}.json`), JSON.stringify(result) + '\n', fail)
  writeFileAtomic(inside(runDir, 'inspect', `${name}.meta.json`), JSON.stringify(summary, null, 2) + '\n', fail)
  return summary
}

/** Whether inspect/<name>.json is there as a regular file (anything else is not a cached answer). */
export function hasInspection(runDir: string, name: string): boolean {
  const path = inside(runDir, 'inspect', `${checkInspectionName(name)}.json`)
  try {
    const st = statEntry(path, fail)
    return st !== 'missing' && st.isFile()
  } catch {
    return false
  }
}

const numbers = z.array(z.number())
const count = z.number().int().min(0)

/**
 * What the screens read of a cached InspectResult, checked before it is
 * answered (the file is untrusted; a hand-edited or foreign one must fail
 * here, with its path, not in the renderer). Shapes as in api/inspect.ts.
 */
const InspectResultFileSchema = z.looseObject({
  format: z.literal(INSPECT_FORMAT),
  name: z.string(),
  createdMs: z.number(),
  runId: z.string(),
  runName: z.string(),
  checkpoint: z.string(),
  step: count,
  modelSpec: ModelSpecSchema,
  task: z.looseObject({ kind: z.string() }),
  request: z.looseObject({ input: z.looseObject({ kind: z.enum(['task', 'text']) }) }),
  backend: z.string(),
  input: z.looseObject({ tokens: numbers, labels: numbers, predicted: numbers, text: z.string().optional() }),
  layers: z.array(
    z.looseObject({
      index: count,
      kind: z.enum(['linear', 'softmax']),
      label: z.string(),
      dk: count,
      dv: count,
      stateNormSteps: numbers.optional(),
      heads: z.array(
        z.looseObject({
          head: count,
          outputNorm: numbers,
          decay: numbers.optional(),
          decayMin: numbers.optional(),
          inputGate: numbers.optional(),
          beta: numbers.optional(),
          stateNorm: numbers.optional(),
          attention: numbers.optional(),
          snapshots: z.array(z.looseObject({ t: count, dk: count, dv: count, values: numbers, singular: numbers, effectiveRank: z.number() })).optional(),
        }),
      ),
    }),
  ),
  attentionSkipped: z.string().optional(),
  recall: z.looseObject({}).optional(),
  lengths: z
    .looseObject({ trainedLength: z.number(), points: z.array(z.looseObject({ seqLen: z.number(), accuracy: z.number(), count: z.number() })) })
    .optional(),
  seconds: z.number(),
})

const SummarySchema = z.looseObject({
  runId: z.string(),
  name: z.string(),
  checkpoint: z.string(),
  step: count,
  createdMs: z.number(),
  input: z.string(),
})

export function readInspection(runDir: string, name: string): InspectResult {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,80}$/.test(name) || name.includes('..'))
    throw new InspectionError(`'${clip(String(name), 80)}' is not an inspection name (letters, digits, _ . - only)`)
  const dir = inspectDir(runDir)
  const path = inside(runDir, 'inspect', `${name}.json`)
  const json = readJsonFile(path, {
    maxBytes: FILE_LIMITS.large,
    limits: JSON_LIMITS.large,
    fail: (m) => new InspectionError(`${m}; inspect the checkpoint again to rewrite it`),
  })
  if (json === undefined) throw new InspectionError(`no inspection '${name}' in ${dir}`)
  const format = (json as { format?: unknown } | null)?.format
  if (format !== INSPECT_FORMAT)
    throw new InspectionError(`${path} has format ${typeof format === 'string' ? `'${clip(format, 60)}'` : 'missing'}; this Linea reads '${INSPECT_FORMAT}'`)
  const checked = validateWith(InspectResultFileSchema, json)
  if (!checked.ok)
    throw new InspectionError(
      `${path} is not an inspection Linea wrote:\n${clip(formatErrors(checked.errors.slice(0, 10)), 1500)}\ninspect the checkpoint again to rewrite it`,
    )
  return checked.value as unknown as InspectResult
}

/** Summaries of a run's cached inspections, newest first; unreadable ones are skipped (they can be run again). */
export function listInspections(runDir: string): InspectionSummary[] {
  const dir = inspectDir(runDir)
  const st = statEntry(dir, fail)
  if (st === 'missing' || !st.isDirectory()) return []
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    throw new InspectionError(`${dir} cannot be listed: ${errnoOf(err)}`)
  }
  const out: InspectionSummary[] = []
  for (const f of names) {
    if (!f.endsWith('.meta.json')) continue
    try {
      const json = readJsonFile(resolveInside(dir, f), { maxBytes: FILE_LIMITS.small, fail })
      const summary = validateWith(SummarySchema, json)
      // Listed only when getInspection can open it under that name.
      if (summary.ok && summary.value.name === f.slice(0, -'.meta.json'.length)) out.push(summary.value as InspectionSummary)
    } catch {
      // a half-written, foreign or linked-out summary: its inspection can be run again
    }
  }
  return out.sort((a, b) => b.createdMs - a.createdMs)
}
