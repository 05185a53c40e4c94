// Recall benchmark: the MQAR template as the app ships it (workspace-templates/
// mqar-zoology.json, expanded untouched), each run for the template's fixed
// number of steps with its evaluations (every 100 steps on >= 2048 held-out
// sequences). Per run the JSON records the first step whose eval reached 0.99,
// the best accuracy, the accuracy split by whether a query's key also occurs
// earlier as noise (tag key_in_noise), training tokens/s and the seed. Method
// and the table: bench/mqar-recall.md.
//
//   node --import tsx bench/mqar-recall.bench.ts [--presets transformer,gla,...] [--seed 0]
//        [--max-steps N] [--template mqar-zoology] [--set path=value]... [--time-limit-s S] [--out file.json]
//   node --import tsx bench/mqar-recall.bench.ts --merge a.json,b.json,... --out bench/mqar-recall-T128-kv8.json
//
// --presets picks runs by their name in the template (one process per preset
// runs them in parallel; set LINEA_NUM_THREADS so they share the cores).
// --max-steps stops early on the template's own schedule (a smoke test); the
// JSON says so. --set changes the template (a diagnosis, e.g. --set
// train.optimizer.lr=0.001; never the benchmark): the JSON's train spec says so
// and --merge refuses to join it with the template's own runs. --time-limit-s
// ends the process's runs S seconds after it started (a GPU call's limit): the
// run then training is recorded with status 'cut_off' and the steps it did, the
// ones after it not at all; a cut-off run that did not reach 0.99 says nothing
// about whether it would have. --merge joins
// the JSON of several processes into one and prints the table (a run cut off in
// one file and finished in another keeps the finished row: mqar-recall-runs.ts).
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { EvalProgress, EvalSetResult } from '../electron/api/runs'
import type { TrainSpec } from '../electron/api/train-spec'
import { loadAddon } from '../electron/engine/addon'
import { selectBackend } from '../electron/engine/backend-select'
import { resolvePrecision } from '../electron/engine/precision'
import { distinctCalls, traceRun } from '../electron/engine/trace-ops'
import { projectRoot } from '../electron/platform/project-root'
import { KEY_IN_NOISE_LABELS } from '../electron/engine/tasks/mqar'
import { trainModel } from '../electron/engine/train/trainer'
import { expandTemplate, findTemplate } from '../electron/workspace/templates'
import { bestOverLearningRates, joinRuns, stillToRun, withoutPerRunSettings } from './mqar-recall-runs'

const TARGET = 0.99

interface Split {
  accuracy: number | null
  count: number
}

interface EvalRow {
  step: number
  accuracy: number
  loss: number
  /** Queries whose key occurs only in its pair. */
  key_only_in_pair: Split
  /** Queries whose key also occurs earlier as a noise token. */
  key_also_noise: Split
}

interface RunRow {
  /** The run's name in the template. */
  preset: string
  /** The name without the learning rate's label, where the template sweeps it (absent in older files). */
  cell?: string
  /** The run's learning rate (absent in older files: the file's train_spec's). */
  lr?: number
  seed: number
  /** The trainer's status, or 'cut_off' when --time-limit-s ended the run. */
  status: string
  steps: number
  /** The first evaluated step with accuracy >= 0.99; null when none reached it. */
  first_step_at_0_99: number | null
  best_accuracy: number
  best_step: number
  final_accuracy: number | null
  /** The split at the best evaluation. */
  best_split: { key_only_in_pair: Split; key_also_noise: Split }
  train_tokens_per_second: number
  wall_seconds: number
  parameters: number
  layers: string[]
  evals: EvalRow[]
  /** Where this run trained (set by --merge: parts may come from different machines or thread counts). */
  machine?: Record<string, unknown>
}

interface BenchJson {
  benchmark: 'mqar-recall'
  template: { id: string; name: string; reproduces?: unknown }
  machine: Record<string, unknown>
  backend: string
  /** The precision the runs computed in ('auto' resolved for the backend; absent in older files: f32). */
  precision?: string
  /** The stopping step when --max-steps cut the runs short (a smoke test, not the benchmark). */
  max_steps: number | null
  train_spec: TrainSpec
  /** The --set changes to the template (model and train fields; absent in older files: none). */
  overrides?: Record<string, unknown>
  runs: RunRow[]
  table: string[]
  /** Where the template sweeps the learning rate: each cell at the better rate (Zoology's report). */
  best_over_lr?: string[]
  needs_second_seed: string[]
  /** The template's runs at this file's sequence length without a finished row (absent in older files). */
  still_to_run?: string[]
}

const split = (set: EvalSetResult, label: string): Split => {
  const b = set.byTag.key_in_noise?.[label]
  return { accuracy: b && b.count ? b.correct / b.count : null, count: b?.count ?? 0 }
}

function evalRow(e: EvalProgress): EvalRow {
  const set = e.sets[0]!
  return {
    step: e.step,
    accuracy: set.accuracy,
    loss: set.loss,
    key_only_in_pair: split(set, KEY_IN_NOISE_LABELS[0]),
    key_also_noise: split(set, KEY_IN_NOISE_LABELS[1]),
  }
}

const fmt = (x: number | null | undefined, digits = 4) => (x === null || x === undefined ? '-' : x.toFixed(digits))

/** The table of the README note: one line per run. */
export function table(runs: RunRow[]): string[] {
  const head = '| model | seed | steps to 0.99 | best acc (step) | key only in pair / also as noise, at best | final acc | train tok/s |'
  const rule = '| --- | --- | --- | --- | --- | --- | --- |'
  return [
    head,
    rule,
    ...runs.map(
      (r) =>
        `| ${r.preset} | ${r.seed} | ${r.first_step_at_0_99 ?? (r.status === 'cut_off' ? `not reached (cut off at step ${r.steps})` : 'not reached')} | ${fmt(r.best_accuracy)} (${r.best_step}) | ` +
        `${fmt(r.best_split.key_only_in_pair.accuracy)} / ${fmt(r.best_split.key_also_noise.accuracy)} (${r.best_split.key_also_noise.count} queries) | ` +
        `${fmt(r.final_accuracy)} | ${r.train_tokens_per_second} |`,
    ),
  ]
}

/** Each cell at its better learning rate, with the others' result beside it. */
export function lrTable(runs: RunRow[]): string[] {
  const steps = (r: RunRow) =>
    r.first_step_at_0_99 === null ? (r.status === 'cut_off' ? `cut off at ${r.steps}` : 'not reached') : String(r.first_step_at_0_99)
  return [
    '| cell | seed | better lr | steps to 0.99 | best acc | other lr: steps to 0.99, best acc |',
    '| --- | --- | --- | --- | --- | --- |',
    ...bestOverLearningRates(runs).map(
      ({ cell, seed, best, runs: all }) =>
        `| ${cell} | ${seed} | ${best.lr ?? '-'} | ${steps(best)} | ${fmt(best.best_accuracy)} | ` +
        `${
          all
            .slice(1)
            .map((r) => `${r.lr ?? '-'}: ${steps(r)}, ${fmt(r.best_accuracy)}`)
            .join('; ') || 'none run'
        } |`,
    ),
  ]
}

/** Presets with a best accuracy within 0.01 of the target and fewer than two seeds. */
export function needsSecondSeed(runs: RunRow[]): string[] {
  const presets = [...new Set(runs.map((r) => r.preset))]
  return presets.filter((p) => {
    const mine = runs.filter((r) => r.preset === p)
    return mine.some((r) => Math.abs(r.best_accuracy - TARGET) <= 0.01) && new Set(mine.map((r) => r.seed)).size < 2
  })
}

/** The names of the template's runs at the file's sequence length (a file holds one length). */
function templateRuns(doc: Pick<BenchJson, 'template' | 'train_spec'>): string[] {
  const seqLen = doc.train_spec.task.seq_len
  return expandTemplate(findTemplate(doc.template.id))
    .filter((r) => r.trainSpec.task.seq_len === seqLen)
    .map((r) => r.name)
}

function finish(doc: Omit<BenchJson, 'table' | 'needs_second_seed' | 'still_to_run'>, out: string): void {
  const runs = [...doc.runs].sort((a, b) => a.preset.localeCompare(b.preset) || a.seed - b.seed)
  const swept = runs.some((r) => r.cell !== undefined)
  const toRun = doc.max_steps === null ? stillToRun(templateRuns(doc), runs) : []
  const json: BenchJson = {
    ...doc,
    runs,
    table: table(runs),
    ...(swept && { best_over_lr: lrTable(runs) }),
    needs_second_seed: needsSecondSeed(runs),
    still_to_run: toRun,
  }
  writeFileSync(out, JSON.stringify(json, null, 2) + '\n')
  console.log(json.table.join('\n'))
  if (json.best_over_lr) console.log(['', 'Each cell at its better learning rate:', ...json.best_over_lr].join('\n'))
  if (json.max_steps !== null) console.log(`(stopped at step ${json.max_steps} by --max-steps: a smoke test, not the benchmark)`)
  if (json.needs_second_seed.length) console.log(`within 0.01 of ${TARGET} with one seed: ${json.needs_second_seed.join(', ')}; run them again with --seed 1`)
  if (toRun.length) console.log(`still to run (no finished row), ${toRun.length}: ${toRun.join(', ')}`)
  console.log(`wrote ${out}`)
}

function merge(files: string[], out: string): void {
  const docs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchJson)
  const first = docs[0]!
  // The seed and the learning rate may differ between files (each run records its own: the GPU
  // template sweeps the rate); everything else of the setup must match.
  const setup = ({ seed: _seed, optimizer, ...rest }: TrainSpec) => ({ ...rest, optimizer: { ...optimizer, lr: null } })
  for (const [i, d] of docs.entries()) {
    const [spec, firstSpec] = [setup(d.train_spec), setup(first.train_spec)]
    const sameOverrides = JSON.stringify(d.overrides ?? {}) === JSON.stringify(first.overrides ?? {})
    if (d.template.id !== first.template.id || JSON.stringify(spec) !== JSON.stringify(firstSpec) || d.max_steps !== first.max_steps || !sameOverrides)
      throw new Error(`${files[i]} ran another template or train spec than ${files[0]}; merge only runs of one setup`)
  }
  // Each run keeps the machine (and engine thread count) of the process that trained it; a run
  // cut off by one call's limit and trained again in another keeps its finished (or longer) row.
  const runs = joinRuns(docs.flatMap((d) => d.runs.map((r) => ({ ...r, lr: r.lr ?? d.train_spec.optimizer.lr, machine: r.machine ?? d.machine }))))
  const machines = new Set(runs.map((r) => JSON.stringify(r.machine)))
  finish({ ...first, machine: machines.size === 1 ? first.machine : { per_run: 'runs differ in machine or threads: see runs[].machine' }, runs }, out)
}

/** The committed file of a whole run: bench/mqar-recall-T<seq_len>-kv<pairs>.json. */
function defaultOut(spec: TrainSpec): string {
  const task = spec.task as Extract<TrainSpec['task'], { kind: 'mqar' }>
  return join(projectRoot(), 'bench', `mqar-recall-T${task.seq_len}-kv${task.num_kv_pairs}.json`)
}

/** --set path=value: the value as JSON where it parses (numbers, true, "text"), else the text. */
function parseSets(sets: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const set of sets) {
    const eq = set.indexOf('=')
    if (eq < 1) throw new Error(`--set '${set}': give path=value, as in train.optimizer.lr=0.001`)
    const text = set.slice(eq + 1)
    let value: unknown = text
    try {
      value = JSON.parse(text)
    } catch {
      // a plain string
    }
    out[set.slice(0, eq)] = value
  }
  return out
}

async function run(values: Record<string, string | undefined>, sets: string[]): Promise<void> {
  const changes = parseSets(sets)
  // A diagnosis's --set wins over what the template sets per run (`with`, e.g. one run's output gate).
  const template = withoutPerRunSettings(findTemplate(values.template ?? 'mqar-zoology'), Object.keys(changes))
  const seed = Number(values.seed ?? '0')
  const overrides: Record<string, unknown> = { ...changes, 'train.seed': seed }
  if (values['max-steps'] !== undefined) overrides['train.max_steps'] = Number(values['max-steps'])
  const all = expandTemplate(template, {}, overrides)
  const wanted = values.presets?.split(',').filter(Boolean)
  for (const w of wanted ?? [])
    if (!all.some((r) => r.name === w))
      throw new Error(`--presets: '${w}' is not a run of template ${template.id}; valid: ${all.map((r) => r.name).join(', ')}`)
  const runs = wanted ? all.filter((r) => wanted.includes(r.name)) : all
  // Where the template sweeps the learning rate, a run's cell is its name without the rate's label.
  const lrAxis = template.sweep.find((a) => a.path === 'train.optimizer.lr')
  const cellOf = (r: (typeof all)[number]) => {
    if (!lrAxis) return undefined
    const at = lrAxis.values.indexOf(r.values['train.optimizer.lr'])
    const label = lrAxis.labels?.[at] ?? String(r.values['train.optimizer.lr'])
    return r.name
      .split(' ')
      .filter((part) => part !== label)
      .join(' ')
  }
  // Only a whole run of the template replaces the committed JSON by default.
  if (!values.out && (wanted || values['max-steps'] !== undefined || values['time-limit-s'] !== undefined || seed !== 0 || sets.length))
    throw new Error('--presets, --seed, --max-steps, --time-limit-s and --set write part of the benchmark or a diagnosis: give --out <file.json>')
  const first = runs[0]!.trainSpec
  // The backend from the calls of f32 passes; then each run's precision as the app resolves it
  // ('auto': f32 on the CPU, as the PyTorch reference of the T = 128 figures; bf16 on CUDA).
  const traced = await Promise.all(runs.map((r) => traceRun(r.modelSpec, r.trainSpec, 'f32')))
  const choice = selectBackend(first.backend, first.device, distinctCalls(traced.flat()))
  const precisionOf = (t: TrainSpec) => resolvePrecision(t.precision, choice.backend.id)
  process.stderr.write(`backend: ${choice.reason}; precision ${precisionOf(first)}\n`)
  const rows: RunRow[] = []
  const info = loadAddon().info()
  const out = values.out ?? defaultOut(first)
  const limit = values['time-limit-s'] === undefined ? null : Number(values['time-limit-s'])
  if (limit !== null && !(limit > 0)) throw new Error(`--time-limit-s '${values['time-limit-s']}': give seconds > 0`)
  const deadline = limit === null ? Infinity : performance.now() + limit * 1000
  let cut = false
  const pastDeadline = () => (cut ||= performance.now() > deadline)
  // Written after every run, so a process cut off by a time limit keeps the runs it finished.
  const write = () =>
    finish(
      {
        benchmark: 'mqar-recall',
        template: { id: template.id, name: template.name, reproduces: template.reproduces },
        machine: { cpu: cpus()[0]?.model, cores: cpus().length, threads: info.cpuThreads, blas: info.blas, engine: info.version, node: process.versions.node },
        backend: choice.reason,
        precision: precisionOf(first),
        max_steps: first.max_steps ?? null,
        train_spec: first,
        overrides: changes,
        runs: rows,
      },
      out,
    )
  for (const r of runs) {
    if (pastDeadline()) {
      process.stderr.write(`${r.name}: not started, the ${limit} s limit has passed\n`)
      continue
    }
    const started = performance.now()
    const evals: EvalRow[] = []
    const summary = await trainModel({
      modelSpec: r.modelSpec,
      trainSpec: r.trainSpec,
      backend: choice.backend,
      precision: precisionOf(r.trainSpec),
      events: {
        shouldStop: pastDeadline,
        onEval: (e) => {
          const row = evalRow(e)
          evals.push(row)
          process.stderr.write(
            `  ${r.name} seed ${seed} step ${e.step}: accuracy ${fmt(row.accuracy)} (key only in pair ${fmt(row.key_only_in_pair.accuracy)}, also as noise ${fmt(row.key_also_noise.accuracy)}), loss ${fmt(row.loss, 3)}, ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
          )
        },
      },
    })
    if (evals.length === 0) {
      process.stderr.write(`${r.name}: cut off before its first evaluation; not recorded\n`)
      continue
    }
    const best = evals.reduce((a, b) => (b.accuracy > a.accuracy ? b : a), evals[0]!)
    const cell = cellOf(r)
    rows.push({
      preset: r.name,
      ...(cell !== undefined && { cell }),
      lr: r.trainSpec.optimizer.lr,
      seed,
      status: summary.status === 'cancelled' && cut ? 'cut_off' : summary.status,
      steps: summary.steps,
      first_step_at_0_99: evals.find((e) => e.accuracy >= TARGET)?.step ?? null,
      best_accuracy: best.accuracy,
      best_step: best.step,
      final_accuracy: evals.at(-1)?.accuracy ?? null,
      best_split: { key_only_in_pair: best.key_only_in_pair, key_also_noise: best.key_also_noise },
      train_tokens_per_second: Math.round(summary.tokensPerSecond),
      wall_seconds: Math.round((performance.now() - started) / 100) / 10,
      parameters: summary.parameters,
      layers: r.modelSpec.layers.map((l) => (l.kind === 'softmax' ? `softmax(window ${l.window ?? 'full'}, rotary ${l.rotary})` : 'linear')),
      evals,
    })
    write()
  }
}

const { values } = parseArgs({
  options: {
    presets: { type: 'string' },
    seed: { type: 'string' },
    'max-steps': { type: 'string' },
    template: { type: 'string' },
    out: { type: 'string' },
    merge: { type: 'string' },
    set: { type: 'string', multiple: true },
    'time-limit-s': { type: 'string' },
  },
})
if (values.merge) {
  if (!values.out) throw new Error('--merge needs --out <file.json>')
  merge(values.merge.split(',').filter(Boolean), values.out)
} else {
  const { set, ...rest } = values
  await run(rest, set ?? [])
}
