// Checks a ModelSpec against a TrainSpec and its task before training:
// combinations each schema accepts alone but the engine cannot run.
import { headDims, modelPosition, type ModelSpec } from '../../api/model-spec'
import { longestSequence, type TrainSpec } from '../../api/train-spec'
import { SpecValidationError, type SpecError } from '../../api/validate'
import type { TaskGenerator } from '../tasks/types'

/** Taylor features grow as 1 + dk + dk²: past this the state no longer fits a chunk. */
export const MAX_TAYLOR_DK = 32

export function checkRun(model: ModelSpec, train: TrainSpec, task: TaskGenerator): void {
  const errors: SpecError[] = []
  const add = (path: string, message: string) => errors.push({ path, message })
  if (model.vocab_size < task.vocabSize) add('model.vocab_size', `${model.vocab_size} is smaller than the ${task.kind} task needs (${task.vocabSize} tokens)`)
  const longest = longestSequence(train.task)
  if (modelPosition(model) === 'learned' && model.max_positions !== undefined && model.max_positions < longest)
    add(
      'model.max_positions',
      `${model.max_positions} is shorter than the longest sequence the task makes (${longest}); learned positions do not extrapolate: use max_positions >= ${longest}`,
    )
  model.layers.forEach((layer, i) => {
    const at = `model.layers[${i}]`
    const { dk } = headDims(model, layer)
    if (layer.kind === 'softmax') {
      if (layer.window !== null && layer.window > longest)
        add(`${at}.window`, `${layer.window} is longer than any sequence the task makes (at most ${longest}); use null for full attention`)
      if (layer.rotary && dk % 2 !== 0) add(`${at}.head_dim`, `${dk} must be even for rotary positions`)
      return
    }
    if (layer.feature_map === 'taylor2' && dk > MAX_TAYLOR_DK)
      add(`${at}.dk`, `${dk} with feature_map 'taylor2' gives ${1 + dk + dk * dk} features per head; valid: dk <= ${MAX_TAYLOR_DK}`)
    if (layer.feature_map === 'hedgehog') add(`${at}.feature_map`, `'hedgehog' (learned feature map) is not built yet`)
  })
  if (errors.length) throw new SpecValidationError('model and train spec together', errors)
}
