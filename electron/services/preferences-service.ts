// The preferences behind getPreferences / setPreferences, served the same
// way in both modes. Read from the file on every get (another Linea, or a
// person with an editor, may have changed it); a change is written
// atomically and announced with 'preferences.changed', so the desktop menu
// and an open Train form follow it.
import type { Preferences, PreferencesRead } from '../api/preferences'
import type { LabEventBus } from './events'
import { readPreferences, withPreference, writePreferences } from './preferences'

export class PreferencesService {
  constructor(
    /** preferences.json (configFiles.preferences() unless a test says otherwise). */
    readonly file: string,
    private readonly events: LabEventBus,
  ) {}

  read(): PreferencesRead {
    return readPreferences(this.file)
  }

  /**
   * Applies the given fields (each checked: a bad one throws PreferenceError
   * naming it) and writes the whole file, so a field the file had wrong is
   * written with the default that was in force. Answers the file as read back.
   */
  set(patch: Partial<Preferences>): PreferencesRead {
    let next = this.read().preferences
    for (const key of Object.keys(patch) as (keyof Preferences)[]) {
      if (patch[key] !== undefined) next = withPreference(next, key, patch[key])
    }
    writePreferences(this.file, next)
    this.events.emit('preferences.changed', { preferences: next })
    return this.read()
  }
}
