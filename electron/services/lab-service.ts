// The LabApi as services implement it. Both front doors (headless server,
// Electron IPC) call these same handlers after checking parameters.
import { rmSync } from 'node:fs'
import { totalmem } from 'node:os'
import { basename } from 'node:path'
import { UserError } from '../api/errors'
import type { EngineInfo, LabApiHandlers } from '../api/labapi'
import type { RunStart } from '../api/runs'
import { ModelSpecSchema, type ModelSpec } from '../api/model-spec'
import { withPreferredBackend } from '../api/preferences'
import { defaultTrainSpec, TrainSpecSchema, type TrainSpec } from '../api/train-spec'
import { formatBytes } from '../api/format'
import { SpecValidationError, validateWith } from '../api/validate'
import { trainingOps } from '../engine/autograd/gradients'
import { presets } from '../api/presets'
import { estimateTrainingMemory, memoryProblem, trainingShape, type TrainingMemory } from '../engine/train-memory'
import { paramCounts } from '../engine/estimate'
import { RunError, startCheckpoint } from '../jobs/runner'
import { exportForApp } from '../interop/export-app'
import { checkExportable } from '../interop/export-torch'
import { makeDirs } from '../platform/make-dirs'
import { metricsCsv } from '../workspace/csv'
import { resolveInside } from '../workspace/paths'
import { recentWorkspaces } from './recent-workspaces'
import { expandTemplate, findTemplate, loadTemplates } from '../workspace/templates'
import type { EngineService } from './engine-service'
import type { InspectService } from './inspect-service'
import type { PreferencesService } from './preferences-service'
import { DEFAULT_PROFILE_SETTINGS, type ProfileService } from './profile-service'
import type { WorkspaceService } from './workspace-service'

/** A run or profile that would not fit in the memory of the device it would run on. */
export class MemoryError extends UserError {}

/**
 * The device a job will run on and its memory, as the engine will pick it
 * (backend-select.ts): cpu → this machine's RAM; cuda → that device; auto →
 * the CUDA device when it has every training op in this dtype, else cpu.
 * Undefined when the engine will refuse the backend anyway (webgpu, a CUDA
 * device that is not there): its own error says why.
 */
async function jobDevice(
  info: () => Promise<EngineInfo | undefined>,
  backend: TrainSpec['backend'],
  device: number,
  dtype: 'f32' | 'f64',
): Promise<{ id: string; memoryBytes: number } | undefined> {
  const cpu = { id: 'cpu', memoryBytes: totalmem() }
  if (backend === 'cpu') return cpu
  if (backend === 'webgpu') return undefined
  const known = await info()
  const id = `cuda:${device}`
  const cuda = known?.devices.find((d) => d.id === id)
  if (backend === 'cuda') return cuda ? { id, memoryBytes: cuda.memoryBytes } : undefined
  const complete = cuda && trainingOps().every((op) => known!.ops.find((o) => o.name === op)?.kernels[id]?.includes(dtype))
  return complete ? { id, memoryBytes: cuda.memoryBytes } : cpu
}

/**
 * Refuses a job whose estimated memory (engine/train-memory.ts) is over its
 * device's, with a MemoryError saying how much, of what, and what to lower;
 * `allow` (allowOverMemory) skips the check. A spec the estimate cannot
 * build is left to the engine, which names the problem.
 */
async function checkMemory(
  info: () => Promise<EngineInfo | undefined>,
  job: { what: string; estimate: () => TrainingMemory; backend: TrainSpec['backend']; device: number; dtype: 'f32' | 'f64'; lower: string },
): Promise<void> {
  let estimate: TrainingMemory
  try {
    estimate = job.estimate()
  } catch {
    return
  }
  const device = await jobDevice(info, job.backend, job.device, job.dtype)
  if (!device || !(device.memoryBytes > 0)) return
  const problem = memoryProblem(estimate, device.id, device.memoryBytes, job.what, job.lower)
  if (problem) throw new MemoryError(problem)
}

/**
 * Refuses to initialize and export a design whose weights would not fit in
 * this machine's memory: the engine holds them on the CPU and reads them back
 * to write them, and the export reads the file again (about 3 copies in f32).
 */
function checkExportMemory(spec: ModelSpec): void {
  const parameters = paramCounts(spec).all
  const bytes = 3 * Float32Array.BYTES_PER_ELEMENT * parameters
  const machine = totalmem()
  if (bytes > machine)
    throw new MemoryError(
      `exporting '${spec.name}' needs about ${formatBytes(bytes)} (${parameters} parameters in float32, about 3 copies while they are written); ` +
        `the machine has ${formatBytes(machine)}; lower d_model, vocab_size or the layer count`,
    )
}

const trainDtype = (t: TrainSpec): 'f32' | 'f64' => (t.precision === 'f64' ? 'f64' : 'f32')

export interface LabDeps {
  engine: EngineService
  workspaces: WorkspaceService
  profiles: ProfileService
  inspections: InspectService
  preferences: PreferencesService
}

export function createLabHandlers(deps: LabDeps): LabApiHandlers {
  const { engine, workspaces, profiles, inspections, preferences } = deps
  const ws = () => workspaces.workspace
  const runner = () => workspaces.runner
  /**
   * Where a fine-tune starts: a run of this workspace with the same ModelSpec,
   * and its checkpoint (the named one, else its latest), checked to exist.
   */
  const fineTuneStart = (runId: string, checkpoint: string | undefined, modelSpec: ModelSpec): RunStart => {
    const source = ws().readRun(runId)
    if (JSON.stringify(source.modelSpec) !== JSON.stringify(modelSpec))
      throw new RunError(`a run starting from run ${runId} must have its ModelSpec (the weights must fit it); the spec given differs`)
    const named = checkpoint ?? source.checkpoint
    if (!named) throw new RunError(`run ${runId} has no checkpoint to start from yet`)
    const start = { run: source.id, checkpoint: named }
    startCheckpoint(ws(), { ...source, id: 'the new run', startFrom: start })
    return start
  }
  /** The engine's devices, asked once per call that needs them; undefined when the engine cannot say (then cpu is assumed for auto). */
  const engineDevices = () => {
    let asked: Promise<EngineInfo | undefined> | undefined
    return () => (asked ??= engine.call('info', {}).catch(() => undefined))
  }
  const checkRunMemory = (info: () => Promise<EngineInfo | undefined>, what: string, model: ModelSpec, train: TrainSpec) =>
    checkMemory(info, {
      what,
      estimate: () => estimateTrainingMemory(model, trainingShape(train)),
      backend: train.backend,
      device: train.device,
      dtype: trainDtype(train),
      lower: 'batch_size, seq_len, d_model or the layer count',
    })
  return {
    engineInfo: () => engine.call('info', {}),
    validateModelSpec: async ({ spec }) => validateWith(ModelSpecSchema, spec),
    validateTrainSpec: async ({ spec }) => validateWith(TrainSpecSchema, spec),
    demoForward: (params) => engine.call('demoForward', params),
    listPresets: async () => presets(),
    estimateModel: async ({ spec, contextLength }) => {
      const r = validateWith(ModelSpecSchema, spec)
      if (!r.ok) throw new SpecValidationError('model spec', r.errors)
      return engine.call('estimate', { spec: r.value, contextLength })
    },
    workspaceInfo: async () => workspaces.info(),
    openWorkspace: async ({ path }) => workspaces.open(path),
    recentWorkspaces: async () => recentWorkspaces(),
    listModelSpecs: async () => ws().listSpecs(),
    saveModelSpec: async ({ name, spec }) => ws().saveSpec(name, spec),
    loadModelSpec: async ({ name }) => ws().loadSpec(name),
    saveComposerDraft: async (draft) => ws().saveComposerDraft(draft),
    loadComposerDraft: async () => ws().loadComposerDraft(),
    listTemplates: async () => loadTemplates(),
    startTemplate: async ({ id, inputs, overrides, allowOverMemory }) => {
      const template = findTemplate(id)
      const expanded = expandTemplate(template, inputs, withPreferredBackend(template, overrides ?? {}, preferences.read().preferences))
      // Every run is checked before any is created: a sweep starts whole or not at all.
      if (!allowOverMemory) {
        const info = engineDevices()
        for (const r of expanded) await checkRunMemory(info, `run '${r.name}' of template '${id}'`, r.modelSpec, r.trainSpec)
      }
      const runs = expanded.map((r) =>
        ws().createRun({
          name: r.name,
          modelSpec: r.modelSpec,
          params: paramCounts(r.modelSpec).all,
          trainSpec: r.trainSpec,
          template: { id, values: r.values },
        }),
      )
      for (const r of runs) runner().enqueue(r.id)
      return runs.map((r) => ws().readRun(r.id))
    },
    startRun: async ({ name, modelSpec, trainSpec, specName, allowOverMemory, startFrom }) => {
      const model = validateWith(ModelSpecSchema, modelSpec)
      if (!model.ok) throw new SpecValidationError('model spec', model.errors)
      const train = validateWith(TrainSpecSchema, trainSpec)
      if (!train.ok) throw new SpecValidationError('train spec', train.errors)
      // The spec a run names must be this workspace's: a form still holding another workspace's spec is refused by name.
      if (specName !== undefined) ws().loadSpec(specName)
      if (!allowOverMemory) await checkRunMemory(engineDevices(), 'this run', model.value, train.value)
      const start = startFrom ? fineTuneStart(startFrom.runId, startFrom.checkpoint, model.value) : undefined
      const run = ws().createRun({
        name,
        modelSpec: model.value,
        params: paramCounts(model.value).all,
        trainSpec: train.value,
        specName,
        ...(start ? { startFrom: start } : {}),
      })
      runner().enqueue(run.id)
      return ws().readRun(run.id)
    },
    listRuns: async () => {
      const { runs, problems } = ws().listRuns()
      return { runs, problems, runningId: runner().runningId ?? null, queuedIds: runner().queuedIds() }
    },
    runMetrics: async ({ id }) => ws().readMetrics(id),
    cancelRun: async ({ id, force }) => runner().cancel(id, { force }),
    resumeRun: async ({ id }) => runner().resume(id),
    exportRunCsv: async ({ id }) => {
      const run = ws().readRun(id)
      return { filename: `${run.id}.csv`, csv: metricsCsv(ws().readMetrics(id).lines) }
    },
    exportRun: async ({ id }) => {
      const run = ws().readRun(id)
      if (!run.checkpoint) throw new RunError(`run ${id} has no checkpoint yet; train it (or let it reach a checkpoint) first`)
      const source = resolveInside(ws().runDir(id), run.checkpoint)
      return exportForApp(source, ws().exportDir(id, run.steps ?? 0))
    },
    exportDesign: async ({ spec, seed = 0 }) => {
      const model = validateWith(ModelSpecSchema, spec)
      if (!model.ok) throw new SpecValidationError('model spec (export refused)', model.errors)
      checkExportable(model.value)
      checkExportMemory(model.value)
      // The folder is made at once, so a second export in the same second takes the next name.
      const dir = ws().designExportDir(model.value.name)
      makeDirs(dir)
      // The initial weights go through a step-0 checkpoint beside the new folder, removed once exported.
      const initial = resolveInside(ws().root, 'exports', `.${basename(dir)}.initial.safetensors`)
      try {
        await engine.call('initWeights', { modelSpec: model.value, trainSpec: { ...defaultTrainSpec(), seed }, path: initial })
        return { ...exportForApp(initial, dir, { design: { seed } }), seed }
      } catch (err) {
        rmSync(dir, { recursive: true, force: true })
        throw err
      } finally {
        rmSync(initial, { force: true })
      }
    },
    archiveRun: async ({ id, archived }) => workspaces.archiveRun(id, archived),
    tagRun: async ({ id, add, remove }) => workspaces.tagRun(id, add ?? [], remove ?? []),
    deleteRun: async ({ id }) => {
      const jobs = inspections.jobsOf(id)
      if (jobs.length)
        throw new RunError(
          `run ${id} has ${jobs.length} inspection${jobs.length > 1 ? 's' : ''} ${jobs.map((j) => `'${j.name}' (${j.status})`).join(', ')} reading its checkpoints; cancel ${jobs.length > 1 ? 'them' : 'it'} first, then delete the run`,
        )
      return workspaces.deleteRun(id)
    },
    startProfile: async ({ spec, name, settings, allowOverMemory }) => {
      const r = validateWith(ModelSpecSchema, spec)
      if (!r.ok) throw new SpecValidationError('model spec (profiling refused)', r.errors)
      if (!allowOverMemory) {
        // The profiler times training steps at batchSize × seqLen on the auto backend, device 0 (every
        // position labelled); its length sweep stops itself at sweepMemoryLimitBytes.
        const batchSize = settings?.batchSize ?? DEFAULT_PROFILE_SETTINGS.batchSize
        const seqLen = settings?.seqLen ?? DEFAULT_PROFILE_SETTINGS.seqLen
        const dtype = settings?.dtype ?? DEFAULT_PROFILE_SETTINGS.dtype
        await checkMemory(engineDevices(), {
          what: 'this profile',
          estimate: () => estimateTrainingMemory(r.value, { batchSize, seqLen, evalSeqLen: seqLen, labelledPerSequence: (T) => T, dtype }),
          backend: 'auto',
          device: 0,
          dtype,
          lower: 'settings.batchSize, settings.seqLen, d_model or the layer count',
        })
      }
      return profiles.start(r.value, settings ?? {}, name)
    },
    listProfiles: async () => profiles.list(),
    getProfile: async ({ id }) => profiles.result(id),
    cancelProfile: async ({ id }) => profiles.cancel(id),
    listCheckpoints: async ({ runId }) => inspections.checkpoints(runId),
    startInspect: async ({ refresh, ...request }) => inspections.start(request, refresh),
    cancelInspect: async ({ runId, name }) => inspections.cancel(runId, name),
    listInspections: async ({ runId }) => inspections.list(runId),
    getInspection: async ({ runId, name }) => inspections.get(runId, name),
    getPreferences: async () => preferences.read(),
    setPreferences: async (patch) => preferences.set(patch),
  }
}
