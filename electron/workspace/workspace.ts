// A workspace: a plain folder a person can read, copy and put in git.
// This first part holds model specs (specs/<name>.json); runs, metrics and
// checkpoints join it later. Writes are atomic (temp file + rename), reads
// validate, and a bad file names itself and what is wrong with it.
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { ModelSpecSchema, type ModelSpec } from '../api/model-spec'
import { formatErrors, validateWith, SpecValidationError } from '../api/validate'

export class WorkspaceError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WorkspaceError'
  }
}

/** LINEA_WORKSPACE, else ~/Linea/workspace. */
export function defaultWorkspacePath(): string {
  return process.env.LINEA_WORKSPACE ?? join(homedir(), 'Linea', 'workspace')
}

export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, text)
  renameSync(tmp, path)
}

export class Workspace {
  readonly root: string

  constructor(root: string) {
    this.root = resolve(root)
    try {
      mkdirSync(this.specsDir, { recursive: true })
    } catch (err) {
      throw new WorkspaceError(`cannot create the workspace folder ${this.root}: ${(err as Error).message}`)
    }
  }

  get specsDir(): string {
    return join(this.root, 'specs')
  }

  specPath(name: string): string {
    return join(this.specsDir, `${name}.json`)
  }

  listSpecs(): { name: string; modifiedMs: number }[] {
    return readdirSync(this.specsDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ name: f.slice(0, -'.json'.length), modifiedMs: statSync(join(this.specsDir, f)).mtimeMs }))
      .sort((a, b) => a.name.localeCompare(b.name))
  }

  /** Validates, then writes atomically; the file is the spec exactly as given. */
  saveSpec(name: string, spec: unknown): { name: string; modifiedMs: number } {
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
}
