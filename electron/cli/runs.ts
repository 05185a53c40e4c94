// `linea run <workspace> <template-id | run.json>` queues a template's sweep
// (or one run) in a workspace and trains it here, run after run, each in its
// own engine process. `linea runs <workspace>` lists the runs.
import { existsSync, readFileSync } from 'node:fs'
import { ModelSpecSchema } from '../api/model-spec'
import { backendLabel } from '../api/backend-label'
import type { RunRecord } from '../api/runs'
import { stopStep, TrainSpecSchema } from '../api/train-spec'
import { formatErrors, validateWith } from '../api/validate'
import { forkLauncher } from '../jobs/engine-process'
import { JobRunner } from '../jobs/runner'
import { LabEventBus } from '../services/events'
import { expandTemplate, loadTemplates } from '../workspace/templates'
import { Workspace } from '../workspace/workspace'
import { CliInputError } from './train'

/** "a.b=3" → ["a.b", 3]; values parse as JSON when they can, else stay strings. */
export function parseAssignment(text: string, flag: string): [string, unknown] {
  const eq = text.indexOf('=')
  if (eq <= 0) throw new CliInputError(`${flag} ${text}: expected path=value, e.g. ${flag} train.steps=50`)
  const raw = text.slice(eq + 1)
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    // a plain string
  }
  return [text.slice(0, eq), value]
}

function taskOf(run: RunRecord): string {
  const t = run.trainSpec.task
  return `${t.kind} T=${t.seq_len}`
}

function duration(run: RunRecord): string {
  if (!run.startedMs) return '-'
  const s = ((run.endedMs ?? Date.now()) - run.startedMs) / 1000
  return s < 60 ? `${s.toFixed(0)}s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
}

export function formatRuns(runs: RunRecord[]): string {
  const rows = [['status', 'name', 'task', 'steps', 'best acc', 'time', 'backend', 'tags', 'id']]
  for (const r of runs)
    rows.push([
      r.archived ? `${r.status} (archived)` : r.status,
      r.name,
      taskOf(r),
      `${r.steps}/${stopStep(r.trainSpec)}`,
      r.bestAccuracy === undefined ? '-' : r.bestAccuracy.toFixed(4),
      duration(r),
      r.backend ? backendLabel(r.backend) : '-',
      r.tags?.length ? r.tags.join(',') : '-',
      r.id,
    ])
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)))
  return (
    rows
      .map((row) =>
        row
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  )
}

export function listRunsCommand(path: string): number {
  if (!existsSync(path)) throw new CliInputError(`no workspace at ${path}`)
  const ws = Workspace.open(path, { lock: false })
  const { runs, problems } = ws.listRuns()
  process.stdout.write(runs.length ? formatRuns(runs) : `no runs in ${ws.root}\n`)
  for (const p of problems) process.stderr.write(`linea: skipped ${p.file}: ${p.problem}\n`)
  return 0
}

export async function runCommand(o: { workspace: string; what: string; sets: string[]; inputs: string[] }): Promise<number> {
  const ws = Workspace.open(o.workspace, { app: 'linea run' })
  try {
    const overrides = Object.fromEntries(o.sets.map((s) => parseAssignment(s, '--set')))
    const inputs = Object.fromEntries(o.inputs.map((s) => parseAssignment(s, '--input')))
    let runs: RunRecord[]
    const template = loadTemplates().find((t) => t.id === o.what)
    if (template) {
      runs = expandTemplate(template, inputs, overrides).map((r) =>
        ws.createRun({ name: r.name, modelSpec: r.modelSpec, trainSpec: r.trainSpec, template: { id: template.id, values: r.values } }),
      )
    } else if (existsSync(o.what)) {
      let doc: { name?: string; model?: unknown; train?: unknown }
      try {
        doc = JSON.parse(readFileSync(o.what, 'utf8'))
      } catch (err) {
        throw new CliInputError(`${o.what} is not valid JSON: ${(err as Error).message}`)
      }
      const model = validateWith(ModelSpecSchema, doc.model)
      if (!model.ok) throw new CliInputError(`${o.what}: model is not a valid ModelSpec:\n${formatErrors(model.errors)}`)
      const train = validateWith(TrainSpecSchema, doc.train)
      if (!train.ok) throw new CliInputError(`${o.what}: train is not a valid TrainSpec:\n${formatErrors(train.errors)}`)
      runs = [ws.createRun({ name: doc.name ?? model.value.name, modelSpec: model.value, trainSpec: train.value })]
    } else {
      throw new CliInputError(
        `'${o.what}' is neither a template nor a run file; templates: ${loadTemplates()
          .map((t) => t.id)
          .join(', ')}; a run file is JSON with "model" (a ModelSpec) and "train" (a TrainSpec)`,
      )
    }
    const events = new LabEventBus()
    events.subscribe((name, data) => {
      if (name === 'run.status') {
        const r = (data as { run: RunRecord }).run
        if (r.status !== 'running') process.stderr.write(`${r.name}: ${r.status}${r.failure ? ` (${r.failure})` : ''}\n`)
      }
      if (name === 'run.metrics') {
        const { runId, line } = data as { runId: string; line: { type: string; step?: number; steps?: number; loss?: number; headline?: number } }
        if (line.type === 'eval') process.stderr.write(`  ${runId} step ${line.step}: eval ${line.headline?.toFixed(4)}\n`)
      }
    })
    const runner = new JobRunner(ws, forkLauncher(), events)
    process.stderr.write(`queued ${runs.length} run${runs.length > 1 ? 's' : ''} in ${ws.root}\n`)
    let interrupted = false
    const onSignal = () => {
      interrupted = true
      for (const r of runs) runner.cancel(r.id)
    }
    process.on('SIGINT', onSignal)
    for (const r of runs) runner.enqueue(r.id)
    await runner.idle()
    process.off('SIGINT', onSignal)
    const final = runs.map((r) => ws.readRun(r.id))
    process.stdout.write(formatRuns(final))
    return interrupted || final.some((r) => r.status === 'failed') ? 1 : 0
  } finally {
    ws.close()
  }
}
