// One inspection of a checkpoint: the model restored from it, one input (an
// example of the run's task or typed text) captured layer by layer, and the
// task-level analyses (MQAR recall grid, accuracy against length).
import { INSPECT_FORMAT, INSPECT_LIMITS, type InspectInput, type InspectRequestFull, type InspectResult } from '../../api/inspect'
import { modelPosition } from '../../api/model-spec'
import type { Backend } from '../backend'
import { readCheckpoint, restoreCheckpoint } from '../checkpoint/checkpoint'
import { Model } from '../model/model'
import { createTask } from '../tasks'
import { TaskError } from '../tasks/types'
import { captureSequence, InspectLimitError } from './capture'
import { defaultLengths, lengthCurve, STATE_TRACKING_KINDS } from './length-curve'
import { defaultPairsGrid, recallAnalysis } from './recall'

export interface InspectCheckpointParams {
  checkpointPath: string
  /** As the run folder names it, e.g. checkpoints/step-0000150.safetensors. */
  checkpoint: string
  runId: string
  runName: string
  name: string
  request: InspectRequestFull
}

type Progress = (message: string, fraction: number) => void

/** Tokens and labels of the request's input, for this checkpoint's task and vocabulary. */
function inputOf(
  state: ReturnType<typeof readCheckpoint>,
  request: InspectRequestFull,
): { tokens: Int32Array; labels: Int32Array; input: Omit<InspectInput, 'predicted'> } {
  const { modelSpec, trainSpec } = state
  if (request.input.kind === 'text') {
    if (modelSpec.vocab_size < 256)
      throw new InspectLimitError(
        `input.text: text is read as bytes (256 tokens); this model's vocabulary is ${modelSpec.vocab_size}. Use an example of its task instead`,
      )
    const tokens = Int32Array.from(new TextEncoder().encode(request.input.text))
    if (tokens.length > INSPECT_LIMITS.maxT)
      throw new InspectLimitError(`input.text: ${tokens.length} bytes; the inspector captures at most ${INSPECT_LIMITS.maxT}`)
    // next-byte targets
    const labels = Int32Array.from(tokens, (_, t) => (t + 1 < tokens.length ? tokens[t + 1]! : -1))
    return { tokens, labels, input: { tokens: [...tokens], labels: [...labels], text: request.input.text } }
  }
  const example = request.input.example
  const set = createTask(trainSpec.task, trainSpec.seed).evalSets(example + 1, 1)[0]!
  const batch = set.batches[0]!
  const T = batch.seqLen
  const tokens = batch.inputs.slice(example * T, (example + 1) * T)
  const labels = batch.labels.slice(example * T, (example + 1) * T)
  const input: Omit<InspectInput, 'predicted'> = { tokens: [...tokens], labels: [...labels] }
  const pairIndex = batch.tags.pair_index?.subarray(example * T, (example + 1) * T)
  if (pairIndex) {
    input.pairs = []
    pairIndex.forEach((i, query) => {
      if (i >= 0) input.pairs!.push({ key: 2 * i, value: 2 * i + 1, query })
    })
    input.pairs.sort((a, b) => a.key - b.key)
  }
  return { tokens, labels, input }
}

export async function inspectCheckpoint(p: InspectCheckpointParams, backend: Backend, progress: Progress = () => {}): Promise<InspectResult> {
  const started = performance.now()
  const request = p.request
  progress('loading the checkpoint', 0.02)
  const state = readCheckpoint(p.checkpointPath)
  const model = new Model(state.modelSpec, backend, state.dtype, 0)
  try {
    restoreCheckpoint(p.checkpointPath, state, model)
    const task = state.trainSpec.task
    const { tokens, labels, input } = inputOf(state, request)
    progress(`capturing ${model.spec.layers.length} layers over ${tokens.length} tokens`, 0.1)
    const capture = await captureSequence(model, backend, state.dtype, tokens, labels, {
      heads: request.heads,
      stateSteps: request.stateSteps,
      maxAttentionT: request.maxAttentionT,
      localWindow: request.localWindow,
    })
    const result: InspectResult = {
      format: INSPECT_FORMAT,
      name: p.name,
      createdMs: Date.now(),
      runId: p.runId,
      runName: p.runName,
      checkpoint: p.checkpoint,
      step: state.step,
      modelSpec: state.modelSpec,
      task,
      request,
      backend: backend.id,
      input: { ...input, predicted: [...capture.predicted] },
      layers: capture.layers,
      ...(capture.attentionSkipped && { attentionSkipped: capture.attentionSkipped }),
      seconds: 0,
    }
    if (task.kind === 'mqar') {
      const grid = request.recall?.numKvPairs ?? defaultPairsGrid(task)
      const examples = request.recall?.examples ?? 256
      progress(`recall over ${grid.length} numbers of pairs × ${examples} examples`, 0.4)
      result.recall = await recallAnalysis(model, backend, state.dtype, task, state.trainSpec.seed, grid, examples, (f) => progress('recall', 0.4 + 0.3 * f))
    }
    if (request.lengths || STATE_TRACKING_KINDS.includes(task.kind)) {
      if (task.kind === 'bytes' && request.lengths)
        throw new TaskError('lengths: the accuracy-by-length curve is for synthetic tasks; a byte-level model reports bits per byte')
      // Learned positions do not extrapolate: the default curve stops at the table, an asked-for longer length is refused by the model.
      const longest =
        modelPosition(state.modelSpec) === 'learned' ? Math.min(INSPECT_LIMITS.maxT, state.modelSpec.max_positions ?? INSPECT_LIMITS.maxT) : INSPECT_LIMITS.maxT
      const lengths = request.lengths ?? defaultLengths(task, longest)
      progress(`accuracy at ${lengths.length} lengths`, 0.7)
      result.lengths = await lengthCurve(model, backend, state.dtype, task, state.trainSpec.seed, lengths, request.lengthExamples, (f) =>
        progress('lengths', 0.7 + 0.28 * f),
      )
    }
    result.seconds = (performance.now() - started) / 1000
    progress('done', 1)
    return result
  } finally {
    model.dispose()
  }
}
