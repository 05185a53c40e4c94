// A workspace: a plain folder a person can read, copy and put in git.
//   workspace.json                 manifest with a format version
//   specs/<name>.json              model specs saved from the composer
//   runs/<id>/run.json             a run's record (atomic writes)
//   runs/<id>/metrics.jsonl        append-only metrics, one JSON object a line
//   runs/<id>/checkpoints/         safetensors checkpoints
//   .linea.lock                    the one process writing here
//   .trash/                        run folders being deleted (deleteRun), gone when it ends
// A bad file is reported with its path and its problem; the rest opens.
// Every file here is untrusted (files.ts): read only when it is a regular
// file inside the workspace (resolveInside), size-capped, schema-checked;
// ids and names are checked (checkId) before they become paths.
import { lstatSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { clip } from '../api/errors'
import { COMPOSER_DRAFT_FORMAT, COMPOSER_DRAFT_MAX_BYTES, ComposerDraftFileSchema, type ComposerDraft } from '../api/composer-draft'
import { ModelSpecSchema, type ModelSpec } from '../api/model-spec'
import { MAX_RUN_TAGS, RUN_FORMAT, type MetricsLine, type MetricsRead, type RunRecord } from '../api/runs'
import { formatErrors, SpecValidationError, validateWith } from '../api/validate'
import {
  appendRegularFile,
  errnoOf,
  FILE_LIMITS,
  isJsonObject,
  jsonKind,
  jsonShapeProblem,
  makeDir,
  readJsonFile,
  readRegularFile,
  statEntry,
  WorkspaceError,
  writeFileAtomic,
} from './files'
import { WorkspaceLock, WorkspaceLockedError } from './lock'
import { checkId, PathError, resolveInside } from './paths'
import { asMetricsLine, asRunRecord, MetricsLineSchema, RunRecordSchema } from './run-schema'
import { makeDirs } from '../platform/make-dirs'

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

/** A saved spec's name (as the LabApi's SpecName): it becomes specs/<name>.json. */
const SPEC_NAME = /^[A-Za-z0-9][A-Za-z0-9 _-]{0,99}$/

export function checkSpecName(name: unknown): string {
  if (typeof name !== 'string' || !SPEC_NAME.test(name))
    throw new WorkspaceError(
      `spec name ${typeof name === 'string' ? `'${clip(name, 80)}'` : String(name)} is not a valid spec name: letters, digits, spaces, - and _ only, starting with a letter or digit, at most 100 characters`,
    )
  return name
}

/** A manifest value for messages: a string clipped and quoted, anything else by kind. */
const shown = (v: unknown) => (v === undefined ? 'missing' : typeof v === 'string' ? `'${clip(v, 60)}'` : jsonKind(v))

/** LINEA_WORKSPACE, else ~/Linea/workspace. */
export function defaultWorkspacePath(): string {
  return process.env.LINEA_WORKSPACE ?? join(homedir(), 'Linea', 'workspace')
}

export class Workspace {
  readonly root: string
  readonly manifest: Manifest
  /** Files found broken when opening (the rest of the workspace still opened). */
  readonly problems: WorkspaceProblem[] = []
  private readonly lock: WorkspaceLock | undefined
  /** Why a workspace asked for writing is open read-only (its lock or folders could not be written), if it is. */
  private readonly readOnlyReason: string | undefined

  /**
   * Opens (creating if needed) the workspace at `root` and takes its lock.
   * With `lock` false it is opened read-only for listing (e.g. `linea runs`).
   * A workspace that cannot be written (a full or read-only disk, a file
   * where a folder belongs) still opens, read-only, with the reason in
   * `problems`; one locked by another process, or whose manifest is not a
   * workspace's, is refused.
   */
  static open(root: string, options: { lock?: boolean; app?: string; name?: string } = {}): Workspace {
    return new Workspace(root, options.lock ?? true, options.app ?? 'linea', options.name)
  }

  private constructor(root: string, lock: boolean, app: string, name?: string) {
    this.root = resolve(root)
    try {
      makeDirs(this.root)
    } catch (err) {
      throw new WorkspaceError(`cannot create the workspace folder ${this.root}: ${errnoOf(err)}`, this.root)
    }
    const rootKind = statEntry(this.root)
    if (rootKind === 'missing' || !rootKind.isDirectory()) throw new WorkspaceError(`${this.root} is not a folder`, this.root)
    const manifestPath = this.path('workspace.json')
    const json = readJsonFile(manifestPath, { maxBytes: FILE_LIMITS.small })
    const fallbackName = name ?? this.root.split(/[\\/]/).pop() ?? 'workspace'
    if (json !== undefined) {
      if (!isJsonObject(json))
        throw new WorkspaceError(
          `${manifestPath} is not a workspace manifest: it holds ${jsonKind(json)}; expected an object with format '${WORKSPACE_FORMAT}', name and createdMs`,
          manifestPath,
        )
      if (json.format !== WORKSPACE_FORMAT)
        throw new WorkspaceError(
          `${manifestPath} has format ${shown(json.format)}; this Linea reads '${WORKSPACE_FORMAT}' (a newer Linea wrote it, or it is not a workspace)`,
          manifestPath,
        )
      // A bad name or date is no reason not to open: the folder's name stands in, and it is reported.
      const okName = typeof json.name === 'string' && json.name.length > 0 && json.name.length <= 200
      const okCreated = typeof json.createdMs === 'number' && Number.isFinite(json.createdMs)
      if (!okName)
        this.problems.push({ file: manifestPath, problem: `name is ${shown(json.name)}; expected a text of 1 to 200 characters (the folder's name is used)` })
      else if (!okCreated) this.problems.push({ file: manifestPath, problem: `createdMs is ${shown(json.createdMs)}; expected a time in milliseconds` })
      this.manifest = {
        format: WORKSPACE_FORMAT,
        name: okName ? (json.name as string) : fallbackName,
        createdMs: okCreated ? (json.createdMs as number) : 0,
      }
    } else {
      this.manifest = { format: WORKSPACE_FORMAT, name: fallbackName, createdMs: Date.now() }
    }
    let readOnly: string | undefined
    const cannot = (err: unknown, fallback: string) => {
      const problem = { file: (err as WorkspaceError).file ?? fallback, problem: errorText(err) }
      this.problems.push(problem)
      readOnly ??= problem.problem
    }
    if (lock) {
      try {
        if (json === undefined) writeFileAtomic(manifestPath, JSON.stringify(this.manifest, null, 2) + '\n')
      } catch (err) {
        cannot(err, manifestPath)
      }
    }
    // Another writer is a refusal; a lock that cannot be written (full disk, a FIFO at its name) opens read-only.
    let taken: WorkspaceLock | undefined
    if (lock && readOnly === undefined)
      try {
        taken = WorkspaceLock.acquire(this.root, app)
      } catch (err) {
        if (err instanceof WorkspaceLockedError) throw err
        cannot(err, join(this.root, '.linea.lock'))
      }
    this.lock = taken
    if (taken)
      for (const dir of ['specs', 'runs'])
        try {
          makeDir(this.path(dir))
        } catch (err) {
          // runs/ or specs/ as a file: the rest still opens (listing reports it too)
          this.problems.push({ file: (err as WorkspaceError).file ?? join(this.root, dir), problem: errorText(err) })
        }
    this.readOnlyReason = readOnly
  }

  close(): void {
    this.lock?.release()
  }

  private writable(): void {
    if (!this.lock) throw new WorkspaceError(`workspace ${this.root} was opened read-only${this.readOnlyReason ? ` (${this.readOnlyReason})` : ''}`)
  }

  /** A path inside the workspace (resolveInside), or a WorkspaceError naming it. */
  private path(...parts: string[]): string {
    try {
      return resolveInside(this.root, ...parts)
    } catch (err) {
      if (err instanceof PathError) {
        const full = join(this.root, ...parts)
        throw new WorkspaceError(`${full} is not followed: ${err.message}`, full)
      }
      throw err
    }
  }

  // ---- specs ----------------------------------------------------------------

  get specsDir(): string {
    return join(this.root, 'specs')
  }

  /** specs/<name>.json, the name checked and the path kept inside the workspace. */
  specPath(name: string): string {
    return this.path('specs', `${checkSpecName(name)}.json`)
  }

  /** Saved specs: regular files with a valid name, inside the workspace (links out, FIFOs, folders are not specs). */
  listSpecs(): { name: string; modifiedMs: number }[] {
    let dir: string
    let names: string[]
    try {
      dir = this.path('specs')
      const st = statEntry(dir)
      if (st === 'missing' || !st.isDirectory()) return []
      names = readdirSync(dir)
    } catch {
      return []
    }
    const out: { name: string; modifiedMs: number }[] = []
    for (const f of names) {
      if (!f.endsWith('.json')) continue
      const name = f.slice(0, -'.json'.length)
      if (!SPEC_NAME.test(name)) continue
      try {
        const st = statEntry(this.path('specs', f))
        if (st !== 'missing' && st.isFile()) out.push({ name, modifiedMs: st.mtimeMs })
      } catch {
        // a link out or a FIFO: not a spec
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
  }

  // ---- the composer's draft ------------------------------------------------------

  get composerDraftPath(): string {
    return join(this.root, 'drafts', 'composer.json')
  }

  /** Writes the composer's unsaved state (drafts/composer.json), atomically. */
  saveComposerDraft(draft: Omit<ComposerDraft, 'savedMs'>): { savedMs: number } {
    this.writable()
    const savedMs = Date.now()
    const text = JSON.stringify({ format: COMPOSER_DRAFT_FORMAT, ...draft, savedMs }) + '\n'
    if (text.length > COMPOSER_DRAFT_MAX_BYTES)
      throw new WorkspaceError(`the composer draft is ${text.length} bytes; at most ${COMPOSER_DRAFT_MAX_BYTES} are kept`)
    makeDir(this.path('drafts'))
    writeFileAtomic(this.composerDraftPath, text)
    return { savedMs }
  }

  /** The composer's draft, or null when there is none or it is not a draft (reported in problems, then ignored). */
  loadComposerDraft(): ComposerDraft | null {
    const path = this.composerDraftPath
    const json = readJsonFile(path, { maxBytes: COMPOSER_DRAFT_MAX_BYTES })
    if (json === undefined) return null
    const r = validateWith(ComposerDraftFileSchema, json)
    if (!r.ok) {
      this.problems.push({ file: path, problem: `not a composer draft (ignored): ${formatErrors(r.errors)}` })
      return null
    }
    const { spec, presetId, savedName, savedMs } = r.value
    return { spec, presetId, savedName, savedMs }
  }

  /** Validates, then writes atomically; the file is the spec exactly as given. */
  saveSpec(name: string, spec: unknown): { name: string; modifiedMs: number } {
    this.writable()
    const r = validateWith(ModelSpecSchema, spec)
    if (!r.ok) throw new SpecValidationError('model spec (not saved)', r.errors)
    const path = this.specPath(name)
    makeDir(this.path('specs'))
    writeFileAtomic(path, JSON.stringify(spec, null, 2) + '\n')
    const st = statEntry(path)
    return { name, modifiedMs: st === 'missing' ? Date.now() : st.mtimeMs }
  }

  loadSpec(name: string): ModelSpec {
    const path = this.specPath(name)
    const json = readJsonFile(path, { maxBytes: FILE_LIMITS.record })
    if (json === undefined) {
      const known = this.listSpecs().map((s) => s.name)
      throw new WorkspaceError(`no spec named '${name}' in ${this.specsDir}; saved: ${known.join(', ') || 'none'}`)
    }
    const r = validateWith(ModelSpecSchema, json)
    if (!r.ok) throw new WorkspaceError(`${path} is not a valid ModelSpec:\n${formatErrors(r.errors)}`, path)
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

  /** exports/<run id>-step-<N>: where exportRun writes a run's PyTorch folder (created by the export). */
  exportDir(id: string, step: number): string {
    this.writable()
    return resolveInside(this.root, 'exports', `${checkId('run id', id)}-step-${Math.max(0, Math.floor(step))}`)
  }

  /**
   * exports/<spec name>-<UTC time>: a new folder name for the composer's
   * export of a design (the name made a slug, as run ids are; -2, -3, ...
   * when taken), checked to stay inside the workspace. Not created here.
   */
  designExportDir(specName: string, nowMs = Date.now()): string {
    this.writable()
    const base = `${slugOf(specName, 'model')}-${compactTime(nowMs)}`
    let name = base
    for (let n = 2; lexists(resolveInside(this.root, 'exports', checkId('export name', name))); n++) name = `${base}-${n}`
    return resolveInside(this.root, 'exports', name)
  }

  checkpointsDir(id: string): string {
    return resolveInside(this.root, 'runs', checkId('run id', id), 'checkpoints')
  }

  /** A new run folder with its record; ids sort by creation time. */
  createRun(fields: Omit<RunRecord, 'format' | 'id' | 'status' | 'createdMs' | 'steps'>): RunRecord {
    this.writable()
    const now = Date.now()
    let id = `${compactTime(now)}-${slugOf(fields.name, 'run')}`
    for (let n = 2; lexists(this.runDir(id)); n++) id = `${id.replace(/-\d+$/, '')}-${n}`
    makeDir(this.checkpointsDir(id))
    const run: RunRecord = { format: RUN_FORMAT, id, status: 'queued', createdMs: now, steps: 0, ...fields }
    writeFileAtomic(this.path('runs', id, 'run.json'), JSON.stringify(run, null, 2) + '\n')
    appendRegularFile(this.path('runs', id, 'metrics.jsonl'), '')
    return run
  }

  /** runs/<id>/run.json, checked against the RunRecord schema; its id is the folder's. */
  readRun(id: string): RunRecord {
    const runId = checkId('run id', id)
    const dir = this.path('runs', runId)
    const path = this.path('runs', runId, 'run.json')
    const st = statEntry(dir)
    if (st === 'missing') throw new WorkspaceError(`no run '${runId}' in ${this.runsDir}`)
    if (!st.isDirectory()) throw new WorkspaceError(`${dir} is not a run folder`, dir)
    const json = readJsonFile(path, { maxBytes: FILE_LIMITS.record })
    if (json === undefined) throw new WorkspaceError(`run folder ${dir} has no run.json`, path)
    if (!isJsonObject(json))
      throw new WorkspaceError(`${path} is not a run record: it holds ${jsonKind(json)}; expected an object with format '${RUN_FORMAT}'`, path)
    if (json.format !== RUN_FORMAT) throw new WorkspaceError(`${path} has format ${shown(json.format)}; this Linea reads '${RUN_FORMAT}'`, path)
    const r = validateWith(RunRecordSchema, json)
    if (!r.ok) throw new WorkspaceError(`${path} is not a valid run record:\n${clip(formatErrors(r.errors.slice(0, 10)), 1500)}`, path)
    return asRunRecord({ ...r.value, id: runId })
  }

  updateRun(id: string, patch: Partial<RunRecord>): RunRecord {
    this.writable()
    const run = { ...this.readRun(id), ...patch, id, format: RUN_FORMAT } as RunRecord
    writeFileAtomic(this.path('runs', id, 'run.json'), JSON.stringify(run, null, 2) + '\n')
    return run
  }

  /** Marks a run archived (hidden from the Runs table's default view) or not; the folder stays as it is. */
  setRunArchived(id: string, archived: boolean): RunRecord {
    return this.updateRun(id, { archived: archived || undefined })
  }

  /**
   * Adds and removes tags (each already checked against RUN_TAG by the
   * LabApi schema), in that order; a tag already there is not added twice.
   * Refused past MAX_RUN_TAGS, naming the run and its tags.
   */
  tagRun(id: string, add: readonly string[], remove: readonly string[]): RunRecord {
    const run = this.readRun(id)
    const tags = [...new Set([...(run.tags ?? []), ...add])].filter((t) => !remove.includes(t))
    if (tags.length > MAX_RUN_TAGS)
      throw new WorkspaceError(
        `run ${run.id} would have ${tags.length} tags; at most ${MAX_RUN_TAGS} (it has: ${(run.tags ?? []).map((t) => `'${clip(t, 40)}'`).join(', ') || 'none'})`,
      )
    return this.updateRun(id, { tags: tags.length ? tags : undefined })
  }

  /**
   * Removes runs/<id> and everything in it. The folder is first renamed into
   * .trash/ (one atomic step: it leaves the listing whole, never half
   * deleted), then removed; a link at runs/<id> is removed, never followed.
   * A broken run (no readable record) can be deleted too. Whether the run
   * may go (not training, not queued) is the caller's to check.
   */
  deleteRun(id: string): void {
    this.writable()
    const runId = checkId('run id', id)
    // runs/ itself must stay inside the workspace; runs/<id> is not followed (a link there is what goes)
    const dir = join(this.path('runs'), runId)
    let st: ReturnType<typeof lstatSync>
    try {
      st = lstatSync(dir)
    } catch {
      throw new WorkspaceError(`no run '${runId}' in ${this.runsDir}`)
    }
    if (!st.isDirectory() && !st.isSymbolicLink()) throw new WorkspaceError(`${dir} is not a run folder`, dir)
    const trash = this.path('.trash')
    makeDir(trash)
    const target = join(trash, `${runId}-${Date.now()}`)
    try {
      renameSync(dir, target)
    } catch (err) {
      throw new WorkspaceError(`cannot delete run ${runId}: renaming ${dir} failed: ${errnoOf(err)}`, dir)
    }
    try {
      rmSync(target, { recursive: true, force: true })
    } catch (err) {
      throw new WorkspaceError(`run ${runId} is deleted from the runs, but its files in ${target} could not all be removed: ${errnoOf(err)}`, target)
    }
  }

  /**
   * Every readable run, newest first; unreadable ones go to `problems`: a
   * broken record, a folder linked out of the workspace (not followed), a
   * dangling link, a name that is not a run id. Stray files are not runs.
   */
  listRuns(): { runs: RunRecord[]; problems: WorkspaceProblem[] } {
    const runs: RunRecord[] = []
    const problems: WorkspaceProblem[] = []
    let names: string[]
    try {
      const st = statEntry(this.path('runs'))
      if (st === 'missing') return { runs, problems }
      if (!st.isDirectory()) throw new WorkspaceError(`${this.runsDir} is not a folder; runs live in runs/<id>/`, this.runsDir)
      names = readdirSync(this.runsDir)
    } catch (err) {
      problems.push({ file: (err as WorkspaceError).file ?? this.runsDir, problem: errorText(err) })
      return { runs, problems }
    }
    for (const name of names.sort()) {
      const entry = join(this.runsDir, name)
      try {
        const lst = lstatSync(entry)
        if (!lst.isDirectory() && !lst.isSymbolicLink()) continue
        runs.push(this.readRun(name))
      } catch (err) {
        problems.push({ file: (err as WorkspaceError).file ?? entry, problem: errorText(err) })
      }
    }
    return { runs: runs.reverse(), problems }
  }

  /**
   * Appends one line; a crash mid-write loses at most that line. Never through
   * a link, into a FIFO or a folder: those, and a full disk, are a
   * WorkspaceError naming the file and the errno (the runner fails the run).
   */
  appendMetrics(id: string, line: MetricsLine): void {
    this.writable()
    appendRegularFile(this.path('runs', checkId('run id', id), 'metrics.jsonl'), JSON.stringify(line) + '\n')
  }

  /**
   * Every complete line; lines that do not parse (a write cut short) or are
   * not metrics records are skipped and reported by line number, without
   * quoting them.
   */
  readMetrics(id: string): MetricsRead {
    const path = this.path('runs', checkId('run id', id), 'metrics.jsonl')
    const bytes = readRegularFile(path, FILE_LIMITS.large)
    if (bytes === undefined) throw new WorkspaceError(`no metrics for run '${id}' (${path})`, path)
    const lines: MetricsLine[] = []
    const skipped: MetricsRead['skipped'] = []
    bytes
      .toString('utf8')
      .split('\n')
      .forEach((raw, i) => {
        if (!raw.trim()) return
        const at = `${path}:${i + 1}`
        let value: unknown
        try {
          value = JSON.parse(raw)
        } catch {
          skipped.push({ line: i + 1, reason: `${at}: not valid JSON (a line cut short, or not written by Linea)` })
          return
        }
        const problem = jsonShapeProblem(value)
        if (problem) return skipped.push({ line: i + 1, reason: `${at}: ${problem}` })
        if (!isJsonObject(value) || typeof value.type !== 'string')
          return skipped.push({ line: i + 1, reason: `${at}: ${jsonKind(value)}, not a metrics record (an object with a type)` })
        const r = validateWith(MetricsLineSchema, value)
        if (!r.ok) return skipped.push({ line: i + 1, reason: `${at}: not a metrics record: ${clip(formatErrors(r.errors.slice(0, 3)), 300)}` })
        lines.push(asMetricsLine(r.value))
      })
    return { lines, skipped }
  }
}

/** A name as a folder-name part: lower-case letters and digits joined by '-', at most 40 characters (`fallback` when none are left). */
function slugOf(name: string, fallback: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || fallback
  )
}

/** A time as folder names sort it: 20250101T120000 (UTC, seconds). */
function compactTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')
}

/** Whether anything (a dangling link included) is at `path`. */
function lexists(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

/** An error's message for a problems list. */
function errorText(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
