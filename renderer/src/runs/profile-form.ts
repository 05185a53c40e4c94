// The Profile form's checks, all at once: every field that is wrong is named
// with what is valid (the request's own schema, the one the server applies),
// instead of one message at a time.
import { LAB_API_METHODS } from '../../../electron/api/labapi-schemas'
import type { ProfileSettings } from '../../../electron/api/profile'
import { specErrors } from '../../../electron/api/validate'

/** The form's label of each settings field, for messages. */
const LABELS: Record<string, string> = {
  batchSize: 'batch',
  seqLen: 'T',
  labelsPerSequence: 'labels',
  sweepLengths: 'sweep lengths',
  sweepBudgetSeconds: 'budget (s)',
}

/** The lengths box as numbers ("256, 512 1024"); NaN where a part is not a number. */
export function parseLengths(text: string): number[] {
  return text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number)
}

/** Every problem of the form's settings, one line each ("T: 0 is too small; valid: >= 1"). */
export function profileSettingsProblems(settings: Partial<ProfileSettings>, lengthsText: string): string[] {
  const problems: string[] = []
  const lengths = parseLengths(lengthsText)
  if (!lengths.every((n) => Number.isInteger(n) && n > 0)) problems.push(`sweep lengths: '${lengthsText}' must be positive integers, e.g. 256, 512, 1024`)
  const r = LAB_API_METHODS.startProfile.shape.settings.safeParse(settings)
  if (!r.success)
    for (const e of specErrors(r.error.issues, settings)) {
      const [field, ...rest] = e.path.split(/[.[]/)
      if (field === 'sweepLengths' && problems.length) continue // already said, in the form's words
      problems.push(`${LABELS[field ?? ''] ?? e.path}${rest.length ? ` (${e.path})` : ''}: ${e.message}`)
    }
  return problems
}
