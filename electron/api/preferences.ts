// The app's preferences, as the LabApi carries them: the default backend,
// device and precision for new runs. Stored by the services in the config folder
// (electron/services/preferences.ts); read by the Train form, set from the
// desktop app's menu or through setPreferences in either mode.
import { z } from 'zod'
import { BACKENDS, PRECISIONS, type TrainSpec } from './train-spec'

export const PREFERENCES_FORMAT = 'linea.preferences/1'
/** TrainSpec's device range. */
export const MAX_DEVICE = 64

export interface Preferences {
  defaultBackend: TrainSpec['backend']
  /** Device index on the default backend (cuda:<device>). */
  device: number
  /** auto: bf16 on a GPU, f32 on the CPU. */
  defaultPrecision: TrainSpec['precision']
}

export const DEFAULT_PREFERENCES: Readonly<Preferences> = Object.freeze({ defaultBackend: 'auto', device: 0, defaultPrecision: 'auto' })

/** setPreferences: the preferences to change; the others keep their values. */
export const PreferencesPatchSchema = z.strictObject({
  defaultBackend: z.enum(BACKENDS).optional(),
  device: z.number().int().min(0).max(MAX_DEVICE).optional(),
  defaultPrecision: z.enum(PRECISIONS).optional(),
})

/** The preferences in force, and what was wrong with the file they came from (bad fields fall back to defaults). */
export interface PreferencesRead {
  preferences: Preferences
  problems: string[]
}

/**
 * A template's overrides with the preferred backend and device added, where
 * the template leaves the backend to 'auto' and neither the overrides nor a
 * sweep axis set them, and the preferred precision where it leaves that to
 * 'auto' likewise: template runs start where the Train form's would.
 */
export function withPreferredBackend(
  template: { train: Record<string, unknown>; sweep: readonly { path: string }[] },
  overrides: Record<string, unknown>,
  preferences: Preferences,
): Record<string, unknown> {
  const pinned = (path: string) => overrides[path] !== undefined || template.sweep.some((a) => a.path === path)
  let out = overrides
  const backendOpen = (template.train.backend ?? 'auto') === 'auto' && !pinned('train.backend') && !pinned('train.device')
  if (backendOpen && (preferences.defaultBackend !== 'auto' || preferences.device !== 0))
    out = { ...out, 'train.backend': preferences.defaultBackend, 'train.device': preferences.device }
  const precisionOpen = (template.train.precision ?? 'auto') === 'auto' && !pinned('train.precision')
  if (precisionOpen && preferences.defaultPrecision !== 'auto') out = { ...out, 'train.precision': preferences.defaultPrecision }
  return out
}
