// The LabApi contract: every call the renderer can make. Parameter schemas
// live in labapi-schemas.ts (checked at every front door); this file is
// types plus the list of names, so the preload bridge can import it without
// pulling in a schema library. The Electron bridge, the headless server and
// the renderer's clients are all generated from these names: a call exists
// in every front door or in none, and nothing else passes.
import type { LabApiMethod, LabApiParams } from './labapi-schemas'
import type { SpecError } from './validate'
import type { ModelSpec } from './model-spec'
import type { TrainSpec } from './train-spec'
import type { MetricsLine, MetricsRead, RunRecord } from './runs'
import type { Template } from './template'
import type { ProfileResult, ProfileSettings } from './profile'
import type { InspectionSummary, InspectResult } from './inspect'
import type { Preferences, PreferencesRead } from './preferences'
import type { ComposerDraft } from './composer-draft'

export type { LabApiMethod, LabApiParams }

/** What exportRun wrote: the folder (inside the workspace), its files, which checkpoint step, and a line on flash-linear-attention. */
export interface RunExport {
  dir: string
  files: string[]
  step: number
  fla: string
}

/** What exportDesign wrote: as exportRun (step 0: initial weights), and the seed they were initialized with. */
export interface DesignExport extends RunExport {
  seed: number
}

export interface DeviceInfo {
  /** "cpu", "cuda:0" */
  id: string
  backend: 'cpu' | 'cuda' | 'webgpu'
  index: number
  name: string
  memoryBytes: number
  /** Free memory now, all processes counted: the GPU's (CUDA), the system's available memory (CPU). */
  freeBytes?: number
  detail: string
}

export interface OpInfo {
  name: string
  doc: string
  /** backend id → dtypes it has kernels for */
  kernels: Record<string, string[]>
}

export interface EngineInfo {
  version: string
  backendsCompiled: string[]
  cudaStatus: string
  devices: DeviceInfo[]
  blas: string
  cpuThreads: number
  compiler: string
  node: string
  platform: string
  arch: string
  ops: OpInfo[]
}

export interface DemoForwardResult {
  backend: string
  seqLen: number
  heads: number
  dk: number
  dv: number
  /** ‖o_t‖ averaged over heads, one per time step */
  outputNorm: number[]
  /** ‖S_T‖_F per head after the last step */
  finalStateNorm: number[]
  elapsedMs: number
}

/** Costs of a model at one context length (decoding one token there). */
export interface CostAtContext {
  context: number
  /** Recurrent state (linear layers) plus KV cache (softmax layers), per sequence. */
  stateBytes: number
  /** Forward FLOPs for one token at this context. */
  flopsPerToken: number
  /** Parameters plus state. */
  memoryBytes: number
}

export interface LayerEstimate {
  index: number
  kind: 'linear' | 'softmax'
  params: number
  stateBytes: number
  flopsPerToken: number
}

export interface ModelEstimate {
  contextLength: number
  bytesPerElement: number
  layers: LayerEstimate[]
  embeddingAndHeadParams: number
  totalParams: number
  model: CostAtContext
  /** A softmax Transformer of the same width, depth and vocabulary. */
  transformer: CostAtContext & { totalParams: number }
  curve: { model: CostAtContext; transformer: CostAtContext }[]
}

export interface SavedSpecInfo {
  name: string
  modifiedMs: number
}

export interface WorkspaceInfo {
  path: string
  name: string
  /** Files found broken when it opened (the rest opened). */
  problems: { file: string; problem: string }[]
}

export interface RunsList {
  runs: RunRecord[]
  problems: { file: string; problem: string }[]
  runningId: string | null
  queuedIds: string[]
}

export interface ProfileRecord {
  id: string
  name: string
  /** queued: waiting for a free job slot (a bounded number of profiles and inspections run at once). */
  status: 'queued' | 'running' | 'done' | 'failed'
  createdMs: number
  endedMs?: number
  failure?: string
  /** Files in the profile's folder, once the report exists. */
  report?: { html: string; pdf?: string; pdfError?: string }
  settings: ProfileSettings
}

/** An inspection job: queued (waiting for a job slot), running, done (its result is in the run's inspect/ folder) or failed. */
export interface InspectJob {
  runId: string
  name: string
  checkpoint: string
  status: 'queued' | 'running' | 'done' | 'failed'
  /** Answered from the run folder without running the engine. */
  cached?: boolean
  failure?: string
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: SpecError[] }

export interface LabApiResults {
  engineInfo: EngineInfo
  validateModelSpec: ValidationResult<ModelSpec>
  validateTrainSpec: ValidationResult<TrainSpec>
  demoForward: DemoForwardResult
  listPresets: ModelSpec[]
  estimateModel: ModelEstimate
  workspaceInfo: WorkspaceInfo
  openWorkspace: WorkspaceInfo
  recentWorkspaces: string[]
  listModelSpecs: SavedSpecInfo[]
  saveModelSpec: SavedSpecInfo
  loadModelSpec: ModelSpec
  saveComposerDraft: { savedMs: number }
  loadComposerDraft: ComposerDraft | null
  listTemplates: Template[]
  startTemplate: RunRecord[]
  startRun: RunRecord
  listRuns: RunsList
  runMetrics: MetricsRead
  cancelRun: RunRecord
  resumeRun: RunRecord
  exportRunCsv: { filename: string; csv: string }
  exportRun: RunExport
  exportDesign: DesignExport
  archiveRun: RunRecord
  tagRun: RunRecord
  deleteRun: { id: string }
  startProfile: ProfileRecord
  listProfiles: ProfileRecord[]
  getProfile: ProfileResult
  cancelProfile: ProfileRecord
  listCheckpoints: { checkpoint: string; step: number }[]
  startInspect: InspectJob
  cancelInspect: InspectJob
  listInspections: InspectionSummary[]
  getInspection: InspectResult
  getPreferences: PreferencesRead
  setPreferences: PreferencesRead
}

export type DemoForwardParams = LabApiParams<'demoForward'>

/** Events pushed to the renderer. */
export interface LabEvents {
  /** The interactive engine process started or stopped. */
  'engine.status': { state: 'starting' | 'ready' | 'exited'; pid?: number; reason?: string }
  /** A run's record changed (queued, running, progress, finished). */
  'run.status': { run: RunRecord }
  /** A run's folder was deleted (deleteRun). */
  'run.deleted': { runId: string }
  /** A line was appended to a run's metrics.jsonl. */
  'run.metrics': { runId: string; line: MetricsLine }
  /** Another workspace was opened. */
  'workspace.changed': WorkspaceInfo
  /** A profile started, finished or failed. */
  'profile.status': { profile: ProfileRecord }
  'profile.progress': { id: string; message: string; fraction: number }
  /** An inspection started, finished (or was found cached) or failed. */
  'inspect.status': { job: InspectJob }
  'inspect.progress': { runId: string; name: string; message: string; fraction: number }
  /** The default backend or device for new runs changed (menu or setPreferences). */
  'preferences.changed': { preferences: Preferences }
}
export type LabEventName = keyof LabEvents
export const LAB_EVENT_NAMES: readonly LabEventName[] = [
  'engine.status',
  'run.status',
  'run.deleted',
  'run.metrics',
  'workspace.changed',
  'profile.status',
  'profile.progress',
  'inspect.status',
  'inspect.progress',
  'preferences.changed',
]

/** The API as the renderer sees it: one async function per call, plus events. */
export type LabApi = {
  [M in LabApiMethod]: (params: LabApiParams<M>) => Promise<LabApiResults[M]>
} & {
  on<E extends LabEventName>(event: E, handler: (data: LabEvents[E]) => void): () => void
}

/** Calls as services implement them (no event plumbing). */
export type LabApiHandlers = {
  [M in LabApiMethod]: (params: LabApiParams<M>) => Promise<LabApiResults[M]>
}

export const LAB_API_METHOD_NAMES = [
  'engineInfo',
  'validateModelSpec',
  'validateTrainSpec',
  'demoForward',
  'listPresets',
  'estimateModel',
  'workspaceInfo',
  'openWorkspace',
  'recentWorkspaces',
  'listModelSpecs',
  'saveModelSpec',
  'loadModelSpec',
  'saveComposerDraft',
  'loadComposerDraft',
  'listTemplates',
  'startTemplate',
  'startRun',
  'listRuns',
  'runMetrics',
  'cancelRun',
  'resumeRun',
  'exportRunCsv',
  'exportRun',
  'exportDesign',
  'archiveRun',
  'tagRun',
  'deleteRun',
  'startProfile',
  'listProfiles',
  'getProfile',
  'cancelProfile',
  'listCheckpoints',
  'startInspect',
  'cancelInspect',
  'listInspections',
  'getInspection',
  'getPreferences',
  'setPreferences',
] as const

// Compile-time check that the names above and the schema table agree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never
const namesMatchSchemas: Same<(typeof LAB_API_METHOD_NAMES)[number], LabApiMethod> = true
void namesMatchSchemas

export function isLabApiMethod(name: string): name is LabApiMethod {
  return (LAB_API_METHOD_NAMES as readonly string[]).includes(name)
}

/** An error that crossed the API boundary, with a stable code. */
export interface LabApiErrorBody {
  code: 'bad_request' | 'unknown_method' | 'engine_error' | 'internal'
  message: string
  errors?: SpecError[]
}
