// `linea profile <spec.json | preset> --report out.html [--pdf out.pdf]
// [--trace out.trace.json]`: profiles in an engine process with progress,
// writes profile.json beside the report, the PDF through headless Chromium,
// and the timed step as a Chrome trace (Perfetto) when asked.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { ModelSpecSchema, type ModelSpec } from '../api/model-spec'
import { PROFILE_REPEATS } from '../api/profile'
import { profileTrace } from '../api/profile-trace'
import { formatErrors, validateWith } from '../api/validate'
import { preset, PRESET_IDS } from '../api/presets'
import { EngineProcess, forkLauncher } from '../jobs/engine-process'
import { renderPdf } from '../reports/pdf'
import { buildReportHtml } from '../reports/report-html'
import { DEFAULT_PROFILE_SETTINGS } from '../services/profile-service'
import { CliInputError } from './train'

function loadSpec(what: string): ModelSpec {
  if (!existsSync(what)) {
    if (PRESET_IDS().includes(what)) return preset(what)
    throw new CliInputError(`'${what}' is neither a spec file nor a preset; presets: ${PRESET_IDS().join(', ')}`)
  }
  let json: unknown
  try {
    json = JSON.parse(readFileSync(what, 'utf8'))
  } catch (err) {
    throw new CliInputError(`${what} is not valid JSON: ${(err as Error).message}`)
  }
  const r = validateWith(ModelSpecSchema, json)
  if (!r.ok) throw new CliInputError(`${what} is not a valid ModelSpec (profiling refused):\n${formatErrors(r.errors)}`)
  return r.value
}

function positiveInt(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new CliInputError(`${flag} ${String(value)} is not a positive integer`)
  return n
}

/** --backend: auto, cpu, cuda (the first device), cuda:N or webgpu. */
function profileBackendFlag(text: string): { backend: 'auto' | 'cpu' | 'cuda' | 'webgpu'; device: number } {
  if (text === 'auto' || text === 'cpu' || text === 'cuda' || text === 'webgpu') return { backend: text, device: 0 }
  const m = /^cuda:(\d+)$/.exec(text)
  if (m) return { backend: 'cuda', device: Number(m[1]) }
  throw new CliInputError(`--backend ${text}: expected auto, cpu, cuda, cuda:N or webgpu`)
}

/** --precision: as a train spec's (auto: bf16 on CUDA, f32 on the CPU and WebGPU; f16 on WebGPU). */
function profilePrecisionFlag(text: string): 'auto' | 'f32' | 'f64' | 'bf16' | 'f16' {
  if (text === 'auto' || text === 'f32' || text === 'f64' || text === 'bf16' || text === 'f16') return text
  throw new CliInputError(`--precision ${text}: expected auto, f32, f64, bf16 or f16`)
}

export async function profileCommand(o: {
  spec: string
  report: string
  pdf?: string
  seqLen?: string
  batch?: string
  labels?: string
  sweepBudget?: string
  sweepLengths?: string
  dModel?: string
  repeats?: string
  probeSeconds?: string
  trace?: string
  backend?: string
  precision?: string
}): Promise<number> {
  let spec = loadSpec(o.spec)
  const dModel = positiveInt(o.dModel, '--d-model')
  if (dModel) {
    const { resizeModel } = await import('../api/resize')
    spec = resizeModel(spec, { d_model: dModel })
    const r = validateWith(ModelSpecSchema, spec)
    if (!r.ok) throw new CliInputError(`--d-model ${dModel} makes the spec invalid:\n${formatErrors(r.errors)}`)
  }
  const lengths = o.sweepLengths?.split(',').map((x) => positiveInt(x, '--sweep-lengths')!)
  const budget = o.sweepBudget === undefined ? undefined : Number(o.sweepBudget)
  if (budget !== undefined && !(budget >= 0)) throw new CliInputError(`--sweep-budget ${o.sweepBudget} is not a number of seconds`)
  const repeats = positiveInt(o.repeats, '--repeats') ?? PROFILE_REPEATS
  if (repeats > 1000) throw new CliInputError(`--repeats ${repeats} is more than 1000`)
  const probeSeconds = o.probeSeconds === undefined ? undefined : Number(o.probeSeconds)
  if (probeSeconds !== undefined && !(probeSeconds >= 0 && probeSeconds <= 60))
    throw new CliInputError(`--probe-seconds ${o.probeSeconds} is not a number of seconds from 0 to 60`)
  const settings = {
    ...DEFAULT_PROFILE_SETTINGS,
    repeats,
    ...(probeSeconds !== undefined && { probeSeconds }),
    ...(positiveInt(o.seqLen, '--seq-len') && { seqLen: positiveInt(o.seqLen, '--seq-len')! }),
    ...(positiveInt(o.batch, '--batch') && { batchSize: positiveInt(o.batch, '--batch')! }),
    ...(positiveInt(o.labels, '--labels') && { labelsPerSequence: positiveInt(o.labels, '--labels')! }),
    ...(lengths && { sweepLengths: lengths }),
    ...(budget !== undefined && { sweepBudgetSeconds: budget }),
    ...(o.precision !== undefined && { precision: profilePrecisionFlag(o.precision) }),
  }
  const { backend, device } = o.backend === undefined ? { backend: 'auto' as const, device: 0 } : profileBackendFlag(o.backend)
  const engine = new EngineProcess(forkLauncher())
  engine.onEvent((name, data) => {
    if (name !== 'profile.progress') return
    const p = data as { message: string; fraction: number }
    process.stderr.write(`[${String(Math.round(100 * p.fraction)).padStart(3)}%] ${p.message}\n`)
  })
  try {
    const result = await engine.call('profile', { spec, settings, backend, device })
    writeFileSync(o.report.replace(/\.html?$/, '') + '.profile.json', JSON.stringify(result, null, 1) + '\n')
    const html = buildReportHtml(result)
    writeFileSync(o.report, html)
    process.stdout.write(`report: ${o.report}\n`)
    if (o.trace) {
      const trace = profileTrace(result)
      if (!trace) throw new Error('the profile has no timeline to write as a trace')
      writeFileSync(o.trace, JSON.stringify(trace) + '\n')
      process.stdout.write(`trace: ${o.trace} (${trace.traceEvents.length} events; open in ui.perfetto.dev)\n`)
    }
    for (const w of result.warnings ?? []) process.stderr.write(`warning: ${w}\n`)
    if (o.pdf) {
      await renderPdf(html, o.pdf)
      process.stdout.write(`pdf: ${o.pdf}\n`)
    }
    const s = result.step
    const spread = s.spread
      ? `; step middle half ${s.spread.totalMs.q1.toFixed(1)}–${s.spread.totalMs.q3.toFixed(1)} ms over ${s.spread.totalMs.n} repeats`
      : ''
    process.stdout.write(
      `step ${s.totalMs.toFixed(1)} ms (forward ${s.forwardMs.toFixed(1)}, backward ${s.backwardMs.toFixed(1)}, optimizer ${s.optimizerMs.toFixed(1)}), ` +
        `${Math.round(s.tokensPerSecond)} tokens/s; peak ${(result.memory.peak / 2 ** 20).toFixed(1)} MiB${spread}\n`,
    )
    return 0
  } finally {
    engine.stop()
  }
}
