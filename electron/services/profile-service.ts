// Profiles as jobs: each runs in its own engine process, streams progress,
// and leaves in the workspace profiles/<id>/{profile-run.json, profile.json,
// report.html, report.pdf}. The PDF renderer is the front door's: headless
// Chromium in headless mode, printToPDF in the desktop app.
// At most `maxConcurrent` (default 2) profiles run at once; the rest wait
// with status 'queued' and start in order as slots free (JobSlots).
// Every id becomes a path through checkId/resolveInside; the profiles folder
// is untrusted (files.ts): links out, FIFOs, folders and broken records are
// skipped or refused with a ProfileError (a UserError: bad_request).
import { readdirSync } from 'node:fs'
import { z } from 'zod'
import { clip, UserError } from '../api/errors'
import type { ProfileRecord } from '../api/labapi'
import { ModelSpecSchema, type ModelSpec } from '../api/model-spec'
import { PROFILE_FORMAT, type ProfileResult, type ProfileSettings } from '../api/profile'
import { activeRunsWarning } from '../api/profile-stats'
import { formatErrors, validateWith } from '../api/validate'
import { EngineProcess, type EngineLauncher } from '../jobs/engine-process'
import { buildReportHtml } from '../reports/report-html'
import { FILE_LIMITS, JSON_LIMITS, makeDir, readJsonFile, statEntry, writeFileAtomic } from '../workspace/files'
import { checkId, PathError, resolveInside } from '../workspace/paths'
import type { LabEventBus } from './events'
import { JobSlots } from './job-slots'
import type { WorkspaceService } from './workspace-service'

export type { ProfileRecord }

export type PdfRenderer = (html: string, outPath: string) => Promise<void>

export class ProfileError extends UserError {
  override name = 'ProfileError'
}

const fail = (message: string) => new ProfileError(message)

export const DEFAULT_PROFILE_SETTINGS: ProfileSettings = {
  batchSize: 4,
  seqLen: 512,
  dtype: 'f32',
  precision: 'auto',
  warmup: 1,
  repeats: 10,
  sweepLengths: [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536],
  sweepBudgetSeconds: 120,
  sweepMemoryLimitBytes: 8 * 2 ** 30,
}

const SettingsSchema = z.looseObject({
  batchSize: z.number(),
  seqLen: z.number(),
  dtype: z.enum(['f32', 'f64']),
  precision: z.enum(['auto', 'f32', 'f64', 'bf16', 'f16']).optional(),
  warmup: z.number(),
  repeats: z.number(),
  sweepLengths: z.array(z.number()),
  sweepBudgetSeconds: z.number(),
  sweepMemoryLimitBytes: z.number(),
})

/** profile-run.json as read back (ProfileRecord in api/labapi.ts); the folder's name must be its id. */
const ProfileRecordSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  status: z.enum(['queued', 'running', 'done', 'failed']),
  createdMs: z.number(),
  endedMs: z.number().optional(),
  failure: z.string().optional(),
  report: z.looseObject({ html: z.string(), pdf: z.string().optional(), pdfError: z.string().optional() }).optional(),
  /** Kept for the record; the screens read the settings from profile.json, so an old record without them still lists. */
  settings: SettingsSchema.optional(),
})

/** profile.json as read back: what the Profile screen and the report read (ProfileResult in api/profile.ts). */
const ProfileResultSchema = z.looseObject({
  format: z.literal(PROFILE_FORMAT),
  createdMs: z.number(),
  spec: ModelSpecSchema,
  settings: SettingsSchema,
  machine: z.looseObject({ cpu: z.string(), backend: z.string() }),
  ceilings: z.looseObject({ bandwidthBytesPerSecond: z.number(), flopsPerSecond: z.number() }),
  step: z.looseObject({ forwardMs: z.number(), backwardMs: z.number(), optimizerMs: z.number(), totalMs: z.number(), tokensPerSecond: z.number() }),
  ops: z.array(z.looseObject({ scope: z.string(), phase: z.string(), op: z.string(), ms: z.number() })),
  memory: z.looseObject({ peak: z.number() }),
  sweep: z.looseObject({
    model: z.looseObject({ points: z.array(z.looseObject({ seqLen: z.number() })) }),
    transformer: z.looseObject({ points: z.array(z.looseObject({ seqLen: z.number() })) }),
  }),
  parameters: z.number(),
})

/** Keys of this service's jobs in a JobSlots pool that may be shared with other services. */
const SLOT = 'profile:'

export interface ProfileServiceOptions {
  /** Most profiles running at once (each an engine process); default 2. */
  maxConcurrent?: number
  /** A pool shared with other services (inspections); overrides maxConcurrent. */
  slots?: JobSlots
}

export class ProfileService {
  private readonly running = new Map<string, { engine: EngineProcess; stopped?: string }>()
  /** Queued profiles: their record and the workspace folder they belong to. */
  private readonly queued = new Map<string, { record: ProfileRecord; root: string }>()
  private readonly slots: JobSlots

  constructor(
    private readonly workspaces: WorkspaceService,
    private readonly launcher: EngineLauncher,
    private readonly events: LabEventBus,
    private readonly renderPdf: PdfRenderer | undefined,
    options: ProfileServiceOptions = {},
  ) {
    this.slots = options.slots ?? new JobSlots(options.maxConcurrent ?? 2)
  }

  /**
   * <root>/profiles, or profiles/<id> with the id checked; kept inside the
   * workspace for real (resolveInside). `root` is the open workspace's unless
   * a job started in another one.
   */
  private dir(id?: string, root = this.workspaces.workspace.root): string {
    const parts = id === undefined ? ['profiles'] : ['profiles', checkId('profile id', id)]
    try {
      return resolveInside(root, ...parts)
    } catch (err) {
      if (err instanceof PathError) throw new ProfileError(`${parts.join('/')}: ${err.message}`)
      throw err
    }
  }

  /** A file of profiles/<id>/, checked to be inside that folder (a link to elsewhere is refused). */
  private file(id: string, name: string, root?: string): string {
    const dir = this.dir(id, root)
    try {
      return resolveInside(dir, name)
    } catch (err) {
      if (err instanceof PathError) throw new ProfileError(`${name} of profile '${id}' leads outside its folder ${dir}`)
      throw err
    }
  }

  private write(record: ProfileRecord, root?: string): void {
    writeFileAtomic(this.file(record.id, 'profile-run.json', root), JSON.stringify(record, null, 2) + '\n')
    this.events.emit('profile.status', { profile: record })
  }

  /** write() for a job under way: a record that cannot be written (a full disk) is still announced, never thrown. */
  private announce(record: ProfileRecord, root: string): void {
    try {
      this.write(record, root)
    } catch (err) {
      const failure = `${record.failure ? `${record.failure}; ` : ''}its record could not be written: ${(err as Error).message}`
      this.events.emit('profile.status', { profile: { ...record, failure } })
    }
  }

  /**
   * Profiles with a readable record, newest first; anything else in profiles/
   * is not a profile. A record left 'running' or 'queued' by an app that
   * stopped is shown as failed.
   */
  list(): ProfileRecord[] {
    let names: string[]
    try {
      const root = this.dir()
      const st = statEntry(root, fail)
      if (st === 'missing' || !st.isDirectory()) return []
      names = readdirSync(root)
    } catch {
      return []
    }
    const out: ProfileRecord[] = []
    for (const id of names.sort().reverse()) {
      try {
        const st = statEntry(this.dir(id), fail)
        if (st === 'missing' || !st.isDirectory()) continue
        const r = validateWith(ProfileRecordSchema, readJsonFile(this.file(id, 'profile-run.json'), { maxBytes: FILE_LIMITS.small, fail }))
        if (!r.ok || r.value.id !== id) continue
        const record = r.value as ProfileRecord
        const live = this.running.has(id) || this.queued.has(id)
        out.push(
          (record.status === 'running' || record.status === 'queued') && !live
            ? { ...record, status: 'failed', failure: `the app stopped while the profile was ${record.status}; start it again` }
            : record,
        )
      } catch {
        // a folder linked out, a FIFO, a broken record: not a profile
      }
    }
    return out
  }

  /** profile.json of a profile; an unknown id names the known ones. */
  result(id: string): ProfileResult {
    const dir = this.dir(id)
    const st = statEntry(dir, fail)
    if (st === 'missing' || !st.isDirectory()) {
      const known = this.list().map((p) => p.id)
      throw new ProfileError(`no profile '${id}' in ${this.dir()}; known: ${known.length ? clip(known.join(', '), 1000) : 'none'}`)
    }
    const path = this.file(id, 'profile.json')
    const json = readJsonFile(path, { maxBytes: FILE_LIMITS.large, limits: JSON_LIMITS.large, fail })
    if (json === undefined) {
      const record = this.list().find((p) => p.id === id)
      throw new ProfileError(
        `profile '${id}' has no result${record ? ` (it is ${record.status}${record.failure ? `: ${clip(record.failure, 300)}` : ''})` : ' (no readable profile-run.json either)'}`,
      )
    }
    const r = validateWith(ProfileResultSchema, json)
    if (!r.ok) throw new ProfileError(`${path} is not a profile Linea wrote:\n${clip(formatErrors(r.errors.slice(0, 10)), 1500)}`)
    return r.value as unknown as ProfileResult
  }

  /** Path of a report file of a profile, for the front door to serve or open: a regular file inside profiles/<id>/ only. */
  reportFile(id: string, kind: 'html' | 'pdf'): string {
    if (kind !== 'html' && kind !== 'pdf') throw new ProfileError(`report kind '${clip(String(kind), 40)}' is not valid; valid: html, pdf`)
    const path = this.file(id, `report.${kind}`)
    let st: ReturnType<typeof statEntry>
    try {
      st = statEntry(path, fail)
    } catch (err) {
      throw new ProfileError(`the ${kind} report of profile '${id}': ${(err as Error).message}`)
    }
    if (st === 'missing') throw new ProfileError(`profile '${id}' has no ${kind} report`)
    if (!st.isFile()) throw new ProfileError(`the ${kind} report of profile '${id}' (${path}) is a folder, not a file`)
    return path
  }

  /** Starts a profile (status 'running'), or queues it when every slot is taken (status 'queued'). */
  start(spec: ModelSpec, settings: Partial<ProfileSettings>, name = spec.name): ProfileRecord {
    const root = this.workspaces.workspace.root
    const full = { ...DEFAULT_PROFILE_SETTINGS, ...settings }
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
    let id = `${stamp}-${
      name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '')
        .slice(0, 40) || 'profile'
    }`
    for (let n = 2; statEntry(this.dir(id, root), fail) !== 'missing' || this.queued.has(id) || this.running.has(id); n++)
      id = `${id.replace(/-\d+$/, '')}-${n}`
    makeDir(this.dir(id, root))
    const record: ProfileRecord = { id, name, status: this.slots.free ? 'running' : 'queued', createdMs: Date.now(), settings: full }
    this.write(record, root)
    if (record.status === 'queued') this.queued.set(id, { record, root })
    this.slots.submit(SLOT + id, () => this.run(record, spec, root))
    return record
  }

  /** Cancels a profile: a queued one never starts, a running one's engine is stopped; both end 'failed' (cancelled). */
  cancel(id: string): ProfileRecord {
    checkId('profile id', id)
    const waiting = this.queued.get(id)
    if (waiting && this.slots.cancel(SLOT + id)) {
      this.queued.delete(id)
      const failed: ProfileRecord = { ...waiting.record, status: 'failed', endedMs: Date.now(), failure: 'cancelled before it started' }
      this.announce(failed, waiting.root)
      return failed
    }
    const running = this.running.get(id)
    if (running) {
      running.stopped = 'cancelled'
      running.engine.stop()
      return this.list().find((p) => p.id === id) ?? ({ id, name: id, status: 'running', createdMs: 0 } as ProfileRecord)
    }
    throw new ProfileError(
      `profile '${id}' is neither running nor queued; running: ${[...this.running.keys()].join(', ') || 'none'}, queued: ${[...this.queued.keys()].join(', ') || 'none'}`,
    )
  }

  /** Ids of queued profiles, in the order they will start. */
  queuedIds(): string[] {
    return this.slots.queuedKeys().flatMap((k) => (k.startsWith(SLOT) && this.queued.has(k.slice(SLOT.length)) ? [k.slice(SLOT.length)] : []))
  }

  /** Resolves when a profile is neither running nor queued (for tests and the CLI). */
  async wait(id: string): Promise<ProfileRecord> {
    while (this.running.has(id) || this.queued.has(id)) await new Promise((r) => setTimeout(r, 50))
    return this.list().find((p) => p.id === id)!
  }

  private async run(queuedRecord: ProfileRecord, spec: ModelSpec, root: string): Promise<void> {
    const id = queuedRecord.id
    this.queued.delete(id)
    const record: ProfileRecord = { ...queuedRecord, status: 'running' }
    const engine = new EngineProcess(this.launcher)
    const entry: { engine: EngineProcess; stopped?: string } = { engine }
    this.running.set(id, entry)
    if (queuedRecord.status === 'queued') this.announce(record, root)
    engine.onEvent((name, data) => {
      if (name === 'profile.progress') this.events.emit('profile.progress', { id, ...(data as { message: string; fraction: number }) })
    })
    // Training runs that share the machine with this profile, at its start or end: its times may be inflated.
    const competing = new Set<string>()
    const noteRun = () => {
      const running = this.workspaces.runner.runningId
      if (running) competing.add(running)
    }
    noteRun()
    try {
      const result = await engine.call('profile', { spec, settings: record.settings })
      noteRun()
      const warning = activeRunsWarning([...competing])
      if (warning) result.warnings = [...(result.warnings ?? []), warning]
      writeFileAtomic(this.file(id, 'profile.json', root), JSON.stringify(result, null, 1) + '\n')
      const html = buildReportHtml(result)
      writeFileAtomic(this.file(id, 'report.html', root), html)
      record.report = { html: 'report.html' }
      if (this.renderPdf) {
        try {
          await this.renderPdf(html, this.file(id, 'report.pdf', root))
          record.report.pdf = 'report.pdf'
        } catch (err) {
          record.report.pdfError = (err as Error).message
        }
      } else {
        record.report.pdfError = 'no PDF renderer in this mode'
      }
      this.announce({ ...record, status: 'done', endedMs: Date.now() }, root)
    } catch (err) {
      this.announce({ ...record, status: 'failed', endedMs: Date.now(), failure: entry.stopped ?? (err as Error).message }, root)
    } finally {
      engine.stop()
      this.running.delete(id)
    }
  }

  /** Drops the queue (those profiles end 'failed', never started) and stops the running engines. */
  stop(): void {
    for (const slotKey of this.slots.clear((k) => k.startsWith(SLOT) && this.queued.has(k.slice(SLOT.length)))) {
      const id = slotKey.slice(SLOT.length)
      const { record, root } = this.queued.get(id)!
      this.queued.delete(id)
      this.announce({ ...record, status: 'failed', endedMs: Date.now(), failure: 'stopped before it started' }, root)
    }
    for (const e of this.running.values()) {
      e.stopped = 'stopped: the app or its workspace closed'
      e.engine.stop()
    }
  }
}
