// Profiles as jobs: each runs in its own engine process, streams progress,
// and leaves in the workspace profiles/<id>/{profile-run.json, profile.json,
// report.html, report.pdf}. The PDF renderer is the front door's: headless
// Chromium in headless mode, printToPDF in the desktop app.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ProfileRecord } from '../api/labapi'
import type { ModelSpec } from '../api/model-spec'
import type { ProfileResult, ProfileSettings } from '../api/profile'
import { EngineProcess, type EngineLauncher } from '../jobs/engine-process'
import { buildReportHtml } from '../reports/report-html'
import { writeFileAtomic } from '../workspace/workspace'
import type { LabEventBus } from './events'
import type { WorkspaceService } from './workspace-service'

export type { ProfileRecord }

export type PdfRenderer = (html: string, outPath: string) => Promise<void>

export const DEFAULT_PROFILE_SETTINGS: ProfileSettings = {
  batchSize: 4,
  seqLen: 512,
  dtype: 'f32',
  warmup: 1,
  repeats: 3,
  sweepLengths: [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536],
  sweepBudgetSeconds: 120,
  sweepMemoryLimitBytes: 8 * 2 ** 30,
}

export class ProfileService {
  private readonly running = new Map<string, EngineProcess>()

  constructor(
    private readonly workspaces: WorkspaceService,
    private readonly launcher: EngineLauncher,
    private readonly events: LabEventBus,
    private readonly renderPdf: PdfRenderer | undefined,
  ) {}

  private dir(id?: string): string {
    const root = join(this.workspaces.workspace.root, 'profiles')
    return id ? join(root, id) : root
  }

  private write(record: ProfileRecord): void {
    writeFileAtomic(join(this.dir(record.id), 'profile-run.json'), JSON.stringify(record, null, 2) + '\n')
    this.events.emit('profile.status', { profile: record })
  }

  list(): ProfileRecord[] {
    if (!existsSync(this.dir())) return []
    const out: ProfileRecord[] = []
    for (const id of readdirSync(this.dir()).sort().reverse()) {
      try {
        out.push(JSON.parse(readFileSync(join(this.dir(id), 'profile-run.json'), 'utf8')))
      } catch {
        // a folder without a readable record is not a profile
      }
    }
    return out
  }

  result(id: string): ProfileResult {
    const path = join(this.dir(id), 'profile.json')
    if (!existsSync(path)) throw new Error(`profile '${id}' has no result (yet): ${path}`)
    return JSON.parse(readFileSync(path, 'utf8')) as ProfileResult
  }

  /** Path of a report file of a profile, for the front door to serve or open. */
  reportFile(id: string, kind: 'html' | 'pdf'): string {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new Error(`'${id}' is not a profile id`)
    const path = join(this.dir(id), `report.${kind}`)
    if (!existsSync(path)) throw new Error(`profile '${id}' has no ${kind} report`)
    return path
  }

  start(spec: ModelSpec, settings: Partial<ProfileSettings>, name = spec.name): ProfileRecord {
    const full = { ...DEFAULT_PROFILE_SETTINGS, ...settings }
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
    let id = `${stamp}-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'profile'}`
    for (let n = 2; existsSync(this.dir(id)); n++) id = `${id.replace(/-\d+$/, '')}-${n}`
    mkdirSync(this.dir(id), { recursive: true })
    const record: ProfileRecord = { id, name, status: 'running', createdMs: Date.now(), settings: full }
    this.write(record)
    void this.run(record, spec)
    return record
  }

  /** Resolves when a profile is no longer running (for tests and the CLI). */
  async wait(id: string): Promise<ProfileRecord> {
    while (this.running.has(id)) await new Promise((r) => setTimeout(r, 50))
    return this.list().find((p) => p.id === id)!
  }

  private async run(record: ProfileRecord, spec: ModelSpec): Promise<void> {
    const engine = new EngineProcess(this.launcher)
    this.running.set(record.id, engine)
    engine.onEvent((name, data) => {
      if (name === 'profile.progress') this.events.emit('profile.progress', { id: record.id, ...(data as { message: string; fraction: number }) })
    })
    try {
      const result = await engine.call('profile', { spec, settings: record.settings })
      const dir = this.dir(record.id)
      writeFileSync(join(dir, 'profile.json'), JSON.stringify(result, null, 1) + '\n')
      const html = buildReportHtml(result)
      writeFileAtomic(join(dir, 'report.html'), html)
      record.report = { html: 'report.html' }
      if (this.renderPdf) {
        try {
          await this.renderPdf(html, join(dir, 'report.pdf'))
          record.report.pdf = 'report.pdf'
        } catch (err) {
          record.report.pdfError = (err as Error).message
        }
      } else {
        record.report.pdfError = 'no PDF renderer in this mode'
      }
      this.write({ ...record, status: 'done', endedMs: Date.now() })
    } catch (err) {
      this.write({ ...record, status: 'failed', endedMs: Date.now(), failure: (err as Error).message })
    } finally {
      engine.stop()
      this.running.delete(record.id)
    }
  }

  stop(): void {
    for (const e of this.running.values()) e.stop()
  }
}
