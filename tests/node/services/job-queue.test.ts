// Profiles and inspections beside training (issue 12): each is an engine
// process, so at most `maxConcurrent` run at once; the rest are 'queued'
// (answered and announced so), start in the order they came as slots free,
// and can be cancelled or dropped by stop() before they start. Real engine
// processes and cheap jobs; the test waits on events, never on a clock.
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { InspectJob, ProfileRecord } from '../../../electron/api/labapi'
import { resizeModel } from '../../../electron/api/resize'
import { preset } from '../../../electron/api/presets'
import { forkLauncher } from '../../../electron/jobs/engine-process'
import { LabEventBus } from '../../../electron/services/events'
import { InspectService } from '../../../electron/services/inspect-service'
import { ProfileService } from '../../../electron/services/profile-service'
import { WorkspaceService } from '../../../electron/services/workspace-service'
import { runWithCheckpoint } from '../../fixtures/runs'
import { until } from '../../fixtures/until'

const events = new LabEventBus()
const workspaces = new WorkspaceService(mkdtempSync(join(tmpdir(), 'linea-queue-')), forkLauncher(), events)
const stops: (() => void)[] = []
afterAll(() => {
  for (const s of stops) s()
  workspaces.close()
})

/** Every status event of one kind of job, in order, with how many were running at that moment. */
function recorder<T extends { status: string }>(event: 'inspect.status' | 'profile.status', keyOf: (job: T) => string) {
  const seen: { key: string; status: string; failure?: string }[] = []
  const running = new Set<string>()
  let maxRunning = 0
  const off = events.subscribe((name, data) => {
    if (name !== event) return
    const job = (name === 'inspect.status' ? (data as unknown as { job: T }).job : (data as unknown as { profile: T }).profile) as T & { failure?: string }
    const key = keyOf(job)
    seen.push({ key, status: job.status, failure: job.failure })
    if (job.status === 'running') running.add(key)
    else running.delete(key)
    maxRunning = Math.max(maxRunning, running.size)
  })
  stops.push(off)
  return {
    seen,
    get maxRunning() {
      return maxRunning
    },
    /** Keys in the order they started running. */
    started: () => seen.filter((s) => s.status === 'running').map((s) => s.key),
    ended: (key: string) => seen.some((s) => s.key === key && (s.status === 'done' || s.status === 'failed')),
    last: (key: string) => seen.filter((s) => s.key === key).at(-1),
  }
}

describe('inspections wait for a slot', () => {
  it('runs at most two at once, queues the rest, and starts them in order', async () => {
    const runId = await runWithCheckpoint(workspaces.workspace)
    const service = new InspectService(workspaces, forkLauncher(), events, { maxConcurrent: 2 })
    stops.push(() => service.stop())
    const rec = recorder<InspectJob>('inspect.status', (j) => j.name)
    const jobs = [0, 1, 2, 3].map((example) => service.start({ runId, input: { kind: 'task', example }, recall: { examples: 8 } }))
    const names = jobs.map((j) => j.name)
    expect(jobs.map((j) => j.status)).toEqual(['running', 'running', 'queued', 'queued'])
    expect(service.queuedKeys()).toEqual([`${runId}/${names[2]}`, `${runId}/${names[3]}`])
    // asking again for a queued one answers its queued job, not a second one
    expect(service.start({ runId, input: { kind: 'task', example: 3 }, recall: { examples: 8 } }).status).toBe('queued')
    expect(rec.seen.filter((s) => s.status === 'queued').map((s) => s.key)).toEqual([names[2], names[3]])
    await until('all four inspections to finish', () => names.every((n) => rec.ended(n)))
    expect(names.map((n) => rec.last(n)!.status)).toEqual(['done', 'done', 'done', 'done'])
    expect(rec.maxRunning).toBe(2)
    expect(rec.started()).toEqual(names) // in the order they came
    // a queued one started only after one of the first two ended
    const firstEnd = rec.seen.findIndex((s) => s.status === 'done')
    expect(rec.seen.findIndex((s) => s.key === names[2] && s.status === 'running')).toBeGreaterThan(firstEnd)
    expect(
      service
        .list(runId)
        .map((s) => s.name)
        .sort(),
    ).toEqual([...names].sort())
  })

  it('a cancelled queued inspection never starts; stop() drops the queue', async () => {
    const runId = await runWithCheckpoint(workspaces.workspace)
    const service = new InspectService(workspaces, forkLauncher(), events, { maxConcurrent: 1 })
    stops.push(() => service.stop())
    const rec = recorder<InspectJob>('inspect.status', (j) => j.name)
    const [a, b, c] = [10, 11, 12].map((example) => service.start({ runId, input: { kind: 'task', example }, recall: { examples: 8 } }))
    expect([a!.status, b!.status, c!.status]).toEqual(['running', 'queued', 'queued'])
    expect(service.cancel(runId, b!.name)).toMatchObject({ status: 'failed', failure: 'cancelled before it started' })
    await until('the first and third to finish', () => rec.ended(a!.name) && rec.ended(c!.name))
    expect(rec.started()).toEqual([a!.name, c!.name])
    expect(rec.last(b!.name)).toMatchObject({ status: 'failed', failure: 'cancelled before it started' })
    expect(() => service.cancel(runId, b!.name)).toThrow(/is running or queued/)
    // stop(): the running one is stopped, the queued one ends without starting
    const [d, e] = [13, 14].map((example) => service.start({ runId, input: { kind: 'task', example }, recall: { examples: 8 } }))
    expect([d!.status, e!.status]).toEqual(['running', 'queued'])
    service.stop()
    expect(rec.last(e!.name)).toMatchObject({ status: 'failed', failure: 'stopped before it started' })
    await until('the stopped inspection to end', () => rec.ended(d!.name))
    expect(rec.started()).not.toContain(e!.name)
  })
})

describe('profiles wait for a slot', () => {
  it('queues past the limit, says so on disk and in events, starts in order, and cancels a queued one', async () => {
    const service = new ProfileService(workspaces, forkLauncher(), events, undefined, { maxConcurrent: 1 })
    stops.push(() => service.stop())
    const rec = recorder<ProfileRecord>('profile.status', (p) => p.id)
    const spec = resizeModel(preset('gla'), { d_model: 16, vocab_size: 32, heads: 2, n_layers: 1 })
    const quick = { batchSize: 1, seqLen: 16, warmup: 0, repeats: 1, sweepLengths: [16], sweepBudgetSeconds: 5 }
    const [a, b, c] = ['a', 'b', 'c'].map((name) => service.start(spec, quick, `queue ${name}`))
    expect([a!.status, b!.status, c!.status]).toEqual(['running', 'queued', 'queued'])
    expect(service.queuedIds()).toEqual([b!.id, c!.id])
    const onDisk = JSON.parse(readFileSync(join(workspaces.workspace.root, 'profiles', b!.id, 'profile-run.json'), 'utf8'))
    expect(onDisk.status).toBe('queued')
    expect(service.list().find((p) => p.id === b!.id)!.status).toBe('queued')
    expect(service.cancel(c!.id)).toMatchObject({ status: 'failed', failure: 'cancelled before it started' })
    await until('the first two profiles to finish', () => rec.ended(a!.id) && rec.ended(b!.id), 120_000)
    expect(rec.last(a!.id)).toMatchObject({ status: 'done' })
    expect(rec.last(b!.id)).toMatchObject({ status: 'done' })
    expect(rec.maxRunning).toBe(1)
    expect(rec.started()).toEqual([a!.id, b!.id])
    expect(service.list().find((p) => p.id === c!.id)).toMatchObject({ status: 'failed', failure: 'cancelled before it started' })
  }, 180_000)
})
