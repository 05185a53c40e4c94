// Inspections cached in a run's folder, so reopening one is instant and needs
// no engine:
//   runs/<id>/inspect/<name>.json        the InspectResult (maps, traces; can be MBs)
//   runs/<id>/inspect/<name>.meta.json   its summary, for listing without reading the maps
// Names come from the checkpoint and the input (step-0000150-example-0),
// so asking the same question again finds the answer on disk.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, join, relative, resolve } from 'node:path'
import type { InspectionSummary, InspectRequestFull, InspectResult } from '../api/inspect'
import { INSPECT_FORMAT } from '../api/inspect'
import { writeFileAtomic } from './workspace'
import { UserError } from '../api/errors'

export class InspectionError extends UserError {
  override name = 'InspectionError'
}

export const inspectDir = (runDir: string) => join(runDir, 'inspect')

/** The default cache name for a checkpoint and an input. */
export function inspectionName(checkpoint: string, request: Pick<InspectRequestFull, 'input'>): string {
  const stem = basename(checkpoint).replace(/\.safetensors$/, '')
  if (request.input.kind === 'task') return `${stem}-example-${request.input.example}`
  return `${stem}-text-${createHash('sha256').update(request.input.text).digest('hex').slice(0, 10)}`
}

/** Checkpoints of a run, oldest first, as paths relative to the run folder with their step. */
export function listCheckpoints(runDir: string): { checkpoint: string; step: number }[] {
  const dir = join(runDir, 'checkpoints')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .map((f) => /^step-(\d+)\.safetensors$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ checkpoint: `checkpoints/${m[0]}`, step: Number(m[1]) }))
    .sort((a, b) => a.step - b.step)
}

/** A checkpoint path given relative to the run folder, checked to stay inside it and to exist. */
export function checkpointFile(runDir: string, checkpoint: string): string {
  const path = resolve(runDir, checkpoint)
  if (relative(runDir, path).startsWith('..')) throw new InspectionError(`checkpoint '${checkpoint}' is outside the run folder`)
  if (!existsSync(path) || !statSync(path).isFile()) {
    const have = listCheckpoints(runDir).map((c) => c.checkpoint)
    throw new InspectionError(`checkpoint '${checkpoint}' does not exist in ${runDir}; it has: ${have.length ? have.join(', ') : 'none yet'}`)
  }
  return path
}

function summaryOf(r: InspectResult): InspectionSummary {
  const input = r.request.input.kind === 'task' ? `${r.task.kind} example ${r.request.input.example}` : `text (${r.input.tokens.length} bytes)`
  return { runId: r.runId, name: r.name, checkpoint: r.checkpoint, step: r.step, createdMs: r.createdMs, input }
}

export function writeInspection(runDir: string, result: InspectResult): InspectionSummary {
  const dir = inspectDir(runDir)
  mkdirSync(dir, { recursive: true })
  const summary = summaryOf(result)
  writeFileAtomic(join(dir, `${result.name}.json`), JSON.stringify(result) + '\n')
  writeFileAtomic(join(dir, `${result.name}.meta.json`), JSON.stringify(summary, null, 2) + '\n')
  return summary
}

export function hasInspection(runDir: string, name: string): boolean {
  return existsSync(join(inspectDir(runDir), `${name}.json`))
}

export function readInspection(runDir: string, name: string): InspectResult {
  if (!/^[A-Za-z0-9_.-]{1,80}$/.test(name)) throw new InspectionError(`'${name}' is not an inspection name (letters, digits, _ . - only)`)
  const path = join(inspectDir(runDir), `${name}.json`)
  if (!existsSync(path)) throw new InspectionError(`no inspection '${name}' in ${inspectDir(runDir)}`)
  let r: InspectResult
  try {
    r = JSON.parse(readFileSync(path, 'utf8')) as InspectResult
  } catch (err) {
    throw new InspectionError(`${path} is not valid JSON (${(err as Error).message}); inspect the checkpoint again to rewrite it`)
  }
  if (r.format !== INSPECT_FORMAT) throw new InspectionError(`${path} has format '${String(r.format)}'; this Linea reads '${INSPECT_FORMAT}'`)
  return r
}

/** Summaries of a run's cached inspections, newest first; unreadable ones are skipped. */
export function listInspections(runDir: string): InspectionSummary[] {
  const dir = inspectDir(runDir)
  if (!existsSync(dir)) return []
  const out: InspectionSummary[] = []
  for (const f of readdirSync(dir))
    if (f.endsWith('.meta.json'))
      try {
        out.push(JSON.parse(readFileSync(join(dir, f), 'utf8')) as InspectionSummary)
      } catch {
        // a half-written summary: its inspection can be run again
      }
  return out.sort((a, b) => b.createdMs - a.createdMs)
}
