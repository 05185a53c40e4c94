// Experiment templates (workspace-templates/*.json): a base model (a preset,
// resized) and TrainSpec, sweep axes whose grid gives the runs, and inputs
// the person fills in before starting (e.g. the text file of a byte-level LM).
import { z } from 'zod'
import { PLACEMENTS } from './model-spec'

const positive = z.number().int().min(1)

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
})

export const TemplateSchema = z.strictObject({
  format: z.literal('linea.template/1'),
  id: z.string().regex(/^[a-z0-9-]+$/, 'may hold lowercase letters, digits and - only'),
  name: z.string().min(1),
  description: z.string(),
  model: TemplateModelSchema,
  /** A TrainSpec, checked once sweep values and inputs are in. */
  train: z.record(z.string(), z.unknown()),
  sweep: z.array(
    z.strictObject({
      /** "model.<field>" or "train.<path>" */
      path: z.string().regex(/^(model|train)(\.[A-Za-z0-9_]+)+$/, 'must be model.<field> or train.<path>'),
      values: z.array(z.unknown()).min(1),
      /** Names of the values in run names (default: the values themselves). */
      labels: z.array(z.string()).optional(),
    }),
  ),
  inputs: z.array(
    z.strictObject({
      path: z.string().regex(/^(model|train)(\.[A-Za-z0-9_]+)+$/, 'must be model.<field> or train.<path>'),
      label: z.string(),
      kind: z.enum(['file', 'number', 'text']),
    }),
  ),
})

export type Template = z.infer<typeof TemplateSchema>
export type TemplateModel = z.infer<typeof TemplateModelSchema>
