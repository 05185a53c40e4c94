// The LabApi as services implement it. Both front doors (headless server,
// Electron IPC) call these same handlers after checking parameters.
import type { LabApiHandlers } from '../api/labapi'
import { ModelSpecSchema } from '../api/model-spec'
import { TrainSpecSchema } from '../api/train-spec'
import { validateWith } from '../api/validate'
import type { EngineService } from './engine-service'

export function createLabHandlers(deps: { engine: EngineService }): LabApiHandlers {
  return {
    engineInfo: () => deps.engine.call('info', {}),
    validateModelSpec: async ({ spec }) => validateWith(ModelSpecSchema, spec),
    validateTrainSpec: async ({ spec }) => validateWith(TrainSpecSchema, spec),
    demoForward: (params) => deps.engine.call('demoForward', params),
  }
}
