// The LabApi as services implement it. Both front doors (headless server,
// Electron IPC) call these same handlers after checking parameters.
import type { LabApiHandlers } from '../api/labapi'
import { ModelSpecSchema } from '../api/model-spec'
import { TrainSpecSchema } from '../api/train-spec'
import { SpecValidationError, validateWith } from '../api/validate'
import { presets } from '../engine/presets'
import type { Workspace } from '../workspace/workspace'
import type { EngineService } from './engine-service'

export function createLabHandlers(deps: { engine: EngineService; workspace: Workspace }): LabApiHandlers {
  const { engine, workspace } = deps
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
    workspaceInfo: async () => ({ path: workspace.root }),
    listModelSpecs: async () => workspace.listSpecs(),
    saveModelSpec: async ({ name, spec }) => workspace.saveSpec(name, spec),
    loadModelSpec: async ({ name }) => workspace.loadSpec(name),
  }
}
