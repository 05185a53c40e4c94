// Preferences: checked when set and when read; a bad value names itself and
// what is valid, and falls back to its default.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_PREFERENCES, PreferenceError, readPreferences, withPreference, writePreferences } from '../../../electron/shell/preferences'

const file = () => join(mkdtempSync(join(tmpdir(), 'linea-prefs-')), 'preferences.json')

describe('preferences', () => {
  it('default to auto on device 0 when there is no file', () => {
    expect(readPreferences(file())).toEqual({ preferences: { defaultBackend: 'auto', device: 0 }, problems: [] })
  })

  it('round-trip through the file with its format', () => {
    const path = file()
    const prefs = withPreference(withPreference(DEFAULT_PREFERENCES, 'defaultBackend', 'cuda'), 'device', 1)
    writePreferences(path, prefs)
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ format: 'linea.preferences/1', defaultBackend: 'cuda', device: 1 })
    expect(readPreferences(path)).toEqual({ preferences: { defaultBackend: 'cuda', device: 1 }, problems: [] })
  })

  it('refuse a bad value when set, naming it and what is valid', () => {
    expect(() => withPreference(DEFAULT_PREFERENCES, 'defaultBackend', 'gpu')).toThrow(new PreferenceError('defaultBackend "gpu" is not a backend; valid: auto, cpu, cuda, webgpu'))
    expect(() => withPreference(DEFAULT_PREFERENCES, 'device', 1.5)).toThrow('device 1.5 is not a device index; valid: an integer from 0 to 64')
    expect(() => withPreference(DEFAULT_PREFERENCES, 'device', -1)).toThrow('device -1 is not a device index')
  })

  it('report a bad file field by field and keep the good ones', () => {
    const path = file()
    writeFileSync(path, JSON.stringify({ format: 'linea.preferences/1', defaultBackend: 'metal', device: 2 }))
    expect(readPreferences(path)).toEqual({
      preferences: { defaultBackend: 'auto', device: 2 },
      problems: [`${path}: defaultBackend "metal" is not a backend; valid: auto, cpu, cuda, webgpu; using "auto"`],
    })
  })

  it('report a file that is not JSON, or not an object', () => {
    const path = file()
    writeFileSync(path, '{ nope')
    const r = readPreferences(path)
    expect(r.preferences).toEqual(DEFAULT_PREFERENCES)
    expect(r.problems[0]).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON: .*; using defaults$`))
    writeFileSync(path, '[1]')
    expect(readPreferences(path).problems).toEqual([`${path}: expected an object, got [1]; using defaults`])
  })
})
