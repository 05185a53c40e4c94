// Experiment templates (workspace-templates/*.json): a base model (a preset,
// resized, then any model field and per-kind layer switch set), a TrainSpec,
// sweep axes whose grid gives the runs, and inputs the person fills in before
// starting (e.g. the text file of a byte-level LM). A template says what it
// reproduces in `reproduces` (paper, figure, and where it departs).
import { z } from 'zod'
import { INIT_SCHEMES, LinearLayerSchema, PLACEMENTS, POSITIONS, SoftmaxLayerSchema, BLOCK_DESIGNS } from './model-spec'

const positive = z.number().int().min(1)

/** A path a template sets: model.<field> (of TemplateModel) or train.<path> (in a TrainSpec). */
const TemplatePath = z.string().regex(/^(model|train)(\.[A-Za-z0-9_]+)+$/, 'must be model.<field> or train.<path>')

export const TemplateModelSchema = z.strictObject({
  preset: z.string().min(1),
  d_model: positive.optional(),
  n_layers: positive.max(512).optional(),
  vocab_size: z.number().int().min(2).optional(),
  heads: positive.optional(),
  hybrid_ratio: z.number().min(0).max(1).optional(),
  hybrid_placement: z.enum(PLACEMENTS).optional(),
  /** Sliding window of the softmax layers; null = full. */
  window: positive.nullable().optional(),
  // Model-wide fields of the ModelSpec, set after resizing.
  block: z.enum(BLOCK_DESIGNS).optional(),
  mlp_expansion: z.number().min(0).max(64).optional(),
  tie_embeddings: z.boolean().optional(),
  init: z.enum(INIT_SCHEMES).optional(),
  position: z.enum(POSITIONS).optional(),
  /** Learned positions: absent = the longest sequence of the run's task. */
  max_positions: positive.max(1 << 20).optional(),
  /** Switches set on every linear layer (e.g. model.linear.short_conv). */
  linear: LinearLayerSchema.omit({ kind: true }).partial().optional(),
  /** Switches set on every softmax layer (e.g. model.softmax.rotary). */
  softmax: SoftmaxLayerSchema.omit({ kind: true }).partial().optional(),
})

export const SweepAxisSchema = z
  .strictObject({
    /** "model.<field>" or "train.<path>" */
    path: TemplatePath,
    values: z.array(z.unknown()).min(1),
    /** Names of the values in run names (default: the values themselves). */
    labels: z.array(z.string()).optional(),
    /**
     * Paths set together with each value, one object per value: e.g. the
     * position signal that goes with each preset. Values here are part of the
     * run's sweep values (and cannot be overridden either).
     */
    with: z.array(z.record(TemplatePath, z.unknown())).optional(),
  })
  .superRefine((axis, ctx) => {
    if (axis.labels && axis.labels.length !== axis.values.length)
      ctx.addIssue({ code: 'custom', path: ['labels'], message: `has ${axis.labels.length} labels for ${axis.values.length} values; give one per value` })
    if (axis.with && axis.with.length !== axis.values.length)
      ctx.addIssue({
        code: 'custom',
        path: ['with'],
        message: `has ${axis.with.length} entries for ${axis.values.length} values; give one per value ({} for none)`,
      })
  })

export const TemplateSchema = z.strictObject({
  format: z.literal('linea.template/1'),
  id: z.string().regex(/^[a-z0-9-]+$/, 'may hold lowercase letters, digits and - only'),
  name: z.string().min(1),
  description: z.string(),
  /** What the template reproduces: the paper and figure, and where the template departs from it. */
  reproduces: z
    .strictObject({
      paper: z.string().min(1),
      figure: z.string().optional(),
      notes: z.string().optional(),
    })
    .optional(),
  model: TemplateModelSchema,
  /** A TrainSpec, checked once sweep values and inputs are in. */
  train: z.record(z.string(), z.unknown()),
  sweep: z.array(SweepAxisSchema),
  inputs: z.array(
    z.strictObject({
      path: TemplatePath,
      label: z.string(),
      kind: z.enum(['file', 'number', 'text']),
    }),
  ),
})

export type Template = z.infer<typeof TemplateSchema>
export type TemplateModel = z.infer<typeof TemplateModelSchema>
export type SweepAxis = z.infer<typeof SweepAxisSchema>

/** Every path an axis sets: its own and those it sets with each value. */
export function axisPaths(axis: Pick<SweepAxis, 'path' | 'with'>): string[] {
  return [...new Set([axis.path, ...(axis.with ?? []).flatMap((w) => Object.keys(w))])]
}
