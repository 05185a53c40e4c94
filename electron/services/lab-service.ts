// The LabApi as services implement it. Both front doors (headless server,
// Electron IPC) call these same handlers after checking parameters.
import type { LabApiHandlers } from '../api/labapi'
import { ModelSpecSchema } from '../api/model-spec'
import { withPreferredBackend } from '../api/preferences'
import { TrainSpecSchema } from '../api/train-spec'
import { SpecValidationError, validateWith } from '../api/validate'
import { presets } from '../engine/presets'
import { metricsCsv } from '../workspace/csv'
import { recentWorkspaces } from '../workspace/recent'
import { expandTemplate, loadTemplates } from '../workspace/templates'
import type { EngineService } from './engine-service'
import type { InspectService } from './inspect-service'
import type { PreferencesService } from './preferences-service'
import type { ProfileService } from './profile-service'
import type { WorkspaceService } from './workspace-service'

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
    listTemplates: async () => loadTemplates(),
    startTemplate: async ({ id, inputs, overrides }) => {
      const template = loadTemplates().find((t) => t.id === id)
      if (!template) throw new Error(`unknown template '${id}'; valid: ${loadTemplates().map((t) => t.id).join(', ')}`)
      const runs = expandTemplate(template, inputs, withPreferredBackend(template, overrides ?? {}, preferences.read().preferences)).map((r) =>
        ws().createRun({ name: r.name, modelSpec: r.modelSpec, trainSpec: r.trainSpec, template: { id, values: r.values } }),
      )
      for (const r of runs) runner().enqueue(r.id)
      return runs.map((r) => ws().readRun(r.id))
    },
    startRun: async ({ name, modelSpec, trainSpec, specName }) => {
      const model = validateWith(ModelSpecSchema, modelSpec)
      if (!model.ok) throw new SpecValidationError('model spec', model.errors)
      const train = validateWith(TrainSpecSchema, trainSpec)
      if (!train.ok) throw new SpecValidationError('train spec', train.errors)
      const run = ws().createRun({ name, modelSpec: model.value, trainSpec: train.value, specName })
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
    startProfile: async ({ spec, name, settings }) => {
      const r = validateWith(ModelSpecSchema, spec)
      if (!r.ok) throw new SpecValidationError('model spec (profiling refused)', r.errors)
      return profiles.start(r.value, settings ?? {}, name)
    },
    listProfiles: async () => profiles.list(),
    getProfile: async ({ id }) => profiles.result(id),
    listCheckpoints: async ({ runId }) => inspections.checkpoints(runId),
    startInspect: async ({ refresh, ...request }) => inspections.start(request, refresh),
    listInspections: async ({ runId }) => inspections.list(runId),
    getInspection: async ({ runId, name }) => inspections.get(runId, name),
    getPreferences: async () => preferences.read(),
    setPreferences: async (patch) => preferences.set(patch),
  }
}
