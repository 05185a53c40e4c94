// The composer's unsaved state, kept in the workspace (drafts/composer.json)
// so edits survive a reload or a server restart. A draft may hold a spec the
// schema refuses (a half-made edit): it is restored as it was and marked by
// the composer, never trained. The file is untrusted like every workspace
// file: its shape is checked here, its size where it is read.
import { z } from 'zod'

export const COMPOSER_DRAFT_FORMAT = 'linea-composer-draft-1'
/** A draft larger than this is refused: a 500-layer spec is about 200 KB. */
export const COMPOSER_DRAFT_MAX_BYTES = 4 << 20

export interface ComposerDraft {
  /** The spec being edited, as the composer holds it (valid or not). */
  spec: Record<string, unknown>
  /** The preset it started from, for the "differs from" line. */
  presetId: string | null
  /** The saved spec it was loaded from or last saved as; '' when none. */
  savedName: string
  savedMs: number
}

export const ComposerDraftParamsSchema = z.strictObject({
  spec: z.record(z.string(), z.unknown()),
  presetId: z.string().max(100).nullable(),
  savedName: z.string().max(100),
})

export const ComposerDraftFileSchema = z.strictObject({
  format: z.literal(COMPOSER_DRAFT_FORMAT),
  spec: z.record(z.string(), z.unknown()),
  presetId: z.string().max(100).nullable(),
  savedName: z.string().max(100),
  savedMs: z.number().finite(),
})
