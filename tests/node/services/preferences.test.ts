// Preferences: checked when set and when read; a bad value names itself and
// what is valid, and falls back to its default.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { LabApiHandlers } from '../../../electron/api/labapi'
import type { RunRecord } from '../../../electron/api/runs'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { EngineService } from '../../../electron/services/engine-service'
import { createLabHandlers } from '../../../electron/services/lab-service'
import { labDeps } from '../../fixtures/lab'
import { dispatchLabApi } from '../../../electron/services/dispatch'
import { LabEventBus } from '../../../electron/services/events'
import { DEFAULT_PREFERENCES, PreferenceError, readPreferences, withPreference, writePreferences } from '../../../electron/services/preferences'
import { PreferencesService } from '../../../electron/services/preferences-service'

const file = () => join(mkdtempSync(join(tmpdir(), 'linea-prefs-')), 'preferences.json')

describe('preferences', () => {
  it('default to auto on device 0 when there is no file', () => {
    expect(readPreferences(file())).toEqual({ preferences: { defaultBackend: 'auto', device: 0, defaultPrecision: 'auto' }, problems: [] })
  })

  it('round-trip through the file with its format', () => {
    const path = file()
    const prefs = withPreference(withPreference(DEFAULT_PREFERENCES, 'defaultBackend', 'cuda'), 'device', 1)
    writePreferences(path, prefs)
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ format: 'linea.preferences/1', defaultBackend: 'cuda', device: 1, defaultPrecision: 'auto' })
    expect(readPreferences(path)).toEqual({ preferences: { defaultBackend: 'cuda', device: 1, defaultPrecision: 'auto' }, problems: [] })
  })

  it('refuse a bad value when set, naming it and what is valid', () => {
    expect(() => withPreference(DEFAULT_PREFERENCES, 'defaultBackend', 'gpu')).toThrow(
      new PreferenceError('defaultBackend "gpu" is not a backend; valid: auto, cpu, cuda, webgpu'),
    )
    expect(() => withPreference(DEFAULT_PREFERENCES, 'device', 1.5)).toThrow('device 1.5 is not a device index; valid: an integer from 0 to 64')
    expect(() => withPreference(DEFAULT_PREFERENCES, 'device', -1)).toThrow('device -1 is not a device index')
  })

  it('report a bad file field by field and keep the good ones', () => {
    const path = file()
    writeFileSync(path, JSON.stringify({ format: 'linea.preferences/1', defaultBackend: 'metal', device: 2 }))
    expect(readPreferences(path)).toEqual({
      preferences: { defaultBackend: 'auto', device: 2, defaultPrecision: 'auto' },
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

describe('getPreferences / setPreferences (the LabApi, as both front doors serve it)', () => {
  async function lab() {
    const events = new LabEventBus()
    const seen: unknown[] = []
    events.subscribe((event, data) => {
      if (event === 'preferences.changed') seen.push(data)
    })
    const service = new PreferencesService(file(), events)
    const handlers = { getPreferences: async () => service.read(), setPreferences: async (p: object) => service.set(p) } as unknown as LabApiHandlers
    return { service, seen, call: (method: 'getPreferences' | 'setPreferences', params: unknown) => dispatchLabApi(handlers, method, params) }
  }

  it('answers the defaults, then what was set, written to the file and announced', async () => {
    const { service, seen, call } = await lab()
    expect(await call('getPreferences', {})).toEqual({ preferences: { defaultBackend: 'auto', device: 0, defaultPrecision: 'auto' }, problems: [] })
    expect(await call('setPreferences', { device: 3 })).toEqual({ preferences: { defaultBackend: 'auto', device: 3, defaultPrecision: 'auto' }, problems: [] })
    expect(await call('setPreferences', { defaultBackend: 'cpu' })).toEqual({
      preferences: { defaultBackend: 'cpu', device: 3, defaultPrecision: 'auto' },
      problems: [],
    })
    expect(JSON.parse(readFileSync(service.file, 'utf8'))).toEqual({
      format: 'linea.preferences/1',
      defaultBackend: 'cpu',
      device: 3,
      defaultPrecision: 'auto',
    })
    expect(seen).toEqual([
      { preferences: { defaultBackend: 'auto', device: 3, defaultPrecision: 'auto' } },
      { preferences: { defaultBackend: 'cpu', device: 3, defaultPrecision: 'auto' } },
    ])
  })

  it('refuses a bad value naming the field and what is valid, and changes nothing', async () => {
    const { service, seen, call } = await lab()
    await expect(call('setPreferences', { defaultBackend: 'metal' })).rejects.toMatchObject({
      body: { code: 'bad_request', message: expect.stringMatching(/defaultBackend.*auto.*cpu.*cuda.*webgpu/) },
    })
    await expect(call('setPreferences', { device: 65 })).rejects.toMatchObject({ body: { code: 'bad_request', message: expect.stringContaining('device') } })
    await expect(call('setPreferences', { theme: 'dark' })).rejects.toMatchObject({ body: { code: 'bad_request', message: expect.stringContaining('theme') } })
    expect(seen).toEqual([])
    expect(service.read()).toEqual({ preferences: DEFAULT_PREFERENCES, problems: [] })
  })

  it('reports a bad field of the file, and setting that field clears the problem', async () => {
    const { service, call } = await lab()
    writeFileSync(service.file, JSON.stringify({ format: 'linea.preferences/1', defaultBackend: 'metal', device: 1 }))
    const read = (await call('getPreferences', {})) as { problems: string[] }
    expect(read.problems).toHaveLength(1)
    expect(read.problems[0]).toContain('defaultBackend "metal" is not a backend')
    expect(await call('setPreferences', { defaultBackend: 'cuda' })).toEqual({
      preferences: { defaultBackend: 'cuda', device: 1, defaultPrecision: 'auto' },
      problems: [],
    })
  })
})

describe('template runs and the preferences (real services)', () => {
  it("start on the preferred backend where the template leaves it to 'auto'", async () => {
    const events = new LabEventBus()
    const engine = new EngineService(forkLauncher(), events)
    const deps = labDeps(engine, events)
    const handlers = createLabHandlers(deps)
    try {
      await dispatchLabApi(handlers, 'setPreferences', { defaultBackend: 'cpu' })
      const short = { 'train.steps': 2, 'train.schedule.warmup_steps': 1 }
      await expect(dispatchLabApi(handlers, 'startTemplate', { id: 'state-tracking', overrides: { 'train.steps': 2 } })).rejects.toMatchObject({
        body: { code: 'bad_request', message: expect.stringContaining('schedule.warmup_steps: 100 exceeds steps 2') },
      })
      const runs = (await dispatchLabApi(handlers, 'startTemplate', { id: 'state-tracking', overrides: short })) as RunRecord[]
      expect(runs.length).toBeGreaterThan(1)
      expect(runs.map((r) => r.trainSpec.backend)).toEqual(runs.map(() => 'cpu'))
      const pinned = (await dispatchLabApi(handlers, 'startTemplate', {
        id: 'state-tracking',
        overrides: { ...short, 'train.backend': 'auto' },
      })) as RunRecord[]
      expect(pinned.map((r) => r.trainSpec.backend)).toEqual(pinned.map(() => 'auto'))
    } finally {
      const runner = deps.workspaces.runner
      for (const id of [runner.runningId, ...runner.queuedIds()]) if (id) runner.cancel(id)
      await runner.idle()
      engine.stop()
      deps.workspaces.close()
    }
  }, 60_000)
})
