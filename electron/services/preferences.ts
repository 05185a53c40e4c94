// The preferences file: the default backend, device and precision for new runs, as
// JSON in the config folder. A bad value is reported with what is valid and
// replaced by its default, never silently kept.
import { DEFAULT_PREFERENCES, MAX_DEVICE, PREFERENCES_FORMAT, type Preferences } from '../api/preferences'
import { BACKENDS, PRECISIONS, type TrainSpec } from '../api/train-spec'
import { readJsonFile, writeJsonFile } from './config-files'
import { UserError } from '../api/errors'

export { DEFAULT_PREFERENCES, MAX_DEVICE, PREFERENCES_FORMAT, type Preferences }

export class PreferenceError extends UserError {
  constructor(message: string) {
    super(message)
    this.name = 'PreferenceError'
  }
}

function checkBackend(value: unknown): TrainSpec['backend'] {
  if (typeof value === 'string' && (BACKENDS as readonly string[]).includes(value)) return value as TrainSpec['backend']
  throw new PreferenceError(`defaultBackend ${JSON.stringify(value)} is not a backend; valid: ${BACKENDS.join(', ')}`)
}

function checkPrecision(value: unknown): TrainSpec['precision'] {
  if (typeof value === 'string' && (PRECISIONS as readonly string[]).includes(value)) return value as TrainSpec['precision']
  throw new PreferenceError(`defaultPrecision ${JSON.stringify(value)} is not a precision; valid: ${PRECISIONS.join(', ')}`)
}

function checkDevice(value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_DEVICE) return value
  throw new PreferenceError(`device ${JSON.stringify(value)} is not a device index; valid: an integer from 0 to ${MAX_DEVICE}`)
}

/** Preferences from a file's JSON; each bad or missing field falls back to its default and says why. */
export function parsePreferences(json: unknown, where: string): { preferences: Preferences; problems: string[] } {
  const problems: string[] = []
  const doc = (json ?? {}) as Record<string, unknown>
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { preferences: { ...DEFAULT_PREFERENCES }, problems: [`${where}: expected an object, got ${JSON.stringify(json)}; using defaults`] }
  if (doc.format !== PREFERENCES_FORMAT) problems.push(`${where}: format ${JSON.stringify(doc.format)}; this Linea reads '${PREFERENCES_FORMAT}'`)
  const preferences = { ...DEFAULT_PREFERENCES }
  for (const [key, check] of [
    ['defaultBackend', checkBackend],
    ['device', checkDevice],
    ['defaultPrecision', checkPrecision],
  ] as const) {
    if (doc[key] === undefined) continue
    try {
      ;(preferences as Record<string, unknown>)[key] = check(doc[key])
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}; using ${JSON.stringify(DEFAULT_PREFERENCES[key])}`)
    }
  }
  return { preferences, problems }
}

/** A preference changed, checked: a bad value throws PreferenceError naming it and what is valid. */
export function withPreference<K extends keyof Preferences>(current: Preferences, key: K, value: unknown): Preferences {
  if (key === 'defaultBackend') return { ...current, defaultBackend: checkBackend(value) }
  if (key === 'device') return { ...current, device: checkDevice(value) }
  if (key === 'defaultPrecision') return { ...current, defaultPrecision: checkPrecision(value) }
  throw new PreferenceError(`unknown preference '${String(key)}'; valid: defaultBackend, device, defaultPrecision`)
}

export function readPreferences(path: string): { preferences: Preferences; problems: string[] } {
  const file = readJsonFile(path)
  if (file.missing) return { preferences: { ...DEFAULT_PREFERENCES }, problems: [] }
  if (file.problem) return { preferences: { ...DEFAULT_PREFERENCES }, problems: [`${file.problem}; using defaults`] }
  return parsePreferences(file.json, path)
}

export function writePreferences(path: string, preferences: Preferences): void {
  writeJsonFile(path, { format: PREFERENCES_FORMAT, ...preferences })
}
