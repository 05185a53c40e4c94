// The Start screen's landing rule, and when its quick start is blocked (the
// sweep's runs themselves: tests/unit/engine/quick-start-template.test.ts).
import { describe, expect, it } from 'vitest'
import type { RunRecord } from '../../../electron/api/runs'
import { unavailableBackends } from '../../../renderer/src/runs/backend-availability'
import { DEFAULT_LANDING, landingPath, QUICK_START_TEMPLATE, quickStartBlocked, START_PATH } from '../../../renderer/src/start/quick-start'

const aRun = { id: 'r1', name: 'r1' } as RunRecord

describe('landingPath', () => {
  it('lands a workspace with no runs on Start', () => {
    expect(landingPath({ runs: [], problems: [] })).toBe(START_PATH)
  })
  it('lands a workspace with runs, or run files it could not read, where it did before', () => {
    expect(landingPath({ runs: [aRun], problems: [] })).toBe(DEFAULT_LANDING)
    expect(landingPath({ runs: [], problems: [{ file: 'runs/x/run.json', problem: 'not JSON' }] })).toBe(DEFAULT_LANDING)
    expect(DEFAULT_LANDING).toBe('/compose')
  })
  it('lands as before when the runs could not be listed', () => {
    expect(landingPath(null)).toBe(DEFAULT_LANDING)
  })
})

describe('quickStartBlocked', () => {
  it('is blocked, with the reason, until the templates load, without the template, or without its backend', () => {
    expect(quickStartBlocked([], false, {})).toMatch(/loading/)
    expect(quickStartBlocked(['byte-lm'], true, {})).toContain(QUICK_START_TEMPLATE)
    expect(quickStartBlocked([QUICK_START_TEMPLATE], true, { cpu: 'gone' })).toBe('cpu cannot run here: gone')
    expect(quickStartBlocked([QUICK_START_TEMPLATE], true, {})).toBeNull()
    // a machine without CUDA or WebGPU still runs it
    const noGpu = unavailableBackends({ devices: [{ backend: 'cpu' }], cudaStatus: 'not built' } as unknown as Parameters<typeof unavailableBackends>[0])
    expect(Object.keys(noGpu).sort()).toEqual(['cuda', 'webgpu'])
    expect(quickStartBlocked([QUICK_START_TEMPLATE], true, noGpu)).toBeNull()
  })
})
