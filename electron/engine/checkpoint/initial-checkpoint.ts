// The weights a run starts from, without the run: the model of a ModelSpec
// built on a backend with the TrainSpec's seed (the trainer's own
// initialization: same Model, same Rng, same order), written as a step-0
// checkpoint with no optimizer moments. The composer's Export… writes a
// fresh design from it (services/lab-service.ts exportDesign).
import type { ModelSpec } from '../../api/model-spec'
import type { TrainSpec } from '../../api/train-spec'
import type { Backend } from '../backend'
import { Model } from '../model/model'
import type { FloatDType } from '../tensor'
import { saveCheckpoint } from './checkpoint'

/** Writes the initial weights of `modelSpec` (seed trainSpec.seed, in `dtype`) to `path`; returns how many values. */
export async function writeInitialCheckpoint(
  modelSpec: ModelSpec,
  trainSpec: TrainSpec,
  backend: Backend,
  dtype: FloatDType,
  path: string,
): Promise<{ parameters: number }> {
  const model = new Model(modelSpec, backend, dtype, trainSpec.seed)
  try {
    await saveCheckpoint(path, model, undefined, trainSpec, 0, { 'linea.init': `seed ${trainSpec.seed}` })
    return { parameters: model.params.list().reduce((n, p) => n + p.tensor.size, 0) }
  } finally {
    model.dispose()
  }
}
