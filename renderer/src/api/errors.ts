import type { LabApiErrorBody } from '../../../electron/api/labapi'
import type { SpecError } from '../../../electron/api/validate'

/** A LabApi call that failed, with the server's code and field errors. */
export class LabApiClientError extends Error {
  readonly code: LabApiErrorBody['code'] | 'disconnected'
  readonly errors: SpecError[]

  constructor(body: LabApiErrorBody | { code: 'disconnected'; message: string; errors?: SpecError[] }) {
    super(body.message)
    this.name = 'LabApiClientError'
    this.code = body.code
    this.errors = body.errors ?? []
  }
}
