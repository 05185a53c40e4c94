import type { LabApiErrorBody } from '../../../electron/api/labapi'
import { formatErrors, type SpecError } from '../../../electron/api/validate'

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

/** What a failed call says, with its field errors when the message does not already hold them. */
export function messageOf(err: unknown): string {
  if (err instanceof LabApiClientError && err.errors.length && !err.message.includes(err.errors[0]!.message))
    return `${err.message}\n${formatErrors(err.errors)}`
  return err instanceof Error ? err.message : String(err)
}
