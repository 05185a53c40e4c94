// Schemas of the run files as they are read back: a workspace file is
// untrusted (hand-edited, synced, another program's), so run.json and every
// metrics.jsonl line is checked before any code walks it. Shapes are those
// of api/runs.ts (RunRecord, MetricsLine); unknown fields are kept, so a
// newer Linea's additions survive an update by this one.
import { isAbsolute } from 'node:path'
import { z } from 'zod'
import { ModelSpecSchema } from '../api/model-spec'
import { MAX_RUN_TAGS, RUN_FORMAT, RUN_TAG, type MetricsLine, type RunRecord } from '../api/runs'
import { TrainSpecSchema } from '../api/train-spec'

export const RUN_STATUSES = ['queued', 'running', 'completed', 'early_stopped', 'cancelled', 'failed'] as const

/**
 * A number the engine reported: JSON writes NaN and ±Infinity as null (a loss
 * that blew up), so null is read back as "none" rather than refusing the run.
 */
const reported = z
  .number()
  .nullable()
  .optional()
  .transform((v) => v ?? undefined)

/** A path relative to the run folder, with no way out of it (checked for real again where it is opened). */
const InsideRunFolder = z
  .string()
  .min(1)
  .max(400)
  .refine((p) => !isAbsolute(p) && !p.includes('\\') && !p.includes('\0') && !p.split('/').some((seg) => seg === '..' || seg === ''), {
    message: 'must be a path inside the run folder, e.g. checkpoints/step-0000100.safetensors',
  })

export const RunRecordSchema = z.looseObject({
  format: z.literal(RUN_FORMAT),
  id: z.string(),
  name: z.string(),
  specName: z.string().optional(),
  template: z.looseObject({ id: z.string(), values: z.record(z.string(), z.unknown()) }).optional(),
  modelSpec: ModelSpecSchema,
  trainSpec: TrainSpecSchema,
  status: z.enum(RUN_STATUSES),
  createdMs: z.number(),
  startedMs: z.number().optional(),
  endedMs: z.number().optional(),
  failure: z.string().optional(),
  backend: z.string().optional(),
  params: z.number().int().min(0).optional(),
  steps: z.number().int().min(0),
  bestAccuracy: reported,
  lastLoss: reported,
  checkpoint: InsideRunFolder.optional(),
  archived: z.boolean().optional(),
  startFrom: z.looseObject({ run: z.string().min(1).max(200), checkpoint: InsideRunFolder }).optional(),
  imported: z
    .looseObject({ source: z.string().max(4096), format: z.literal('fla'), modelType: z.string().max(100), dtypes: z.array(z.string().max(20)).max(8) })
    .optional(),
  // A hand-edited tag that is not a tag is dropped, not a reason to refuse the run.
  tags: z
    .array(z.unknown())
    .optional()
    .transform((tags) => {
      if (!tags) return undefined
      const ok = [...new Set(tags.filter((t): t is string => typeof t === 'string' && RUN_TAG.test(t)))].slice(0, MAX_RUN_TAGS)
      return ok.length ? ok : undefined
    }),
})

/** Values of a training line may be null (NaN or Infinity as JSON writes them): the chart leaves a gap. */
const value = z.number().nullable()

export const MetricsLineSchema = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('train'),
    step: z.number().int().min(0),
    steps: z.number().int().min(0),
    loss: value,
    lr: value,
    gradNorm: value,
    tokensPerSecond: value,
    elapsedSeconds: value,
    memoryBytes: value,
    peakMemoryBytes: value,
    devices: z
      .array(z.looseObject({ rank: z.number().int().min(0), device: z.string().max(64), memoryBytes: value, peakMemoryBytes: value }))
      .max(64)
      .optional(),
  }),
  z.looseObject({
    type: z.literal('eval'),
    step: z.number().int().min(0),
    headline: value,
    headlineName: z.enum(['accuracy', 'bits_per_byte']),
    sets: z.array(z.looseObject({ name: z.string(), seqLen: z.number(), accuracy: value, loss: value, bitsPerByte: value, count: z.number() })),
  }),
  z.looseObject({ type: z.literal('checkpoint'), step: z.number().int().min(0), path: z.string() }),
  z.looseObject({ type: z.literal('status'), status: z.enum(RUN_STATUSES), atMs: z.number(), failure: z.string().optional() }),
])

/** A checked record, as the api type (its fields are the schema's; unknown ones ride along). */
export function asRunRecord(value: z.output<typeof RunRecordSchema>): RunRecord {
  return value
}

/** A checked metrics line, as the api type (null values are NaN as JSON wrote it). */
export function asMetricsLine(value: z.output<typeof MetricsLineSchema>): MetricsLine {
  return value as MetricsLine
}
