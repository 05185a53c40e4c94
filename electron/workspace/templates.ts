// Loading templates and expanding one into the runs of its sweep grid: each
// grid point sets its values into a copy of the base model and TrainSpec,
// the model is the preset resized with the template's model fields and layer
// switches set, and both specs are validated.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { z } from 'zod'
import { ModelSpecSchema, type ModelSpec } from '../api/model-spec'
import { resizeModel } from '../api/resize'
import { setHybrid } from '../api/spec-edit'
import { clip } from '../api/errors'
import { setAtSchemaPath } from '../api/schema-path'
import { axisPaths, TemplateModelSchema, TemplateSchema, type Template, type TemplateModel } from '../api/template'
import { longestSequence, TrainSpecSchema, type TrainSpec } from '../api/train-spec'
import type { Layer } from '../api/model-spec'
import { modelPosition } from '../api/model-spec'
import { formatErrors, validateWith } from '../api/validate'
import { preset } from '../api/presets'
import { projectRoot } from '../platform/project-root'
import { UserError } from '../api/errors'

export class TemplateError extends UserError {
  constructor(message: string) {
    super(message)
    this.name = 'TemplateError'
  }
}

export function templatesDir(): string {
  return process.env.LINEA_TEMPLATES ?? join(projectRoot(), 'workspace-templates')
}

export function loadTemplates(dir = templatesDir()): Template[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => parseTemplate(readFileSync(join(dir, f), 'utf8'), join(dir, f)))
}

/** The template with this id; a TemplateError naming the valid ids otherwise. */
export function findTemplate(id: string, dir = templatesDir()): Template {
  const all = loadTemplates(dir)
  const found = all.find((t) => t.id === id)
  if (!found) throw new TemplateError(`unknown template '${clip(id, 80)}'; valid: ${all.map((t) => t.id).join(', ')}`)
  return found
}

export function parseTemplate(text: string, where: string): Template {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new TemplateError(`${where} is not valid JSON: ${(err as Error).message}`)
  }
  const r = validateWith(TemplateSchema, json)
  if (!r.ok) throw new TemplateError(`${where} is not a valid template:\n${formatErrors(r.errors)}`)
  return r.value
}

export interface ExpandedRun {
  name: string
  values: Record<string, unknown>
  modelSpec: ModelSpec
  trainSpec: TrainSpec
}

/** What a template run's paths address: model.<field of TemplateModel>, train.<path in a TrainSpec>. */
const RunDocSchema = z.strictObject({ model: TemplateModelSchema, train: TrainSpecSchema })

/** Model-wide ModelSpec fields a template sets as they are. */
const MODEL_FIELDS = ['block', 'mlp_expansion', 'tie_embeddings', 'init', 'position', 'max_positions'] as const

/**
 * The model of a template run: the preset resized, re-placed by the hybrid
 * fields, then the model-wide fields, then the switches of every linear and
 * every softmax layer (so layers the placement created get them too).
 */
export function buildModel(m: TemplateModel): ModelSpec {
  let spec = resizeModel(preset(m.preset), { d_model: m.d_model, n_layers: m.n_layers, vocab_size: m.vocab_size, heads: m.heads })
  if (m.hybrid_ratio !== undefined || m.hybrid_placement !== undefined)
    spec = setHybrid(spec, m.hybrid_ratio ?? spec.hybrid.ratio, m.hybrid_placement ?? spec.hybrid.placement)
  if (m.window !== undefined) spec = { ...spec, layers: spec.layers.map((l) => (l.kind === 'softmax' ? { ...l, window: m.window ?? null } : l)) }
  const next: Record<string, unknown> = { ...spec }
  for (const field of MODEL_FIELDS) if (m[field] !== undefined) next[field] = m[field]
  spec = next as ModelSpec
  const { linear, softmax } = m
  if (linear || softmax)
    spec = {
      ...spec,
      layers: spec.layers.map((l): Layer => (l.kind === 'linear' ? { ...l, ...structuredClone(linear ?? {}) } : { ...l, ...structuredClone(softmax ?? {}) })),
    }
  return spec
}

function label(value: unknown, labels: string[] | undefined, index: number): string {
  if (labels?.[index]) return labels[index]!
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

/** Whether two dotted spec paths touch: the same field, or one inside the other. */
export function pathsOverlap(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`)
}

/** The runs of a template: its sweep grid, with `inputs` (path → value) filled in. */
export function expandTemplate(t: Template, inputs: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}): ExpandedRun[] {
  for (const input of t.inputs)
    if (inputs[input.path] === undefined || inputs[input.path] === '') throw new TemplateError(`template ${t.id} needs ${input.label} (${input.path})`)
  // An override of a swept field would silently replace every sweep value while run names kept the sweep's labels.
  for (const path of Object.keys(overrides)) {
    const axis = t.sweep.find((a) => axisPaths(a).some((p) => pathsOverlap(p, path)))
    if (axis) {
      const swept = axisPaths(axis).find((p) => pathsOverlap(p, path))!
      const what =
        swept === axis.path
          ? `sweeps ${axis.path} over ${axis.values.map((v, i) => label(v, axis.labels, i)).join(', ')}`
          : `sets ${swept} with each value of its ${axis.path} sweep`
      throw new TemplateError(
        `override ${path}: the template ${what}; an override there would replace every run's value. Leave it out, or start runs from a spec instead`,
      )
    }
  }
  let points: { values: Record<string, unknown>; names: string[] }[] = [{ values: {}, names: [] }]
  for (const axis of t.sweep)
    points = points.flatMap((p) =>
      axis.values.map((v, i) => ({
        values: { ...p.values, [axis.path]: v, ...structuredClone(axis.with?.[i] ?? {}) },
        names: [...p.names, label(v, axis.labels, i)],
      })),
    )
  return points.map((p) => {
    const doc: Record<string, unknown> = { model: structuredClone(t.model), train: structuredClone(t.train) }
    for (const [path, value] of [...Object.entries(p.values), ...Object.entries(inputs), ...Object.entries(overrides)]) {
      try {
        setAtSchemaPath(doc, RunDocSchema, path.split('.'), value)
      } catch (err) {
        throw new TemplateError(`template ${t.id}: ${(err as Error).message}`)
      }
    }
    const modelDoc = doc.model as TemplateModel
    let modelSpec: ModelSpec
    try {
      modelSpec = buildModel(modelDoc)
    } catch (err) {
      throw new TemplateError(`template ${t.id}, run ${p.names.join(' ')}: ${(err as Error).message}`)
    }
    const name = p.names.length ? p.names.join(' ') : t.name
    modelSpec = { ...modelSpec, name }
    const train = validateWith(TrainSpecSchema, doc.train)
    if (!train.ok) throw new TemplateError(`template ${t.id}, run ${name}: invalid train spec:\n${formatErrors(train.errors)}`)
    // Learned positions up to the trained length, unless the template says how many.
    if (modelPosition(modelSpec) === 'learned' && modelSpec.max_positions === undefined)
      modelSpec = { ...modelSpec, max_positions: longestSequence(train.value.task) }
    const model = validateWith(ModelSpecSchema, modelSpec)
    if (!model.ok) throw new TemplateError(`template ${t.id}, run ${name}: invalid model:\n${formatErrors(model.errors)}`)
    return { name, values: p.values, modelSpec: model.value, trainSpec: train.value }
  })
}
