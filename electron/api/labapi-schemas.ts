// Runtime schemas for the parameters of every LabApi call (labapi.ts has
// the types and names). Checked where a call enters: the headless server
// and the Electron IPC handlers.
import { z } from 'zod'
import { ComposerDraftParamsSchema } from './composer-draft'
import { InspectRequestSchema } from './inspect'
import { PreferencesPatchSchema } from './preferences'
import { MAX_RUN_TAGS, RUN_TAG, RUN_TAG_RULE } from './runs'
import { PRECISIONS } from './train-spec'

export const DemoForwardParamsSchema = z.strictObject({
  seqLen: z.number().int().min(1).max(65536),
  heads: z.number().int().min(1).max(64),
  dk: z.number().int().min(1).max(512),
  dv: z.number().int().min(1).max(512),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1),
})

/** A saved spec's name: becomes a file name, so letters, digits, -, _ and spaces only. */
const SpecName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9 _-]*$/, 'may hold letters, digits, spaces, - and _ only, starting with a letter or digit')

/** A run folder's name. */
const RunId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'is not a run id')

/** A run's tag (see RUN_TAG). */
const RunTag = z.string().regex(RUN_TAG, RUN_TAG_RULE)
const RunTags = z.array(RunTag).max(MAX_RUN_TAGS)

/**
 * Start a run (or a template's runs, or a profile) even when its estimated
 * memory is over the device's; without it such a start is refused, saying
 * how much it needs and what to lower.
 */
const AllowOverMemory = z.boolean().optional()

/** An inspection's cache name (a file name in the run's inspect/ folder). */
const InspectionName = z.string().regex(/^[A-Za-z0-9_.-]{1,80}$/, 'letters, digits, _ . - only (1 to 80)')

/** Each call: its parameter schema. Results are typed in labapi.ts. */
export const LAB_API_METHODS = {
  engineInfo: z.strictObject({}),
  validateModelSpec: z.strictObject({ spec: z.unknown() }),
  validateTrainSpec: z.strictObject({ spec: z.unknown() }),
  demoForward: DemoForwardParamsSchema,
  listPresets: z.strictObject({}),
  estimateModel: z.strictObject({
    spec: z.unknown(),
    contextLength: z
      .number()
      .int()
      .min(1)
      .max(1 << 24),
  }),
  workspaceInfo: z.strictObject({}),
  openWorkspace: z.strictObject({ path: z.string().min(1) }),
  recentWorkspaces: z.strictObject({}),
  listModelSpecs: z.strictObject({}),
  saveModelSpec: z.strictObject({ name: SpecName, spec: z.unknown() }),
  loadModelSpec: z.strictObject({ name: SpecName }),
  saveComposerDraft: ComposerDraftParamsSchema,
  loadComposerDraft: z.strictObject({}),
  listTemplates: z.strictObject({}),
  startTemplate: z.strictObject({
    id: z.string().min(1),
    /** Values for the template's inputs, by path (e.g. "train.task.path"). */
    inputs: z.record(z.string(), z.unknown()).optional(),
    /** Changes to every run, by path (e.g. "train.steps": 50). */
    overrides: z.record(z.string(), z.unknown()).optional(),
    allowOverMemory: AllowOverMemory,
  }),
  startRun: z.strictObject({
    name: z.string().min(1).max(200),
    modelSpec: z.unknown(),
    trainSpec: z.unknown(),
    specName: SpecName.optional(),
    allowOverMemory: AllowOverMemory,
    /** A fine-tune: start from this run's checkpoint (its latest when not named); the ModelSpec must be that run's. */
    startFrom: z.strictObject({ runId: RunId, checkpoint: z.string().min(1).max(400).optional() }).optional(),
  }),
  listRuns: z.strictObject({}),
  runMetrics: z.strictObject({ id: RunId }),
  /** force: kill the run's engine process at once instead of waiting for it to finish its step. */
  cancelRun: z.strictObject({ id: RunId, force: z.boolean().optional() }),
  resumeRun: z.strictObject({ id: RunId }),
  exportRunCsv: z.strictObject({ id: RunId }),
  /** Writes the run's latest checkpoint as a PyTorch folder (model.py, weights, recipe; fla's folder too when it applies) under the workspace's exports/. */
  exportRun: z.strictObject({ id: RunId }),
  /**
   * The composer's Export…: a design (a ModelSpec, validated by the handler) with its initial weights
   * (the engine's initialization with `seed`, default 0, on the CPU), exported as exportRun does to exports/<name>-<time>.
   */
  exportDesign: z.strictObject({
    spec: z.unknown(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional(),
  }),
  /** archived: hide it from the Runs table's default view (true) or show it again (false); its folder stays. */
  archiveRun: z.strictObject({ id: RunId, archived: z.boolean() }),
  /** Tags added, then tags removed (a tag not there is ignored). */
  tagRun: z.strictObject({ id: RunId, add: RunTags.optional(), remove: RunTags.optional() }),
  /** Removes the run's folder; a running or queued run is refused (cancel it first). */
  deleteRun: z.strictObject({ id: RunId }),
  startProfile: z.strictObject({
    spec: z.unknown(),
    name: z.string().min(1).max(200).optional(),
    settings: z
      .strictObject({
        batchSize: z.number().int().min(1).max(4096).optional(),
        seqLen: z
          .number()
          .int()
          .min(1)
          .max(1 << 20)
          .optional(),
        labelsPerSequence: z
          .number()
          .int()
          .min(1)
          .max(1 << 20)
          .optional(),
        dtype: z.enum(['f32', 'f64']).optional(),
        precision: z.enum(PRECISIONS).optional(),
        warmup: z.number().int().min(0).max(100).optional(),
        repeats: z.number().int().min(1).max(100).optional(),
        sweepLengths: z
          .array(
            z
              .number()
              .int()
              .min(1)
              .max(1 << 22),
          )
          .max(32)
          .optional(),
        sweepBudgetSeconds: z.number().min(0).max(86400).optional(),
        sweepMemoryLimitBytes: z.number().min(0).optional(),
      })
      .optional(),
    allowOverMemory: AllowOverMemory,
  }),
  listProfiles: z.strictObject({}),
  getProfile: z.strictObject({ id: RunId }),
  /** A queued profile never starts; a running one's engine process is stopped. */
  cancelProfile: z.strictObject({ id: RunId }),
  listCheckpoints: z.strictObject({ runId: RunId }),
  /** With refresh, runs again even when the run folder has the answer. */
  startInspect: InspectRequestSchema.extend({ refresh: z.boolean().optional() }),
  /** A queued inspection never starts; a running one's engine process is stopped. */
  cancelInspect: z.strictObject({ runId: RunId, name: InspectionName }),
  listInspections: z.strictObject({ runId: RunId }),
  getInspection: z.strictObject({ runId: RunId, name: InspectionName }),
  getPreferences: z.strictObject({}),
  setPreferences: PreferencesPatchSchema,
} as const

export type LabApiMethod = keyof typeof LAB_API_METHODS
export type LabApiParams<M extends LabApiMethod> = z.infer<(typeof LAB_API_METHODS)[M]>
