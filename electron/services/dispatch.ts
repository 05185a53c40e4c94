// Checks a call's method name and parameters against the LabApi schemas,
// then runs its handler. The one entry both front doors use.
import { isLabApiMethod, type LabApiErrorBody, type LabApiHandlers } from '../api/labapi'
import { LAB_API_METHODS } from '../api/labapi-schemas'
import { specErrors, formatErrors, SpecValidationError } from '../api/validate'

/** Errors about what the caller asked for (a workspace, a preference, a template's inputs): 'bad_request', not 'internal'. */
const USER_INPUT_ERRORS = ['WorkspaceError', 'PreferenceError', 'TemplateError']

export class LabApiError extends Error {
  constructor(readonly body: LabApiErrorBody) {
    super(body.message)
    this.name = 'LabApiError'
  }
}

export async function dispatchLabApi(handlers: LabApiHandlers, method: string, params: unknown): Promise<unknown> {
  if (!isLabApiMethod(method))
    throw new LabApiError({ code: 'unknown_method', message: `unknown LabApi method '${method}'` })
  const parsed = LAB_API_METHODS[method].safeParse(params ?? {})
  if (!parsed.success) {
    const errors = specErrors(parsed.error.issues, params)
    throw new LabApiError({ code: 'bad_request', message: `${method}: ${formatErrors(errors)}`, errors })
  }
  try {
    return await (handlers[method] as (p: unknown) => Promise<unknown>)(parsed.data)
  } catch (err) {
    if (err instanceof LabApiError) throw err
    if (err instanceof SpecValidationError)
      throw new LabApiError({ code: 'bad_request', message: err.message, errors: err.errors })
    const message = err instanceof Error ? err.message : String(err)
    if (err instanceof Error && USER_INPUT_ERRORS.includes(err.name)) throw new LabApiError({ code: 'bad_request', message })
    const engine = err instanceof Error && (err.name === 'EngineCallError' || err.name === 'EngineExitedError')
    throw new LabApiError({ code: engine ? 'engine_error' : 'internal', message })
  }
}
