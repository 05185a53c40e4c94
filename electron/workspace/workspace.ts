// A workspace: a plain folder a person can read, copy and put in git.
//   workspace.json                 manifest with a format version
//   specs/<name>.json              model specs saved from the composer
//   runs/<id>/run.json             a run's record (atomic writes)
//   runs/<id>/metrics.jsonl        append-only metrics, one JSON object a line
//   runs/<id>/checkpoints/         safetensors checkpoints
//   .linea.lock                    the one process writing here
// A bad file is reported with its path and its problem; the rest opens.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { ModelSpecSchema, type ModelSpec } from '../api/model-spec'
import { RUN_FORMAT, type MetricsLine, type MetricsRead, type RunRecord } from '../api/runs'
import { formatErrors, SpecValidationError, validateWith } from '../api/validate'
import { WorkspaceError } from './files'
import { WorkspaceLock } from './lock'
import { checkId, resolveInside } from './paths'

export { WorkspaceError }

export const WORKSPACE_FORMAT = 'linea.workspace/1'

export interface Manifest {
  format: typeof WORKSPACE_FORMAT
  name: string
  createdMs: number
}

export interface WorkspaceProblem {
  file: string
  problem: string
}

/** LINEA_WORKSPACE, else ~/Linea/workspace. */
export function defaultWorkspacePath(): string {
  return process.env.LINEA_WORKSPACE ?? join(homedir(), 'Linea', 'workspace')
}

/** Writes through a temp file and a rename, so a reader never sees half a file. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, text)
  renameSync(tmp, path)
}

export class Workspace {
  readonly root: string
  readonly manifest: Manifest
  /** Files found broken when opening (the rest of the workspace still opened). */
  readonly problems: WorkspaceProblem[] = []
  private readonly lock: WorkspaceLock | undefined

  /**
   * Opens (creating if needed) the workspace at `root` and takes its lock.
   * With `lock` false it is opened read-only for listing (e.g. `linea runs`).
   */
  static open(root: string, options: { lock?: boolean; app?: string; name?: string } = {}): Workspace {
    return new Workspace(root, options.lock ?? true, options.app ?? 'linea', options.name)
  }

  private constructor(root: string, lock: boolean, app: string, name?: string) {
    this.root = resolve(root)
    try {
      mkdirSync(this.root, { recursive: true })
    } catch (err) {
      throw new WorkspaceError(`cannot create the workspace folder ${this.root}: ${(err as Error).message}`)
    }
    const manifestPath = join(this.root, 'workspace.json')
    if (existsSync(manifestPath)) {
      let json: Partial<Manifest>
      try {
        json = JSON.parse(readFileSync(manifestPath, 'utf8'))
      } catch (err) {
        throw new WorkspaceError(`${manifestPath} is not valid JSON: ${(err as Error).message}`)
      }
      if (json.format !== WORKSPACE_FORMAT)
        throw new WorkspaceError(
          `${manifestPath} has format ${json.format === undefined ? 'missing' : `'${json.format}'`}; this Linea reads '${WORKSPACE_FORMAT}' (a newer Linea wrote it, or it is not a workspace)`,
        )
      this.manifest = json as Manifest
    } else {
      this.manifest = { format: WORKSPACE_FORMAT, name: name ?? this.root.split(/[\\/]/).pop() ?? 'workspace', createdMs: Date.now() }
      if (lock) writeFileAtomic(manifestPath, JSON.stringify(this.manifest, null, 2) + '\n')
    }
    this.lock = lock ? WorkspaceLock.acquire(this.root, app) : undefined
    if (lock) {
      mkdirSync(this.specsDir, { recursive: true })
      mkdirSync(this.runsDir, { recursive: true })
    }
  }

  close(): void {
    this.lock?.release()
  }

  private writable(): void {
    if (!this.lock) throw new WorkspaceError(`workspace ${this.root} was opened read-only`)
  }

  // ---- specs ----------------------------------------------------------------

  get specsDir(): string {
    return join(this.root, 'specs')
  }

  specPath(name: string): string {
    return join(this.specsDir, `${name}.json`)
  }

  listSpecs(): { name: string; modifiedMs: number }[] {
    if (!existsSync(this.specsDir)) return []
    return readdirSync(this.specsDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ name: f.slice(0, -'.json'.length), modifiedMs: statSync(join(this.specsDir, f)).mtimeMs }))
      .sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Validates, then writes atomically; the file is the spec exactly as given. */
  saveSpec(name: string, spec: unknown): { name: string; modifiedMs: number } {
    this.writable()
    const r = validateWith(ModelSpecSchema, spec)
    if (!r.ok) throw new SpecValidationError('model spec (not saved)', r.errors)
    const path = this.specPath(name)
    writeFileAtomic(path, JSON.stringify(spec, null, 2) + '\n')
    return { name, modifiedMs: statSync(path).mtimeMs }
  }

  loadSpec(name: string): ModelSpec {
    const path = this.specPath(name)
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      const known = this.listSpecs().map((s) => s.name)
      throw new WorkspaceError(`no spec named '${name}' in ${this.specsDir}; saved: ${known.join(', ') || 'none'}`)
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw new WorkspaceError(`${path} is not valid JSON: ${(err as Error).message}`)
    }
    const r = validateWith(ModelSpecSchema, json)
    if (!r.ok) throw new WorkspaceError(`${path} is not a valid ModelSpec:\n${formatErrors(r.errors)}`)
    return r.value
  }

  // ---- runs -----------------------------------------------------------------

  get runsDir(): string {
    return join(this.root, 'runs')
  }

  /** runs/<id>: the id checked (checkId), the path checked to stay inside the workspace (resolveInside). */
  runDir(id: string): string {
    return resolveInside(this.root, 'runs', checkId('run id', id))
  }

  checkpointsDir(id: string): string {
    return resolveInside(this.root, 'runs', checkId('run id', id), 'checkpoints')
  }

  /** A new run folder with its record; ids sort by creation time. */
  createRun(fields: Omit<RunRecord, 'format' | 'id' | 'status' | 'createdMs' | 'steps'>): RunRecord {
    this.writable()
    const now = Date.now()
    const slug = fields.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run'
    let id = `${new Date(now).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${slug}`
    for (let n = 2; existsSync(this.runDir(id)); n++) id = `${id.replace(/-\d+$/, '')}-${n}`
    mkdirSync(this.checkpointsDir(id), { recursive: true })
    const run: RunRecord = { format: RUN_FORMAT, id, status: 'queued', createdMs: now, steps: 0, ...fields }
    writeFileAtomic(join(this.runDir(id), 'run.json'), JSON.stringify(run, null, 2) + '\n')
    writeFileSync(join(this.runDir(id), 'metrics.jsonl'), '')
    return run
  }

  readRun(id: string): RunRecord {
    const path = join(this.runDir(id), 'run.json')
    let json: Partial<RunRecord>
    try {
      json = JSON.parse(readFileSync(path, 'utf8'))
    } catch (err) {
      throw new WorkspaceError(
        existsSync(path) ? `${path} is not valid JSON: ${(err as Error).message}` : `no run '${id}' in ${this.runsDir}`,
      )
    }
    if (json.format !== RUN_FORMAT)
      throw new WorkspaceError(`${path} has format ${json.format === undefined ? 'missing' : `'${json.format}'`}; this Linea reads '${RUN_FORMAT}'`)
    return json as RunRecord
  }

  updateRun(id: string, patch: Partial<RunRecord>): RunRecord {
    this.writable()
    const run = { ...this.readRun(id), ...patch, id, format: RUN_FORMAT } as RunRecord
    writeFileAtomic(join(this.runDir(id), 'run.json'), JSON.stringify(run, null, 2) + '\n')
    return run
  }

  /** Every readable run, newest first; unreadable ones go to `problems`. */
  listRuns(): { runs: RunRecord[]; problems: WorkspaceProblem[] } {
    const runs: RunRecord[] = []
    const problems: WorkspaceProblem[] = []
    if (!existsSync(this.runsDir)) return { runs, problems }
    for (const id of readdirSync(this.runsDir).sort()) {
      try {
        if (!statSync(this.runDir(id)).isDirectory()) continue
        runs.push(this.readRun(id))
      } catch (err) {
        problems.push({ file: join(this.runsDir, id, 'run.json'), problem: (err as Error).message })
      }
    }
    return { runs: runs.reverse(), problems }
  }

  /** Appends one line; a crash mid-write loses at most that line. */
  appendMetrics(id: string, line: MetricsLine): void {
    this.writable()
    appendFileSync(join(this.runDir(id), 'metrics.jsonl'), JSON.stringify(line) + '\n')
  }

  /** Every complete line; lines that do not parse (a write cut short) are skipped and reported. */
  readMetrics(id: string): MetricsRead {
    const path = join(this.runDir(id), 'metrics.jsonl')
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch {
      throw new WorkspaceError(`no metrics for run '${id}' (${path})`)
    }
    const lines: MetricsLine[] = []
    const skipped: MetricsRead['skipped'] = []
    text.split('\n').forEach((raw, i) => {
      if (!raw.trim()) return
      try {
        const value = JSON.parse(raw) as MetricsLine
        if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') throw new Error('not a metrics record')
        lines.push(value)
      } catch (err) {
        skipped.push({ line: i + 1, reason: `${path}:${i + 1}: ${(err as Error).message}` })
      }
    })
    return { lines, skipped }
  }
}
