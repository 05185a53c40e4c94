// Profiles and inspections share one pool of job slots (createLabServices),
// and both can be cancelled through the LabApi: a queued job never starts,
// a running one's engine process is stopped. Real services and engines.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { InspectJob, ProfileRecord } from '../../../electron/api/labapi'
import { resizeModel } from '../../../electron/api/resize'
import { preset } from '../../../electron/api/presets'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { dispatchLabApi } from '../../../electron/services/dispatch'
import { createLabServices } from '../../../electron/services/lab-services'
import { runWithCheckpoint } from '../../fixtures/runs'
import { until } from '../../fixtures/until'

const services = createLabServices({ launcher: forkLauncher(), workspace: mkdtempSync(join(tmpdir(), 'linea-slots-')), renderPdf: undefined, maxSideJobs: 1 })
afterAll(() => services.stop())
const call = (method: string, params: unknown) => dispatchLabApi(services.handlers, method, params)

const statuses: { kind: 'profile' | 'inspect'; key: string; status: string; failure?: string }[] = []
services.events.subscribe((name, data) => {
  if (name === 'profile.status') {
    const p = (data as { profile: ProfileRecord }).profile
    statuses.push({ kind: 'profile', key: p.id, status: p.status, failure: p.failure })
  }
  if (name === 'inspect.status') {
    const j = (data as { job: InspectJob }).job
    statuses.push({ kind: 'inspect', key: j.name, status: j.status, failure: j.failure })
  }
})
const last = (key: string) => statuses.filter((s) => s.key === key).at(-1)

describe('profiles and inspections share the job slots', () => {
  it('an inspection waits behind a profile; cancelInspect drops it, cancelProfile stops the profile', async () => {
    const runId = await runWithCheckpoint(services.workspaces.workspace, { name: 'gla tiny', presetId: 'gla', step: 3 })
    const spec = resizeModel(preset('gla'), { d_model: 16, vocab_size: 64, heads: 2 })
    // A sweep long enough to still be running when it is cancelled.
    const profile = (await call('startProfile', {
      spec,
      settings: { batchSize: 1, seqLen: 16, warmup: 0, repeats: 1, sweepLengths: [64, 128, 256, 512, 1024, 2048, 4096], sweepBudgetSeconds: 600 },
    })) as ProfileRecord
    expect(profile.status).toBe('running')
    const job = (await call('startInspect', { runId, input: { kind: 'task', example: 0 } })) as InspectJob
    expect(job.status).toBe('queued')
    expect((await call('listProfiles', {})) as ProfileRecord[]).toEqual([expect.objectContaining({ id: profile.id, status: 'running' })])

    const dropped = (await call('cancelInspect', { runId, name: job.name })) as InspectJob
    expect(dropped).toMatchObject({ status: 'failed', failure: 'cancelled before it started' })
    expect(statuses.some((s) => s.key === job.name && s.status === 'running')).toBe(false)

    await call('cancelProfile', { id: profile.id })
    await until('the profile to end', () => last(profile.id)?.status === 'failed')
    expect(last(profile.id)!.failure).toBe('cancelled')
    // The slot is free again: the next inspection runs at once and finishes.
    const next = (await call('startInspect', { runId, input: { kind: 'task', example: 1 } })) as InspectJob
    expect(next.status).toBe('running')
    await until('the inspection to finish', () => last(next.name)?.status === 'done', 120_000)
  }, 180_000)

  it('cancelling what is neither running nor queued is a bad request naming it', async () => {
    await expect(call('cancelProfile', { id: 'no-such-profile' })).rejects.toMatchObject({
      body: { code: 'bad_request', message: expect.stringContaining("'no-such-profile'") },
    })
    await expect(call('cancelInspect', { runId: 'no-such-run', name: 'x' })).rejects.toMatchObject({ body: { code: 'bad_request' } })
  })
})
