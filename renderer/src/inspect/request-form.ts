// The Inspect screen's form as a request: what the person typed (an input,
// capture bounds, heads and steps as comma lists) turned into the LabApi's
// startInspect parameters, and what differs between a request and the one a
// cached inspection was captured with (the cache is keyed by checkpoint and
// input only, so other settings must be compared before reusing it).
import type { InspectRequestFull } from '../../../electron/api/inspect'
import type { LabApiParams } from '../../../electron/api/labapi-schemas'
import type { SpecError } from '../../../electron/api/validate'

/** A request as startInspect takes it: every default filled in (the same shape a cached result records). */
export type InspectRequestParams = Omit<LabApiParams<'startInspect'>, 'refresh'>

export interface InspectForm {
  inputKind: 'task' | 'text'
  example: number
  text: string
  /** Attention maps are materialized up to this T (the engine's bound is INSPECT_LIMITS.maxAttentionT). */
  maxAttentionT: number
  localWindow: number
  /** MQAR examples per number of pairs in the recall grid. */
  recallExamples: number
  /** State tracking: examples per length of the accuracy-against-length curve. */
  lengthExamples: number
  /** Heads to capture, e.g. "0, 2"; blank: all (fewer heads keep large models' maps within the bound). */
  heads: string
  /** Steps t where S_t itself is kept, e.g. "15, 63, 255"; blank: 8 spread over the input. */
  stateSteps: string
}

/** MQAR recall examples per number of pairs when a request leaves them out (the engine's default). */
const DEFAULT_RECALL_EXAMPLES = 256

export const DEFAULT_FORM: InspectForm = {
  inputKind: 'task',
  example: 0,
  text: '',
  maxAttentionT: 256,
  localWindow: 16,
  recallExamples: DEFAULT_RECALL_EXAMPLES,
  lengthExamples: 128,
  heads: '',
  stateSteps: '',
}

/** "0, 2 5" → [0, 2, 5]; blank → undefined; a token that is not a whole number is named. */
export function parseIndexList(text: string, field: string): { values?: number[]; error?: SpecError } {
  const tokens = text.split(/[\s,]+/).filter(Boolean)
  if (!tokens.length) return {}
  const bad = tokens.find((t) => !/^\d+$/.test(t))
  if (bad !== undefined) return { error: { path: field, message: `'${bad}' is not a whole number; write them like 0, 2, 5 (blank: the default)` } }
  return { values: tokens.map(Number) }
}

/** The request the form describes for one run and checkpoint ('' = the run's latest). */
export function requestFor(form: InspectForm, runId: string, checkpoint: string): InspectRequestParams {
  const heads = parseIndexList(form.heads, 'heads').values
  const stateSteps = parseIndexList(form.stateSteps, 'stateSteps').values
  return {
    runId,
    ...(heads && { heads }),
    ...(stateSteps && { stateSteps }),
    ...(checkpoint && { checkpoint }),
    input: form.inputKind === 'task' ? { kind: 'task', example: form.example } : { kind: 'text', text: form.text },
    maxAttentionT: form.maxAttentionT,
    localWindow: form.localWindow,
    recall: { examples: form.recallExamples },
    lengthExamples: form.lengthExamples,
  }
}

/**
 * Capture settings where `asked` differs from the request a cached result
 * was captured with, as "maxAttentionT 256 → 64"; empty when the cached
 * result answers `asked`.
 */
export function captureDifferences(asked: InspectRequestParams, cached: InspectRequestFull): string[] {
  const show = (v: unknown) => (v === undefined ? 'default' : Array.isArray(v) ? v.join(',') : String(v))
  const fields: [string, unknown, unknown][] = [
    ['heads', asked.heads, cached.heads],
    ['stateSteps', asked.stateSteps, cached.stateSteps],
    ['maxAttentionT', asked.maxAttentionT, cached.maxAttentionT],
    ['localWindow', asked.localWindow, cached.localWindow],
    ['recall examples', asked.recall?.examples ?? DEFAULT_RECALL_EXAMPLES, cached.recall?.examples ?? DEFAULT_RECALL_EXAMPLES],
    ['lengthExamples', asked.lengthExamples, cached.lengthExamples],
  ]
  return fields.filter(([, a, c]) => show(a) !== show(c)).map(([name, a, c]) => `${name} ${show(c)} → ${show(a)}`)
}

/** The form that asks for `request` again: opening a cached inspection shows how it was captured. */
export function formFor(request: InspectRequestFull): InspectForm {
  const input = request.input
  return {
    inputKind: input.kind,
    example: input.kind === 'task' ? input.example : DEFAULT_FORM.example,
    text: input.kind === 'text' ? input.text : '',
    maxAttentionT: request.maxAttentionT,
    localWindow: request.localWindow,
    recallExamples: request.recall?.examples ?? DEFAULT_RECALL_EXAMPLES,
    lengthExamples: request.lengthExamples,
    heads: request.heads?.join(', ') ?? '',
    stateSteps: request.stateSteps?.join(', ') ?? '',
  }
}
