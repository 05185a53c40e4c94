// Checks a call's method name and parameters against the LabApi schemas,
// then runs its handler. The one entry both front doors use, and the one
// place an error becomes an answer: the caller's mistakes (a UserError, a
// schema failure, an engine's UserError) are 'bad_request', everything else
// 'internal' or 'engine_error'. `answerLabApi` never throws, so a front door
// that awaits it cannot let an exception reach the event loop.
import { clip, isUserError } from '../api/errors'
import { isLabApiMethod, type LabApiErrorBody, type LabApiHandlers } from '../api/labapi'
import { LAB_API_METHODS } from '../api/labapi-schemas'
import { untrustedProblem } from '../api/untrusted'
import { specErrors, formatErrors, SpecValidationError } from '../api/validate'

export class LabApiError extends Error {
  constructor(readonly body: LabApiErrorBody) {
    super(body.message)
    this.name = 'LabApiError'
  }
}

/** Messages are clipped: a handler's error can quote what the caller sent. */
const MAX_MESSAGE = 2000

/** The answer's error body for anything a handler or the transport threw. */
export function errorBody(err: unknown): LabApiErrorBody {
  if (err instanceof LabApiError) return { ...err.body, message: clip(err.body.message, MAX_MESSAGE) }
  if (err instanceof SpecValidationError) return { code: 'bad_request', message: clip(err.message, MAX_MESSAGE), errors: err.errors }
  const message = clip(err instanceof Error ? err.message : String(err), MAX_MESSAGE)
  if (isUserError(err)) return { code: 'bad_request', message }
  const engine = err instanceof Error && (err.name === 'EngineCallError' || err.name === 'EngineExitedError')
  return { code: engine ? 'engine_error' : 'internal', message }
}

export async function dispatchLabApi(handlers: LabApiHandlers, method: unknown, params: unknown): Promise<unknown> {
  if (typeof method !== 'string' || !isLabApiMethod(method))
    throw new LabApiError({ code: 'unknown_method', message: `unknown LabApi method ${typeof method === 'string' ? `'${clip(method, 80)}'` : String(method)}` })
  const problem = untrustedProblem(params ?? {})
  if (problem) throw new LabApiError({ code: 'bad_request', message: `${method}: ${problem}` })
  const parsed = LAB_API_METHODS[method].safeParse(params ?? {})
  if (!parsed.success) {
    const errors = specErrors(parsed.error.issues, params)
    throw new LabApiError({ code: 'bad_request', message: `${method}: ${formatErrors(errors)}`, errors })
  }
  try {
    return await (handlers[method] as (p: unknown) => Promise<unknown>)(parsed.data)
  } catch (err) {
    throw new LabApiError(errorBody(err))
  }
}

export type LabApiAnswer = { ok: true; result: unknown } | { ok: false; error: LabApiErrorBody }

/** Runs a call and answers it; never throws, whatever the call or its handler does. */
export async function answerLabApi(handlers: LabApiHandlers, method: unknown, params: unknown): Promise<LabApiAnswer> {
  try {
    return { ok: true, result: await dispatchLabApi(handlers, method, params) }
  } catch (err) {
    return { ok: false, error: errorBody(err) }
  }
}
