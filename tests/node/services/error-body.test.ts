// One error family for the caller's mistakes, and one mapping to answers.
import { describe, expect, it } from 'vitest'
import { UserError } from '../../../electron/api/errors'
import { SpecValidationError } from '../../../electron/api/validate'
import { EngineCallError } from '../../../electron/jobs/engine-process'
import { errorBody, LabApiError } from '../../../electron/services/dispatch'
import { WorkspaceError } from '../../../electron/workspace/workspace'
import { InspectionError } from '../../../electron/workspace/inspections'
import { CheckpointError } from '../../../electron/engine/checkpoint/checkpoint'
import { TaskError } from '../../../electron/engine/tasks/types'

describe('errorBody', () => {
  it('answers every UserError as bad_request, keeping the subclass name', () => {
    for (const err of [new WorkspaceError('w'), new InspectionError('i'), new CheckpointError('/x', 'c'), new TaskError('t'), new UserError('u')]) {
      expect(errorBody(err).code).toBe('bad_request')
    }
    expect(new InspectionError('i').name).toBe('InspectionError')
    expect(errorBody(new SpecValidationError('model spec', [{ path: 'd_model', message: 'bad' }]))).toMatchObject({
      code: 'bad_request',
      errors: [{ path: 'd_model' }],
    })
  })

  it('answers an engine-side UserError as bad_request, other engine errors as engine_error, the rest internal', () => {
    expect(errorBody(new EngineCallError('task.path: missing', 'TaskError', undefined, true)).code).toBe('bad_request')
    expect(errorBody(new EngineCallError('CUDA fault', 'Error')).code).toBe('engine_error')
    expect(errorBody(new TypeError("Cannot read properties of null (reading 'format')")).code).toBe('internal')
    expect(errorBody('a string').code).toBe('internal')
  })

  it('clips long messages (a handler may quote what the caller sent)', () => {
    const body = errorBody(new UserError(`bad value ${'x'.repeat(100_000)}`))
    expect(body.message.length).toBeLessThan(2100)
    expect(body.message).toMatch(/… \(100010 characters\)$/)
    expect(errorBody(new LabApiError({ code: 'unknown_method', message: 'm' }))).toEqual({ code: 'unknown_method', message: 'm' })
  })
})
