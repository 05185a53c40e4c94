// The caller's mistakes, as one family. Anything thrown as a UserError (a bad
// id, a missing file, an invalid spec, a workspace that cannot be opened) is
// answered 'bad_request' with its message; anything else is a bug of ours and
// is answered 'internal'. Errors raised in an engine process cross as
// `{ name, message, user: true }` and are rebuilt on this side as such.
export class UserError extends Error {
  /** Marks the family across realms and process boundaries (instanceof fails there). */
  readonly userError = true
  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}

export function isUserError(err: unknown): err is Error {
  return err instanceof Error && (err as { userError?: unknown }).userError === true
}

/** At most `max` characters of a value shown in an error (a caller can send megabytes). */
export function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`
}
